"""``async def`` tasks with ``mechanism='process'``: each task process runs them on its own
event loop, kept for its life; on Redis and DiskCache."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.failures import read_failure
from alsek.exceptions import TaskFailedError
from alsek.pure.cancel import CancelResult
from alsek.storage.result import ResultStore
from tests.support import async_tasks as at
from tests.support import worker_tasks as wt


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


@pytest.fixture()
def store(backend: Backend) -> ResultStore:
    return ResultStore(backend)


@pytest.fixture()
def bound(broker: Broker, store: ResultStore) -> Iterator[None]:
    at.bind(broker, store)
    yield
    at.bind(wt.placeholder, None)


def one_process() -> WorkerPool:
    return WorkerPool(at.ALL, max_threads=0, max_processes=1, max_async=10)


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.usefixtures("bound")
def test_a_task_process_runs_coroutines_on_its_own_loop(store: ResultStore) -> None:
    messages = [at.pa_echo.delay(i) for i in range(5)]
    assert all(m.slot_kind == "process" for m in messages)
    with one_process() as pool:
        results = [store.get(m, timeout=60_000) for m in messages]
        assert pool.slots.event_loops() == []  # the pool's own loop is not involved
    pids = {pid for pid, _ in results}
    assert [value for _, value in results] == list(range(5))
    assert len(pids) == 1 and os.getpid() not in pids


@pytest.mark.usefixtures("bound")
def test_a_timeout_cancels_the_coroutine_inside_its_process(
    tmp_path: Path, store: ResultStore, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    slow = at.pa_slow.delay(str(ledger), 30)
    with one_process():
        with pytest.raises(TaskFailedError) as raised:
            store.get(slow, timeout=60_000)
        # The process survived its task's timeout: it runs the next one.
        ((pid, value),) = [store.get(at.pa_echo.delay("next"), timeout=60_000)]
    assert raised.value.outcome == "timed_out"
    assert [row[0] for row in lines(ledger)] == ["start", "cancelled"]
    assert int(lines(ledger)[0][1]) == pid and value == "next"
    failure = read_failure(broker.backend, slow.uuid)
    assert failure is not None and failure.outcome == "timed_out"
    assert "asyncio.sleep" in failure.traceback


@pytest.mark.usefixtures("bound")
def test_cancelling_a_running_process_coroutine_stops_it(
    tmp_path: Path, store: ResultStore, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    message = at.pa_long.delay(str(ledger), 60)
    with one_process() as pool:
        wait_until(lambda: ledger.exists(), 60, "the coroutine to start")
        assert broker.cancel(message) is CancelResult.REQUESTED
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
        wait_until(lambda: pool.completed == 1, 30, "the outcome")
    assert raised.value.outcome == "cancelled" and raised.value.attempts == 1
    assert [row[0] for row in lines(ledger)] == ["start"]  # never run again
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}
