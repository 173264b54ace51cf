"""Retries: ``do_retry``, ``max_retries``, backoff and dead letters, end to end.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

import pytest

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff, ExponentialBackoff
from alsek.core.task import Task
from alsek.effects.clock import ManualClock
from alsek.effects.execution import run_message
from alsek.storage.result import ResultStore
from tests.support.tasks_helpers import (
    claim_next,
    queued,
    run_one,
    run_ready,
)


def test_do_retry_decides_by_exception_type(broker: Broker) -> None:
    asked: list[tuple[str, str]] = []

    class Picky(Task):
        def do_retry(self, message: Message, exception: BaseException) -> bool:
            asked.append((message.uuid, type(exception).__name__))
            if isinstance(exception, ZeroDivisionError):
                return False
            return super().do_retry(message, exception)

    @task(broker, base_task=Picky, max_retries=5, backoff=None)
    def tt_divide(a: int, b: int) -> float:
        return a / b

    @task(broker, base_task=Picky, max_retries=5, backoff=None)
    def tt_parse(text: str) -> int:
        return int(text)

    zero = tt_divide.generate(args=(1, 0))
    run_one(broker)
    assert asked == [(zero.uuid, "ZeroDivisionError")]
    (record,) = broker.dead_letters()
    assert record.uuid == zero.uuid and "ZeroDivisionError" in record.reason
    assert not broker.exists(zero)

    bad = tt_parse.generate(args=("x",))
    run_one(broker)
    assert asked[-1] == (bad.uuid, "ValueError")
    assert broker.sync(bad).retries == 1  # retried, not dead
    assert [r.uuid for r in broker.dead_letters()] == [zero.uuid]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_default_do_retry_allows_max_retries(broker: Broker, max_retries: int) -> None:
    runs: list[int] = []

    @task(broker, max_retries=max_retries, backoff=None)
    def tt_always_fails() -> None:
        runs.append(1)
        raise ValueError("nope")

    message = tt_always_fails.generate()
    run_ready(broker)
    assert len(runs) == max_retries + 1
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid
    retries = "retry" if max_retries == 1 else "retries"
    assert record.reason == f"ValueError: nope after {max_retries} {retries}"
    assert queued(broker) == []


def test_max_retries_none_retries_forever(broker: Broker) -> None:
    runs: list[int] = []

    @task(broker, max_retries=None, backoff=None)
    def tt_forever() -> None:
        runs.append(1)
        raise ValueError("again")

    message = tt_forever.generate()
    for _ in range(8):
        claimed = claim_next(broker)
        assert claimed is not None, "the message should still be retried"
        run_message(claimed, broker)
    assert len(runs) == 8
    assert broker.sync(message).retries == 8
    assert list(broker.dead_letters()) == []


def test_a_raising_do_retry_means_no_retry(broker: Broker) -> None:
    class Broken(Task):
        def do_retry(self, message: Message, exception: BaseException) -> bool:
            raise RuntimeError("do_retry broke")

    @task(broker, base_task=Broken, max_retries=5)
    def tt_fails_once() -> None:
        raise ValueError("task broke")

    message = tt_fails_once.generate()
    run_ready(broker)
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid and "ValueError: task broke" in record.reason


def test_fails_twice_then_succeeds_waiting_the_backoff(
    manual: Broker, clock: ManualClock, store: ResultStore
) -> None:
    backoff = ExponentialBackoff(base=2, factor=1_000, floor=0, ceiling=None)
    attempts: list[int] = []

    @task(manual, max_retries=2, backoff=backoff, result_store=store)
    def tt_third_time_lucky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)}")
        return "done"

    message = tt_third_time_lucky.generate()
    for retry in (1, 2):
        claimed = claim_next(manual)
        assert claimed is not None
        failed_at = clock.now()
        assert run_message(claimed, manual).accepted
        stored = manual.sync(message)
        assert stored.retries == retry
        assert stored.ready_at == failed_at + backoff.get(retry)
        assert manual.counts("alsek_queue") == {"ready": 0, "delayed": 1, "leased": 0}
        clock.advance(backoff.get(retry) - 1)
        assert claim_next(manual) is None
        clock.advance(1)
    assert len(run_ready(manual)) == 1
    assert len(attempts) == 3
    assert store.get(message) == "done"
    assert queued(manual) == [] and list(manual.dead_letters()) == []


def test_exhausted_retries_dead_letter_the_message_with_a_reason(
    manual: Broker, clock: ManualClock
) -> None:
    backoff = ConstantBackoff(constant=500, floor=0, ceiling=None)

    @task(manual, max_retries=2, backoff=backoff)
    def tt_hopeless() -> None:
        raise ValueError("still broken")

    message = tt_hopeless.generate()
    for _ in range(2):
        assert len(run_ready(manual)) == 1
        clock.advance(500)
    assert len(run_ready(manual)) == 1
    assert not manual.exists(message)
    (record,) = manual.dead_letters("alsek_queue")
    assert record.uuid == message.uuid
    assert record.reason == "ValueError: still broken after 2 retries"
    assert record.failed_at == clock.now()
    assert record.message is not None and record.message["retries"] == 2
