"""``async def`` tasks on a worker pool's event loop, on Redis and DiskCache: results,
retries, timeouts, callbacks, cancels, concurrency, ``max_async``, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.events import Claimed, Finished, Observer, Released, Started
from alsek.effects.failures import read_failure
from alsek.effects.inspection import locate
from alsek.exceptions import TaskFailedError, ValidationError
from alsek.pure.cancel import CancelResult
from alsek.pure.outcome import Succeeded
from alsek.storage.result import ResultStore
from tests.support import async_tasks as at
from tests.support import worker_tasks as wt


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


@pytest.fixture()
def store(backend: Backend) -> ResultStore:
    return ResultStore(backend)


@pytest.fixture()
def bound(broker: Broker, store: ResultStore) -> Iterator[None]:
    at.bind(broker, store)
    wt.bind(broker, store)
    yield
    at.bind(wt.placeholder, None)
    wt.bind(wt.placeholder, None)


def pool(max_async: int = 100, threads: int = 2, **options: object) -> WorkerPool:
    return WorkerPool(
        at.ALL + wt.ALL, max_threads=threads, max_processes=0, max_async=max_async, **options
    )  # type: ignore[arg-type]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def empty(broker: Broker) -> bool:
    return broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


@pytest.mark.usefixtures("bound")
def test_a_coroutine_s_result_is_stored(store: ResultStore, broker: Broker) -> None:
    message = at.a_echo.delay({"x": [1, 2]})
    assert message.is_async and message.mechanism == "thread"
    assert message.slot_kind == "async"
    with pool():
        assert store.get(message, timeout=30_000) == {"x": [1, 2]}
    assert empty(broker)


@pytest.mark.usefixtures("bound")
def test_many_coroutines_run_at_once_on_one_loop(store: ResultStore) -> None:
    messages = [at.a_nap.delay(0.2, i) for i in range(200)]
    with pool(max_async=100) as running:
        assert [store.get(m, timeout=60_000) for m in messages] == list(range(200))
        wait_until(lambda: running.completed == 200, 30, "every outcome")
        # One event loop ran them all, beside no thread at all.
        assert len(running.slots.event_loops()) == 1
        assert running.slots.workers["thread"] == []


@pytest.mark.usefixtures("bound")
def test_max_async_bounds_the_coroutines_running_at_once(store: ResultStore) -> None:
    at.counter.update(now=0, peak=0)
    messages = [at.a_counted.delay(0.05) for _ in range(60)]
    with pool(max_async=7):
        seen = [store.get(m, timeout=60_000) for m in messages]
    assert max(seen) <= 7 and at.counter["peak"] <= 7
    assert at.counter["peak"] >= 2  # they did overlap
    assert at.counter["now"] == 0


@pytest.mark.usefixtures("bound")
def test_thread_tasks_keep_running_while_coroutines_sleep(store: ResultStore) -> None:
    sleepers = [at.a_nap.delay(6, i) for i in range(100)]
    with pool(max_async=100, threads=1) as running:
        wait_until(lambda: len(running.slots.running("async")) == 100, 30, "100 coroutines")
        # Every async slot is taken, the one thread slot is free: thread work runs now.
        echoes = [wt.t_echo.delay(i) for i in range(5)]
        assert [store.get(m, timeout=5_000) for m in echoes] == list(range(5))
        assert len(running.slots.running("async")) == 100  # the sleepers still sleep
        assert [store.get(m, timeout=30_000) for m in sleepers] == list(range(100))


@pytest.mark.usefixtures("bound")
def test_a_failing_coroutine_is_retried_with_its_backoff(
    tmp_path: Path, store: ResultStore
) -> None:
    ledger = tmp_path / "ledger"
    message = at.a_flaky.delay(str(ledger), 2)
    started = time.monotonic()
    with pool():
        assert store.get(message, timeout=30_000) == "ok after 3"
    assert lines(ledger) == ["attempt"] * 3
    assert time.monotonic() - started >= 0.6  # two backoffs of 300 ms


@pytest.mark.usefixtures("bound")
def test_an_exception_in_a_coroutine_is_recorded_with_its_traceback(
    store: ResultStore, broker: Broker
) -> None:
    message = at.a_broken.delay("the key")
    with pool(), pytest.raises(TaskFailedError) as raised:
        store.get(message, timeout=30_000)
    error = raised.value
    assert (error.type_name, error.outcome, error.attempts) == ("LookupError", "failed", 1)
    assert "no such thing: the key" in error.error_message
    assert 'raise LookupError(f"no such thing: {text}")' in error.traceback
    assert "in a_broken" in error.traceback
    assert [d.uuid for d in broker.dead_letters()] == [message.uuid]


@pytest.mark.usefixtures("bound")
def test_a_timeout_cancels_the_coroutine_and_is_recorded_as_a_timeout(
    tmp_path: Path, store: ResultStore, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    message = at.a_slow.delay(str(ledger), 30)
    after = at.a_echo.delay("next")
    with pool() as running:
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
        assert store.get(after, timeout=30_000) == "next"
        wait_until(lambda: running.completed == 2, 30, "both outcomes")
    assert raised.value.outcome == "timed_out"
    assert [line.split()[0] for line in lines(ledger)] == ["start", "cancelled"]
    failure = read_failure(broker.backend, message.uuid)
    assert failure is not None and failure.outcome == "timed_out" and failure.final
    assert "asyncio.sleep" in failure.traceback  # where the coroutine was when cancelled
    assert [d.uuid for d in broker.dead_letters()] == [message.uuid]


@pytest.mark.usefixtures("bound")
def test_a_callback_of_a_coroutine_gets_its_result(store: ResultStore) -> None:
    then = (at.a_chain.defer().generate(args=(0,)), wt.t_echo.defer().generate(args=("end",)))
    root = at.a_chain.generate(args=(1,), callback=then)
    with pool() as running:
        wait_until(lambda: running.completed == 3, 30, "the chain")
        results = store.get(root, timeout=30_000, descendants=True)
    assert results == [2, 3, "end"]


@pytest.mark.usefixtures("bound")
def test_cancelling_a_running_coroutine_cancels_it_and_never_retries(
    tmp_path: Path, store: ResultStore, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    message = at.a_long.delay(str(ledger), 60)
    with pool() as running:
        wait_until(lambda: ledger.exists(), 30, "the coroutine to start")
        assert broker.cancel(message) is CancelResult.REQUESTED
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
        wait_until(lambda: running.completed == 1, 30, "the outcome")
        assert at.a_echo.result(at.a_echo.delay("alive"), timeout=30_000) == "alive"
    assert raised.value.outcome == "cancelled" and raised.value.attempts == 1
    assert [line.split()[0] for line in lines(ledger)] == ["start", "cancelled"]
    where = locate(broker, message.uuid)
    assert where.where == "cancelled" and where.last_error is not None
    assert empty(broker) and list(broker.dead_letters()) == []


@pytest.mark.usefixtures("bound")
def test_a_coroutine_outliving_its_lease_keeps_it(
    tmp_path: Path, store: ResultStore, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    message = at.a_long.delay(str(ledger), 2.5)
    with pool(lease_ms=800):
        assert store.get(message, timeout=30_000) == "slept"
    assert [line.split()[0] for line in lines(ledger)] == ["start", "end"]  # never redelivered
    assert empty(broker)


class Events(Observer):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, str]] = []

    def _add(self, kind: str, mechanism: str, token: str) -> None:
        with self.lock:
            self.seen.append((kind, mechanism, token))

    def on_claimed(self, event: Claimed) -> None:
        self._add("claimed", event.mechanism, event.token)

    def on_started(self, event: Started) -> None:
        self._add("started", event.mechanism, event.message.lock or "")

    def on_outcome(self, event: Finished) -> None:
        ok = "ok" if isinstance(event.outcome, Succeeded) else "failed"
        self._add(f"finished {ok}", event.mechanism, event.token)

    def on_released(self, event: Released) -> None:
        self._add(f"released {event.how}", event.mechanism, event.token)


@pytest.mark.usefixtures("bound")
def test_observers_and_the_registry_count_coroutines(broker: Broker, store: ResultStore) -> None:
    events = Events()
    ok = [at.a_echo.delay(i) for i in range(3)]
    bad = at.a_broken.delay("x")
    with pool(max_async=5, observers=[events]) as running:
        wait_until(lambda: len(broker.workers()) == 1, 10, "the heartbeat")
        for message in ok:
            store.get(message, timeout=30_000)
        wait_until(lambda: running.completed == 4, 30, "every outcome")
        record = broker.workers()[0]

        def counted() -> bool:
            nonlocal record
            record = broker.workers()[0]
            return record.processed == 4

        wait_until(counted, 10, "the counts in the registry")
    assert record.slots == {"thread": 2, "process": 0, "async": 5}
    assert record.tasks["a_echo"].succeeded == 3 and record.tasks["a_broken"].failed == 1
    assert record.failed == 1
    with events.lock:
        seen = list(events.seen)
    tokens = {token for kind, _, token in seen if kind == "claimed"}
    assert len(tokens) == 4 and all(mechanism == "async" for _, mechanism, _ in seen)
    for token in tokens:
        kinds = [kind for kind, _, t in seen if t == token]
        assert kinds[:2] == ["claimed", "started"] and kinds[2].startswith("finished"), kinds
    assert sum(kind == "finished failed" for kind, _, _ in seen) == 1
    assert bad.uuid


@pytest.mark.usefixtures("bound")
def test_a_pool_needs_event_loop_slots_for_async_thread_tasks() -> None:
    with pytest.raises(ValidationError, match=r"max_async=0.*a_echo"):
        WorkerPool(at.ALL, max_threads=1, max_processes=0, max_async=0)
    with pytest.raises(ValidationError, match="max_async"):
        WorkerPool(at.ALL, max_threads=1, max_processes=0, max_async=-1)
    # Without async thread tasks there is no event loop, and no async slots to show.
    plain = WorkerPool([wt.t_echo], max_threads=1, max_processes=0, max_async=50)
    assert plain.capacity.max_async == 0 and plain.busy() == {"thread": 0, "process": 0}
    assert "max_async=0" in repr(plain)
    # Process-mechanism coroutines run in task processes: no event loop slots needed.
    assert WorkerPool([at.pa_echo], max_threads=0, max_processes=1).capacity.max_async == 0


@pytest.mark.usefixtures("bound")
def test_stopping_hands_back_coroutines_still_running(
    tmp_path: Path, broker: Broker, store: ResultStore
) -> None:
    ledger = tmp_path / "ledger"
    message = at.a_long.delay(str(ledger), 60)
    running = pool(grace_ms=200).start()
    wait_until(lambda: ledger.exists(), 30, "the coroutine to start")
    running.stop(timeout=30)
    assert running.stopped.is_set()
    assert [line.split()[0] for line in lines(ledger)] == ["start", "cancelled"]
    assert broker.exists(message)  # back in its queue, its delivery not counted
    assert broker.counts("alsek_queue")["ready"] == 1
    assert read_failure(broker.backend, message.uuid) is None
