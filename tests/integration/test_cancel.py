"""Broker.cancel: a waiting message is removed, a running one is stopped by its pool;
either way it is recorded as cancelled and never retried."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.failures import read_failure
from alsek.effects.inspection import locate
from alsek.exceptions import TaskFailedError, ValidationError
from alsek.pure.cancel import CancelResult
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt
from tests.support.memory_backend import CustomBackend


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture()
def broker(any_backend: Backend) -> Broker:
    return Broker(any_backend)


@pytest.fixture()
def store(any_backend: Backend) -> ResultStore:
    return ResultStore(any_backend)


@pytest.fixture()
def bound(broker: Broker, store: ResultStore) -> Iterator[None]:
    wt.bind(broker, store)
    yield
    wt.bind(wt.placeholder, None)


def empty(broker: Broker, queue: str = "alsek_queue") -> bool:
    return broker.counts(queue) == {"ready": 0, "delayed": 0, "leased": 0}


@pytest.mark.usefixtures("bound")
@pytest.mark.parametrize("delay", [0, 600_000])
def test_a_waiting_message_is_removed_and_recorded(
    broker: Broker, store: ResultStore, delay: int
) -> None:
    message = wt.t_echo.generate(args=(1,), delay=delay)
    keep = wt.t_echo.generate(args=(2,), delay=delay)
    assert broker.cancel(message.uuid) is CancelResult.REMOVED
    assert not broker.exists(message) and broker.exists(keep)
    record = read_failure(broker.backend, message.uuid)
    assert record is not None and record.outcome == "cancelled" and record.final
    assert record.task == "t_echo" and record.type_name == "TaskCancelledError"
    with pytest.raises(TaskFailedError) as raised:
        store.get(message)
    assert raised.value.outcome == "cancelled"
    assert locate(broker, message.uuid).where == "cancelled"
    # Cancelling again finds nothing; so does an unknown uuid.
    assert broker.cancel(message) is CancelResult.NOT_FOUND
    assert broker.cancel("no-such-uuid") is CancelResult.NOT_FOUND
    assert list(broker.dead_letters()) == []


@pytest.mark.usefixtures("bound")
@pytest.mark.parametrize(
    ("task_name", "threads", "processes"), [("t_loop", 1, 0), ("p_wait", 0, 1)]
)
def test_a_running_message_is_stopped_by_its_pool_and_never_retried(
    tmp_path: Path,
    broker: Broker,
    store: ResultStore,
    task_name: str,
    threads: int,
    processes: int,
) -> None:
    ledger = tmp_path / "ledger"
    task = wt.t_loop if task_name == "t_loop" else wt.p_wait
    message = task.generate(args=(str(ledger), 60))
    if processes and isinstance(broker.backend, CustomBackend):
        # An in-memory backend cannot reach a task process: the pool says so up front.
        with pytest.raises(ValidationError, match="cannot be sent to task processes"):
            WorkerPool(wt.ALL, max_threads=threads, max_processes=processes)
        assert broker.exists(message)
        return
    with WorkerPool(wt.ALL, max_threads=threads, max_processes=processes) as pool:
        wait_until(lambda: ledger.exists(), 30, "the task to start")
        assert broker.cancel(message) is CancelResult.REQUESTED
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
        wait_until(lambda: pool.completed == 1, 30, "the outcome to be recorded")
    assert raised.value.outcome == "cancelled" and raised.value.attempts == 1
    lines = ledger.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("start")  # stopped, never rerun
    assert empty(broker) and list(broker.dead_letters()) == []
    where = locate(broker, message.uuid)
    assert where.where == "cancelled" and where.last_error is not None
    assert where.last_error.message == "cancelled while running"


@pytest.mark.usefixtures("bound")
def test_a_thread_that_ignores_the_stop_is_abandoned_and_recorded(
    broker: Broker, store: ResultStore
) -> None:
    message = wt.t_stuck.generate(args=(8,), timeout=60_000)
    with WorkerPool(wt.ALL, max_threads=1, max_processes=0) as pool:
        wait_until(lambda: bool(broker.counts("alsek_queue")["leased"]), 30, "a claim")
        wait_until(lambda: bool(pool.slots.running("thread")), 30, "the task to start")
        assert broker.cancel(message.uuid) is CancelResult.REQUESTED
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
    assert raised.value.outcome == "cancelled"
    assert empty(broker)
