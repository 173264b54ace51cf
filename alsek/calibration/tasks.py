"""The probe tasks: they sleep as planned and fail when told to.

Every probe message carries its plan, one ``[duration_ms, fail]`` pair per
attempt: the attempt sleeps that long and raises ``PlannedFailure`` if told
to. One task per slot kind: a thread task, a process task and an
``async def`` task (it takes the pool's async slots). Task processes import
this module by name; the broker the tasks are created with never connects:
``bind`` points them at the backend being measured (task processes get it
from their pool).

With ``ALSEK_CALIBRATION_LEDGER`` set to a file, every attempt appends
``key attempt start end`` (``time.monotonic``, the clock of the pool's
events, system-wide on Linux) to it, so the time around the task's body
can be split into hand-off, sleep overshoot and the way back.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from alsek.effects.backends.lazy import LazyClient
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.broker import Broker
from alsek.effects.decorator import task
from alsek.effects.message import Message

#: The queue the probes use (nothing else should be in it).
PROBE_QUEUE = "alsek-calibration"
_placeholder = Broker(RedisBackend(LazyClient(lambda: None)))


class PlannedFailure(Exception):
    """The failure the plan scheduled for this attempt."""


class _Ledger:
    """Appends one line per attempt; one ``O_APPEND`` descriptor per process.

    Lines are short single ``write`` calls, so lines from concurrent
    threads and processes never interleave.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.pid = -1
        self.path = ""

    def write(self, line: str) -> None:
        """Append ``line`` (opening the file in this process on first use)."""
        path = os.environ.get("ALSEK_CALIBRATION_LEDGER")
        if not path:
            return
        if self.fd is None or self.pid != os.getpid() or self.path != path:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.pid, self.path = os.getpid(), path
        os.write(self.fd, line.encode())


_ledger = _Ledger()


def _step(plan: list[list[Any]], message: Message) -> tuple[int, bool]:
    duration_ms, fail = plan[min(message.retries, len(plan) - 1)]
    return int(duration_ms), bool(fail)


def _done(key: str, message: Message, start: float, fail: bool) -> None:
    _ledger.write(f"{key} {message.retries} {start:.6f} {time.monotonic():.6f}\n")
    if fail:
        raise PlannedFailure(f"{key}: attempt {message.retries} fails as planned")


def planned(key: str, plan: list[list[Any]], message: Message) -> None:
    """Run attempt ``message.retries`` of ``plan``: sleep, then fail if told to."""
    duration_ms, fail = _step(plan, message)
    start = time.monotonic()
    if duration_ms > 0:
        time.sleep(duration_ms / 1000)
    _done(key, message, start, fail)


async def planned_async(key: str, plan: list[list[Any]], message: Message) -> None:
    """``planned`` as a coroutine: it awaits its sleep (holding no thread)."""
    duration_ms, fail = _step(plan, message)
    start = time.monotonic()
    if duration_ms > 0:
        await asyncio.sleep(duration_ms / 1000)
    _done(key, message, start, fail)


def _probe(mechanism: str, function: Any) -> Any:
    return task(
        _placeholder,
        name=f"alsek-calibration-{mechanism}",
        queue=PROBE_QUEUE,
        mechanism="process" if mechanism == "process" else "thread",
        max_retries=0,
        timeout=60_000,
    )(function)


#: The probe task of each slot kind.
PROBES: dict[str, Any] = {
    "thread": _probe("thread", planned),
    "process": _probe("process", planned),
    "async": _probe("async", planned_async),
}


def bind(broker: Broker) -> None:
    """Point every probe task at ``broker``."""
    for probe in PROBES.values():
        probe.broker = broker
