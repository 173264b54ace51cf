"""A failed run is explained: its traceback logged and kept, and raised to result readers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.failures import read_failure
from alsek.exceptions import TaskFailedError
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


@pytest.fixture()
def store(backend: Backend) -> ResultStore:
    return ResultStore(backend)


@pytest.fixture()
def bound(broker: Broker, store: ResultStore) -> Iterator[None]:
    wt.bind(broker, store)
    yield
    wt.bind(wt.placeholder, None)


def task_records(caplog: pytest.LogCaptureFixture, uuid: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "alsek.task" and getattr(r, "uuid", "") == uuid]


@pytest.mark.usefixtures("bound")
def test_a_failing_task_logs_its_traceback_and_its_reader_gets_the_error(
    tmp_path: Path, store: ResultStore, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alsek")
    message = wt.t_fail.generate(args=(str(tmp_path / "ledger"),))
    pool = WorkerPool(wt.ALL, max_threads=2, max_processes=0)
    with pool, pytest.raises(TaskFailedError) as raised:
        store.get(message, timeout=30_000)
    error = raised.value
    assert (error.type_name, error.error_message) == ("ValueError", "always fails")
    assert error.attempts == 3 and error.outcome == "failed" and error.uuid == message.uuid
    assert 'raise ValueError("always fails")' in error.traceback
    assert "in t_fail" in error.traceback
    records = task_records(caplog, message.uuid)
    assert [r.levelname for r in records] == ["WARNING", "WARNING", "ERROR"]
    for record in records:
        assert record.exc_text and 'raise ValueError("always fails")' in record.exc_text
        assert record.task == "t_fail" and record.outcome == "failed"  # type: ignore[attr-defined]
    assert records[0].getMessage().endswith("ValueError: always fails; retry 1 in 0 ms")
    assert records[-1].getMessage().endswith("; giving up after 3 attempts")
    assert records[-1].getMessage().startswith(f"t_fail {message.uuid[-8:]} failed in ")
    # The broker keeps it too (inspect reads it there), marked final.
    kept = read_failure(broker.backend, message.uuid)
    assert kept is not None and kept.final and kept.attempts == 3 and kept.queue == message.queue


@pytest.mark.usefixtures("bound")
def test_a_thread_timeout_tells_where_the_task_was(
    store: ResultStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alsek")
    message = wt.t_spin.generate(args=(30,))
    pool = WorkerPool(wt.ALL, max_threads=2, max_processes=0)
    with pool, pytest.raises(TaskFailedError) as raised:
        store.get(message, timeout=30_000)
    error = raised.value
    assert error.outcome == "timed_out" and error.type_name == "TaskTimeoutError"
    assert error.error_message == "timed out after 500 ms" and error.attempts == 2
    assert "in t_spin" in error.traceback  # the frame the timeout interrupted
    levels = [r.levelname for r in task_records(caplog, message.uuid)]
    assert levels == ["WARNING", "ERROR"]


@pytest.mark.usefixtures("bound")
def test_a_crashing_process_task_is_reported_as_a_crash(
    store: ResultStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="alsek")
    message = wt.p_crash.generate(args=("exit",))
    pool = WorkerPool(wt.ALL, max_threads=0, max_processes=1)
    with pool, pytest.raises(TaskFailedError) as raised:
        store.get(message, timeout=60_000)
    error = raised.value
    assert error.outcome == "crashed" and error.type_name == "TaskCrashedError"
    assert "exit code 3" in error.error_message
    records = task_records(caplog, message.uuid)
    assert records and records[-1].levelname == "ERROR"
    assert all(r.levelname == "WARNING" for r in records[:-1])
    assert all(r.getMessage().endswith("; redelivering") for r in records[:-1])


@pytest.mark.usefixtures("bound")
def test_a_success_still_reads_as_its_result(store: ResultStore) -> None:
    message = wt.t_echo.generate(args=("fine",))
    with WorkerPool(wt.ALL, max_threads=1, max_processes=0):
        assert store.get(message, timeout=30_000) == "fine"
