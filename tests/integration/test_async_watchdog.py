"""Coroutines that misbehave: one that blocks the event loop is named, and one that
outlives its timeout (blocking, or ignoring its cancellation) is recorded as timed out
without it; on Redis and DiskCache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.exceptions import TaskFailedError
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


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.mark.usefixtures("bound")
def test_a_coroutine_blocking_the_loop_is_named_and_timed_out_without_it(
    tmp_path: Path, store: ResultStore, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="alsek")
    ledger = tmp_path / "ledger"
    message = at.a_blocking.delay(str(ledger), 5)
    with WorkerPool(at.ALL, max_threads=0, max_processes=0, max_async=5) as pool:
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
        assert "end" not in lines(ledger)  # recorded while the coroutine still blocked
        wait_until(lambda: "end" in lines(ledger), 30, "the coroutine to end")
        time.sleep(0.2)  # its own late outcome comes now, and is ignored
        assert pool.completed == 1
    assert raised.value.outcome == "timed_out"
    text = warnings(caplog)
    assert "the pool's event loop has not run for" in text and message.uuid in text
    assert "did not stop at its timeout" in text
    assert not store.exists(message)
    assert [d.uuid for d in broker.dead_letters()] == [message.uuid]


@pytest.mark.usefixtures("bound")
def test_a_coroutine_ignoring_its_cancellation_is_timed_out_without_it(
    tmp_path: Path, store: ResultStore, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    message = at.a_stubborn.delay(str(ledger), 4)
    after = at.a_echo.delay("still served")
    with WorkerPool(at.ALL, max_threads=0, max_processes=0, max_async=5) as pool:
        with pytest.raises(TaskFailedError) as raised:
            store.get(message, timeout=30_000)
        assert store.get(after, timeout=30_000) == "still served"  # the loop runs on
        wait_until(lambda: len(pool.slots.running("async")) == 0, 30, "the slots to free")
        time.sleep(4)  # the stubborn coroutine returns meanwhile: ignored
        assert pool.completed == 2
    assert raised.value.outcome == "timed_out"
    assert "ignored" in lines(ledger)
    assert not store.exists(message)
