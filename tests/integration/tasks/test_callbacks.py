"""Callbacks: ``do_callback``, chains, and one submission per callback.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.core.consumer import Consumer
from alsek.core.task import Task
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock
from alsek.effects.execution import run_message
from alsek.pure.callbacks import flatten
from alsek.storage.result import ResultStore
from tests.support.tasks_helpers import (
    MECHANISMS,
    claim_next,
    no_timestamps,
    queued,
    run_one,
    run_ready,
)


@pytest.mark.parametrize("approve", [True, False])
def test_do_callback_controls_the_callback(
    broker: Broker, store: ResultStore, approve: bool
) -> None:
    asked: list[tuple[str, Any]] = []

    class Gate(Task):
        def do_callback(self, message: Message, result: Any) -> bool:
            asked.append((message.uuid, result))
            return approve

    @task(broker, base_task=Gate, result_store=store)
    def tt_gated() -> int:
        return 99

    @task(broker)
    def tt_after_gate() -> None:
        return None

    follow = tt_after_gate.defer().generate()
    root = tt_gated.generate(callback=follow)
    run_one(broker)
    assert asked == [(root.uuid, 99)]
    assert store.get(root) == 99  # the run itself succeeded either way
    assert not broker.exists(root)
    assert broker.exists(follow) is approve


def test_do_callback_is_not_asked_without_a_callback(broker: Broker) -> None:
    asked: list[str] = []

    class Gate(Task):
        def do_callback(self, message: Message, result: Any) -> bool:
            asked.append(message.uuid)
            return False

    @task(broker, base_task=Gate)
    def tt_no_callback() -> int:
        return 1

    tt_no_callback.generate()
    run_ready(broker)
    assert asked == []


def test_a_raising_do_callback_skips_the_callback_but_keeps_the_result(
    broker: Broker, backend: Backend
) -> None:
    class Broken(Task):
        def do_callback(self, message: Message, result: Any) -> bool:
            raise KeyError("do_callback broke")

    store = ResultStore(backend)

    @task(broker, base_task=Broken, max_retries=3, result_store=store)
    def tt_cb_breaks() -> int:
        return 1

    @task(broker)
    def tt_never() -> None:
        return None

    follow = tt_never.defer().generate()
    root = tt_cb_breaks.generate(callback=follow)
    reports = run_ready(broker)  # does not raise
    assert len(reports) == 1
    assert not broker.exists(follow)
    assert not broker.exists(root)
    assert list(broker.dead_letters()) == []
    assert store.get(root) == 1


def test_single_nested_and_tuple_callbacks_give_the_same_chain(broker: Broker) -> None:
    @task(broker)
    def tt_first(number: int) -> int:
        return number + 1

    @task(broker)
    def tt_next(message: Message) -> int:
        return int(message.previous_result) + 1

    single = tt_first.generate(
        args=(1,), uuid="r1", callback=tt_next.generate(uuid="c1", submit=False)
    )
    single_deferred = tt_first.generate(
        args=(1,), uuid="r2", callback=tt_next.defer().generate(uuid="c1")
    )
    assert no_timestamps(flatten(single))[1:] == no_timestamps(flatten(single_deferred))[1:]
    assert [m.uuid for m in flatten(single)] == ["r1", "c1"]

    nested = tt_first.generate(
        args=(1,),
        uuid="r3",
        callback=tt_next.defer().generate(
            uuid="c1",
            callback=tt_next.defer().generate(
                uuid="c2", callback=tt_next.defer().generate(uuid="c3")
            ),
        ),
    )
    flat = tt_first.generate(
        args=(1,),
        uuid="r4",
        callback=(
            tt_next.defer().generate(uuid="c1"),
            tt_next.defer().generate(uuid="c2"),
            tt_next.defer().generate(uuid="c3"),
        ),
    )
    assert [m.uuid for m in flatten(nested)] == ["r3", "c1", "c2", "c3"]
    assert no_timestamps(flatten(nested))[1:] == no_timestamps(flatten(flat))[1:]
    assert {m.uuid for m in queued(broker)} == {"r1", "r2", "r3", "r4"}  # no callback submitted


def test_a_callback_chain_runs_to_the_end(broker: Broker, store: ResultStore) -> None:
    seen: list[tuple[str, str | None, Any]] = []

    @task(broker, result_store=store)
    def tt_add_1(number: int) -> int:
        return number + 1

    @task(broker, result_store=store)
    def tt_add_1_previous(message: Message) -> int:
        seen.append((message.uuid, message.progenitor, message.previous_result))
        return int(message.previous_result) + 1

    root = tt_add_1.generate(
        args=(1,),
        callback=(
            tt_add_1_previous.defer().generate(),
            tt_add_1_previous.defer().generate(),
            tt_add_1_previous.defer().generate(),
        ),
    )
    _, first, second, third = flatten(root)
    assert queued(broker) == [root]

    run_one(broker)
    (waiting,) = queued(broker)
    assert waiting.uuid == first.uuid
    assert waiting.previous_result == 2
    assert waiting.progenitor == root.uuid
    assert flatten(waiting)[1].uuid == second.uuid  # the rest of the chain rides along

    assert len(run_ready(broker)) == 3
    assert seen == [
        (first.uuid, root.uuid, 2),
        (second.uuid, first.uuid, 3),  # the progenitor is the previous message, not the root
        (third.uuid, second.uuid, 4),
    ]
    assert store.get(third) == 5
    assert store.get(root, descendants=True) == [2, 3, 4]
    assert queued(broker) == []


def test_callbacks_are_not_submitted_after_a_failure(broker: Broker) -> None:
    attempts: list[int] = []

    @task(broker, max_retries=1, backoff=None)
    def tt_flaky_root() -> int:
        attempts.append(1)
        raise OSError("down")

    @task(broker)
    def tt_after_root() -> None:
        return None

    follow = tt_after_root.defer().generate()
    root = tt_flaky_root.generate(callback=follow)
    run_one(broker)
    assert [m.uuid for m in queued(broker)] == [root.uuid]  # retried, callback still unsent
    run_ready(broker)
    assert len(attempts) == 2
    assert not broker.exists(follow)
    assert queued(broker) == []
    assert [r.uuid for r in broker.dead_letters()] == [root.uuid]


def test_running_the_same_claim_twice_submits_the_callback_once(broker: Broker) -> None:
    @task(broker)
    def tt_dup_root() -> int:
        return 1

    @task(broker)
    def tt_dup_follow() -> None:
        return None

    follow = tt_dup_follow.defer().generate()
    tt_dup_root.generate(callback=follow)
    message = claim_next(broker)
    assert message is not None
    assert run_message(message, broker).accepted is True
    again = run_message(message, broker)  # no MessageExistsError escapes
    assert again.accepted is False  # its ack was refused: the message is already done
    assert [m.uuid for m in queued(broker)] == [follow.uuid]


def test_a_run_after_a_lease_takeover_submits_the_callback_once(
    manual: Broker, clock: ManualClock
) -> None:
    @task(manual)
    def tt_slow_root() -> int:
        return 1

    @task(manual)
    def tt_slow_follow() -> None:
        return None

    follow = tt_slow_follow.defer().generate()
    tt_slow_root.generate(callback=follow)
    first = Consumer(manual, lease_ms=1_000).claim(MECHANISMS).messages[0]
    clock.advance(1_000)  # the first worker stalls past its lease
    second = Consumer(manual, lease_ms=1_000).claim(MECHANISMS).messages[0]
    assert second.uuid == first.uuid and second.deliveries == 2
    assert run_message(second, manual).accepted is True
    assert run_message(first, manual).accepted is False
    assert [m.uuid for m in queued(manual)] == [follow.uuid]
