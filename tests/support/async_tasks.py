"""``async def`` tasks for worker-pool tests, importable by task processes.

As in ``worker_tasks``, the broker these tasks are created with never
connects; ``bind`` points them at a test's broker and result store.
Coroutines write what happened to them to a ledger file (one line each), so
a test sees starts, ends and cancellations from any process.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff
from alsek.storage.result import ResultStore
from tests.support.worker_tasks import NO_WAIT, placeholder, record

#: Coroutines of ``a_counted`` running now, and the most seen at once.
counter = {"now": 0, "peak": 0}
counter_lock = threading.Lock()


@task(placeholder, backoff=NO_WAIT)
async def a_echo(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


@task(placeholder, backoff=NO_WAIT)
async def a_nap(seconds: float, value: Any) -> Any:
    await asyncio.sleep(seconds)
    return value


@task(placeholder, max_retries=0, backoff=NO_WAIT)
async def a_counted(seconds: float) -> int:
    """Sleeps ``seconds`` while counted in ``counter``; returns how many ran with it."""
    with counter_lock:
        counter["now"] += 1
        counter["peak"] = max(counter["peak"], counter["now"])
        seen = counter["now"]
    try:
        await asyncio.sleep(seconds)
    finally:
        with counter_lock:
            counter["now"] -= 1
    return seen


@task(placeholder, max_retries=0, backoff=NO_WAIT)
async def a_broken(text: str) -> None:
    await asyncio.sleep(0)
    raise LookupError(f"no such thing: {text}")


@task(placeholder, max_retries=2, backoff=ConstantBackoff(constant=300, floor=0, ceiling=300))
async def a_flaky(ledger: str, failures: int) -> str:
    """Fails its first ``failures`` attempts (counted in the ledger), then succeeds."""
    await asyncio.sleep(0)
    attempts = _lines(ledger)
    record(ledger, "attempt")
    if attempts < failures:
        raise ConnectionError(f"attempt {attempts + 1} fails")
    return f"ok after {attempts + 1}"


@task(placeholder, timeout=400, max_retries=0, backoff=NO_WAIT)
async def a_slow(ledger: str, seconds: float) -> str:
    """Sleeps ``seconds``, writing ``start``, then ``end`` or ``cancelled`` to the ledger."""
    record(ledger, f"start {os.getpid()}")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        record(ledger, "cancelled")
        raise
    record(ledger, "end")
    return "slept"


@task(placeholder, timeout=60_000, max_retries=3, backoff=NO_WAIT)
async def a_long(ledger: str, seconds: float) -> str:
    """Like ``a_slow``, with a long timeout and retries left (a cancel must not retry)."""
    return await a_slow.function(ledger, seconds)


@task(placeholder, mechanism="process", backoff=NO_WAIT)
async def pa_echo(value: Any) -> list[Any]:
    await asyncio.sleep(0.01)
    return [os.getpid(), value]


@task(placeholder, mechanism="process", timeout=400, max_retries=0, backoff=NO_WAIT)
async def pa_slow(ledger: str, seconds: float) -> str:
    """``a_slow`` in a task process."""
    return await a_slow.function(ledger, seconds)


@task(placeholder, mechanism="process", timeout=60_000, max_retries=3, backoff=NO_WAIT)
async def pa_long(ledger: str, seconds: float) -> str:
    """``a_long`` in a task process."""
    return await a_slow.function(ledger, seconds)


@task(placeholder, backoff=NO_WAIT)
async def a_chain(value: int, message: Message | None = None) -> int:
    """Adds one to its argument, or to the result handed on by the previous task."""
    assert message is not None
    previous = message.previous_result
    return (value if previous is None else previous) + 1


@task(placeholder, timeout=300, max_retries=0, backoff=NO_WAIT)
async def a_blocking(ledger: str, seconds: float) -> str:
    """Blocks the event loop for ``seconds`` (what a coroutine must never do)."""
    record(ledger, "start")
    time.sleep(seconds)
    record(ledger, "end")
    return "blocked"


@task(placeholder, timeout=300, max_retries=0, backoff=NO_WAIT)
async def a_stubborn(ledger: str, seconds: float) -> str:
    """Ignores its cancellation until ``seconds`` have passed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            record(ledger, "ignored")
    return "done"


def _lines(path: str) -> int:
    try:
        with open(path) as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


ALL = [
    a_echo,
    a_nap,
    a_counted,
    a_broken,
    a_flaky,
    a_slow,
    a_long,
    pa_echo,
    pa_slow,
    pa_long,
    a_chain,
    a_blocking,
    a_stubborn,
]


def bind(broker: Broker, result_store: ResultStore | None = None) -> None:
    """Point every task here at ``broker`` (and ``result_store``)."""
    for each in ALL:
        each.broker = broker
        each.result_store = result_store
        each.store_result = result_store is not None
