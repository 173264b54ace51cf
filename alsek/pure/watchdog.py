"""The pool's watchdog: what to do with tasks that overrun their timeout.

Part of the worker pool's policy (``alsek.pure.pool``). A thread task gets
``TaskTimeoutError`` raised inside it, then is abandoned if it ignores it; a
coroutine is cancelled by its own ``asyncio.timeout`` and abandoned only if
that did not end it; a task process is killed (a coroutine's a little later,
so that its own timeout ends it first). The monitor also warns when it, or
the pool's event loop, was kept from running.
"""

from __future__ import annotations

import enum


class TimeoutAction(enum.Enum):
    """What the watchdog does to a running task that overran its timeout."""

    NOTHING = "nothing"
    #: Raise ``TimeoutError`` inside the task's thread.
    RAISE = "raise"
    #: The thread ignored it (stuck in C code): record the timeout, abandon the thread.
    ABANDON = "abandon"


def thread_timeout(
    now: int, deadline: int, interrupted_at: int | None, grace_ms: int
) -> tuple[TimeoutAction, int]:
    """The watchdog's step for one thread task, and when to look at it again."""
    if interrupted_at is None:
        if now < deadline:
            return TimeoutAction.NOTHING, deadline
        return TimeoutAction.RAISE, now + grace_ms
    if now < interrupted_at + grace_ms:
        return TimeoutAction.NOTHING, interrupted_at + grace_ms
    return TimeoutAction.ABANDON, now


def coroutine_timeout(now: int, deadline: int, grace_ms: int) -> tuple[TimeoutAction, int]:
    """The watchdog's step for one coroutine, and when to look at it again.

    A coroutine's own ``asyncio.timeout`` cancels it at ``deadline``; the
    watchdog only steps in when that did not end it within ``grace_ms`` (it
    blocks the event loop, or swallows the cancellation): then the timeout
    is recorded without it (``ABANDON``)."""
    if now < deadline + grace_ms:
        return TimeoutAction.NOTHING, deadline + grace_ms
    return TimeoutAction.ABANDON, now


def kill_deadline(started: int, timeout_ms: int, is_async: bool, grace_ms: int) -> int:
    """When the pool kills a task process still running a task started at ``started``:
    at its timeout, or for a coroutine ``grace_ms`` later, so that the coroutine's own
    ``asyncio.timeout`` ends it first (its ``finally`` blocks run, its process lives)."""
    return started + timeout_ms + (grace_ms if is_async else 0)


def loop_stalled(now: int, last_beat: int, stall_ms: int) -> bool:
    """Whether an event loop whose periodic beat last ran at ``last_beat`` has been
    blocked (a coroutine calling blocking code) for at least ``stall_ms``."""
    return now - last_beat >= stall_ms


def starved(late_ms: int, lease_ms: int) -> bool:
    """Whether the monitor woke so late (a thread holding the GIL) that leases were at risk."""
    return late_ms > lease_ms // 2
