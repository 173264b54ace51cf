"""Event loops for synchronous code: running a coroutine to its end, and deadlines.

``run_coroutine`` runs a coroutine from synchronous code on this thread's
own event loop, kept for the next call (a task process has one loop for
its life). ``settle``/``settle_now`` accept hooks that may be ``async def``
or not. ``Deadline`` is ``asyncio.timeout`` (with its equivalent on 3.10).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


async def settle(value: Any) -> Any:
    """``value``, awaited if it is awaitable (a hook may be ``async def`` or not)."""
    if inspect.isawaitable(value):
        return await value
    return value


def settle_now(value: Any) -> Any:
    """``value``, run to its end here if it is awaitable (an ``async def`` hook of a
    synchronous task)."""
    if inspect.isawaitable(value):
        return run_coroutine(settle(value))
    return value


class _ThreadLoop:
    """One thread's event loop for running coroutines from synchronous code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()


_local = threading.local()


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from synchronous code: on this thread's own event
    loop (kept for the next call), or, when a loop already runs in this thread (a
    test inside an event loop), on a fresh loop in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        holder: _ThreadLoop | None = getattr(_local, "loop", None)
        if holder is None or holder.loop.is_closed():
            holder = _local.loop = _ThreadLoop()
        return holder.loop.run_until_complete(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="alsek-coroutine") as helper:
        return helper.submit(asyncio.run, coroutine).result()


class Deadline:
    """``asyncio.timeout`` where it exists (3.11+), else the same by hand: cancel the
    current task after ``seconds`` and turn that cancellation into ``TimeoutError``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._scope: Any = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    async def __aenter__(self) -> Deadline:
        if sys.version_info >= (3, 11):
            self._scope = asyncio.timeout(self.seconds)
            await self._scope.__aenter__()
        else:  # pragma: no cover - Python 3.10
            current = asyncio.current_task()
            assert current is not None
            self._handle = asyncio.get_running_loop().call_later(self.seconds, self._fire, current)
        return self

    def _fire(self, current: asyncio.Task[Any]) -> None:  # pragma: no cover - Python 3.10
        self._fired = True
        current.cancel()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._scope is not None:
            handled: bool | None = await self._scope.__aexit__(kind, error, tb)
            return handled
        if self._handle is not None:  # pragma: no cover - Python 3.10
            self._handle.cancel()
            if self._fired and kind is asyncio.CancelledError:
                raise TimeoutError from error
        return None

    def expired(self) -> bool:
        """Whether this deadline (not some other timeout in the task) ended the run."""
        if self._scope is not None:
            return bool(self._scope.expired())
        return self._fired  # pragma: no cover - Python 3.10
