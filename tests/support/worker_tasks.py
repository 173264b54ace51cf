"""Tasks for worker-pool tests, importable by task processes.

Task processes only run functions, so the broker these tasks are created
with never connects; ``bind`` points them at a test's broker and result
store in the test process.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Any

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff
from alsek.storage.backends import LazyClient
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

placeholder = Broker(RedisBackend(LazyClient(lambda: None)))
NO_WAIT = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)


def record(ledger: str, line: str) -> None:
    """Append one line to an append-only ledger (atomic for short writes)."""
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@task(placeholder, mechanism="process", backoff=NO_WAIT)
def p_echo(value: Any) -> Any:
    return value


@task(placeholder, mechanism="thread", backoff=NO_WAIT)
def t_echo(value: Any) -> Any:
    return value


@task(placeholder, mechanism="process", backoff=NO_WAIT, max_retries=0)
def p_ledger(ledger: str, key: str, sleep_ms: int = 0, message: Message | None = None) -> str:
    assert message is not None
    record(ledger, f"start {key} {os.getpid()} {message.deliveries}")
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    record(ledger, f"end {key} {os.getpid()}")
    return key


@task(placeholder, mechanism="thread", backoff=NO_WAIT, max_retries=0)
def t_ledger(ledger: str, key: str, sleep_ms: int = 0) -> str:
    record(ledger, f"start {key}")
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    record(ledger, f"end {key}")
    return key


@task(placeholder, mechanism="process", timeout=500, max_retries=0, backoff=NO_WAIT)
def p_sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


@task(placeholder, mechanism="thread", timeout=500, max_retries=1, backoff=NO_WAIT)
def t_spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))
    return "done"


@task(placeholder, mechanism="thread", timeout=300, max_retries=0, backoff=NO_WAIT)
def t_stuck(seconds: float) -> str:
    time.sleep(seconds)  # C code: the TimeoutError cannot land until it returns
    return "woke"


@task(placeholder, mechanism="process", max_retries=0, backoff=NO_WAIT)
def p_crash(how: str, ledger: str = "") -> None:
    if ledger:
        record(ledger, f"crash {os.getpid()}")
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        ctypes.string_at(0)
    os.kill(os.getpid(), signal.SIGKILL)


@task(placeholder, mechanism="thread", max_retries=2, backoff=NO_WAIT)
def t_fail(ledger: str) -> None:
    record(ledger, "attempt")
    raise ValueError("always fails")


@task(placeholder, mechanism="thread", timeout=120_000, max_retries=3, backoff=NO_WAIT)
def t_loop(ledger: str, seconds: float) -> str:
    """Runs Python bytecode for ``seconds`` (an asynchronous exception lands at once)."""
    record(ledger, "start")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))
    record(ledger, "end")
    return "looped"


@task(placeholder, mechanism="process", timeout=120_000, max_retries=3, backoff=NO_WAIT)
def p_wait(ledger: str, seconds: float) -> str:
    """Sleeps ``seconds`` in a task process."""
    record(ledger, f"start {os.getpid()}")
    time.sleep(seconds)
    record(ledger, "end")
    return "waited"


@task(placeholder, mechanism="process", backoff=NO_WAIT)
def p_loaded(module: str) -> bool:
    """Whether ``module`` is loaded in the task process."""
    import sys

    return module in sys.modules


ALL = [
    p_echo,
    t_echo,
    p_ledger,
    t_ledger,
    p_sleep,
    t_spin,
    t_stuck,
    p_crash,
    t_fail,
    t_loop,
    p_wait,
    p_loaded,
]


def bind(broker: Broker, result_store: ResultStore | None = None) -> None:
    """Point every task here at ``broker`` (and ``result_store``)."""
    for each in ALL:
        each.broker = broker
        each.result_store = result_store
        each.store_result = result_store is not None
