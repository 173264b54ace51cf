"""Tasks for fault-injection runs, importable by task processes.

Every run appends to the ledger file it is given: ``start`` when it
begins, then ``fail`` (a planned failure) or ``end`` (success). Task
processes only run the functions, so the broker the tasks are created with
never connects; ``bind`` points them at a test's broker and result store.
"""

from __future__ import annotations

import os
import time
from typing import Any

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff
from alsek.effects.task import Task
from alsek.storage.backends import LazyClient
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

placeholder = Broker(RedisBackend(LazyClient(lambda: None)))
NO_WAIT = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)
MAX_RETRIES = 2
MAX_REDELIVERIES = 4
POLICY: dict[str, Any] = {
    "backoff": NO_WAIT,
    "max_retries": MAX_RETRIES,
    "max_redeliveries": MAX_REDELIVERIES,
    "timeout": 60_000,
}


def record(ledger: str, line: str) -> None:
    """Append one line to an append-only ledger (atomic for short writes)."""
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _now() -> int:
    return int(time.time() * 1000)


def work(ledger: str, sleep_ms: int, fail_times: int, message: Message | None) -> str:
    """Record the run, sleep, then fail while ``retries < fail_times``, else succeed."""
    assert message is not None
    uuid = message.uuid
    record(
        ledger, f"start {uuid} {message.retries} {message.deliveries} {_now()} {os.getpid()}"
    )
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    if message.retries < fail_times:
        record(ledger, f"fail {uuid} {message.retries} {_now()}")
        raise RuntimeError(f"planned failure {message.retries + 1} of {fail_times}")
    record(ledger, f"end {uuid} {message.retries} {_now()}")
    return uuid


@task(placeholder, mechanism="thread", **POLICY)
def fx_thread(
    ledger: str, sleep_ms: int = 0, fail_times: int = 0, message: Message | None = None
) -> str:
    return work(ledger, sleep_ms, fail_times, message)


@task(placeholder, mechanism="process", **POLICY)
def fx_process(
    ledger: str, sleep_ms: int = 0, fail_times: int = 0, message: Message | None = None
) -> str:
    return work(ledger, sleep_ms, fail_times, message)


@task(placeholder, mechanism="thread", **POLICY)
def fx_thread_result(
    ledger: str, sleep_ms: int = 0, fail_times: int = 0, message: Message | None = None
) -> str:
    return work(ledger, sleep_ms, fail_times, message)


@task(placeholder, mechanism="process", **POLICY)
def fx_process_result(
    ledger: str, sleep_ms: int = 0, fail_times: int = 0, message: Message | None = None
) -> str:
    return work(ledger, sleep_ms, fail_times, message)


ALL: list[Task] = [fx_thread, fx_process, fx_thread_result, fx_process_result]
WITH_RESULTS = (fx_thread_result, fx_process_result)


def pick(mechanism: str, result: bool) -> Task:
    """The task of ``mechanism`` that does (or does not) store its result."""
    if mechanism == "thread":
        return fx_thread_result if result else fx_thread
    return fx_process_result if result else fx_process


def bind(broker: Broker, result_store: ResultStore | None = None) -> None:
    """Point every task here at ``broker``, and those that keep results at ``result_store``."""
    for each in ALL:
        each.broker = broker
    for each in WITH_RESULTS:
        each.result_store = result_store
        each.store_result = result_store is not None
