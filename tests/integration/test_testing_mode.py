"""Test mode: ``alsek.testing`` runs queued work in the caller's process, as a worker would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, Message, task
from alsek.core.backoff import ExponentialBackoff
from alsek.core.task import TriggerTask
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock
from alsek.exceptions import NotFoundError, StillBusyError, TaskFailedError
from alsek.pure.outcome import Failed, Succeeded
from alsek.storage.result import ResultStore
from alsek.testing import MemoryBackend, eager, fire, fired_root, run_until_idle
from tests.integration.conftest import make_backend


@pytest.fixture(params=["memory", "redis", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The in-memory backend, and the real ones: test mode behaves alike on each."""
    if request.param == "memory":
        yield MemoryBackend()
    else:
        yield make_backend(request.param, request, tmp_path)


def test_results_and_callbacks(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)

    @task(broker, name="tm_add", result_store=results)  # a process task runs inline too
    def tm_add(a: int, b: int) -> int:
        return a + b

    @task(broker, name="tm_double", result_store=results, mechanism="thread")
    def tm_double(message: Message) -> int:
        return int(message.previous_result) * 2

    first = tm_add.delay(1, 2)
    chained = tm_add.generate(args=(5, 5), callback=tm_double.defer().generate())
    drained = run_until_idle(broker)
    assert len(drained.runs) == 3 and len(drained.succeeded) == 3
    assert tm_add.result(first) == 3
    assert results.get(chained, descendants=True) == [10, 20]
    assert run_until_idle(broker).runs == ()  # idle: nothing left
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


def test_retries_skip_their_backoff_and_dead_letters_are_reported(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)
    attempts: list[int] = []

    @task(
        broker, name="tm_flaky", result_store=results, max_retries=3, backoff=ExponentialBackoff()
    )
    def tm_flaky(message: Message) -> str:
        attempts.append(message.retries)
        if message.retries < 2:
            raise ConnectionError("not yet")
        return "ok"

    @task(broker, name="tm_broken", max_retries=1, mechanism="thread")
    def tm_broken() -> None:
        raise ZeroDivisionError("always")

    flaky = tm_flaky.delay()
    broken = tm_broken.delay()
    drained = run_until_idle(broker)
    assert attempts == [0, 1, 2]  # backoffs of a minute and more were skipped
    assert results.get(flaky) == "ok"
    assert [m.uuid for m in drained.retried] == [flaky.uuid, broken.uuid, flaky.uuid]
    (dead,) = drained.dead_lettered
    assert dead.message.uuid == broken.uuid
    assert "ZeroDivisionError: always" in dead.reason
    assert [r.uuid for r in broker.dead_letters()] == [broken.uuid]
    failures = [r for r in drained.runs if isinstance(r.outcome, Failed)]
    assert len(failures) == 4
    with pytest.raises(TaskFailedError, match=r"(?s)tm_broken.*ZeroDivisionError: always"):
        drained.check()


def test_delayed_messages_wait_unless_delays_are_skipped(store: Backend) -> None:
    broker = Broker(store)
    ran: list[str] = []

    @task(broker, name="tm_later", mechanism="thread")
    def tm_later(tag: str) -> None:
        ran.append(tag)

    tm_later.generate(args=("later",), delay=3_600_000)
    tm_later.delay("now")
    assert len(run_until_idle(broker, skip_delays=False).runs) == 1
    assert ran == ["now"]
    assert broker.counts("alsek_queue")["delayed"] == 1
    run_until_idle(broker)
    assert ran == ["now", "later"]


def test_triggers_fire_on_demand(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)
    counter = iter(range(100))

    @task(broker, name="tm_tick", result_store=results, trigger=IntervalTrigger(hours=1))
    def tm_tick() -> int:
        return next(counter)

    assert isinstance(tm_tick, TriggerTask)
    first, second = fire(tm_tick), fire(tm_tick)
    assert first.uuid != second.uuid
    run_until_idle(broker)
    root = fired_root(tm_tick)
    assert root is not None and first.progenitor == root.uuid
    assert results.get(root, descendants=True) == [0, 1]
    assert tm_tick.job is None and not tm_tick.scheduler.running  # no scheduler started


def test_eager_runs_each_submission_at_once(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)

    @task(broker, name="tm_leaf", result_store=results, mechanism="thread")
    def tm_leaf(x: int) -> int:
        return x + 1

    @task(broker, name="tm_fan", result_store=results, mechanism="thread")
    def tm_fan(n: int) -> list[str]:
        return [tm_leaf.delay(i).uuid for i in range(n)]

    @task(broker, name="tm_fails", max_retries=0, mechanism="thread")
    def tm_fails() -> None:
        raise ValueError("bad input")

    with eager(broker):
        fan = tm_fan.delay(3)
        leaves = results.get(fan)
        assert [results.get(uuid) for uuid in leaves] == [1, 2, 3]
        tm_fails.delay()  # dead-lettered quietly without check
    with eager(broker, check=True), pytest.raises(TaskFailedError, match="bad input"):
        tm_fails.delay()
    later = tm_leaf.delay(10)  # outside the block: queued, not run
    with pytest.raises(NotFoundError):
        results.get(later)
    run_until_idle(broker)
    assert results.get(later) == 11


def test_unknown_tasks_and_runaway_loops(store: Backend) -> None:
    broker = Broker(store)
    broker.submit(Message(task_name="tm_nobody_defines_this"))
    drained = run_until_idle(broker)
    (run,) = drained.runs
    assert run.outcome is None and run.dead_letter is not None
    assert "unknown task" in run.dead_letter.reason

    @task(broker, name="tm_forever", mechanism="thread")
    def tm_forever() -> None:
        tm_forever.delay()

    tm_forever.delay()
    with pytest.raises(StillBusyError, match="still busy after 5 runs"):
        run_until_idle(broker, max_runs=5)


def test_memory_backend_ttls_follow_its_clock() -> None:
    clock = ManualClock()
    backend = MemoryBackend(clock=clock)
    broker, results = Broker(backend), ResultStore(backend, ttl=60_000)

    @task(broker, name="tm_ttl", result_store=results, mechanism="thread")
    def tm_ttl() -> int:
        return 1

    message = tm_ttl.delay()
    assert isinstance(run_until_idle(broker).runs[0].outcome, Succeeded)
    clock.advance(59_999)
    assert results.exists(message)
    clock.advance(1)
    assert not results.exists(message)


def test_memory_backend_refuses_what_a_real_backend_refuses() -> None:
    from alsek.exceptions import SerializationError

    broker = Broker(MemoryBackend())

    @task(broker, name="tm_json", mechanism="thread")
    def tm_json(value: object) -> None:
        return None

    with pytest.raises(SerializationError):
        tm_json.delay(object())
    assert broker.backend.count() == 0
