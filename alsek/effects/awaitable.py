"""``await``-able producer and result calls of a task, for asyncio apps.

``await task.generate_async(...)``, ``await task.delay_async(...)`` and
``await task.result_async(message, timeout=...)`` never block the event
loop: the message is built and checked in the caller (bad arguments fail
there, as with ``generate``), and only the write to the backend runs in a
worker thread (``asyncio.to_thread``: one short round trip). Waiting for a
result is ``ResultStore.get_async``: it polls from the event loop, so no
thread waits on the backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from alsek.effects.message import Message
from alsek.effects.result import ResultStore
from alsek.exceptions import ValidationError
from alsek.pure.durations import Duration

P = ParamSpec("P")
R = TypeVar("R")


class AwaitableCalls(Generic[P, R]):
    """The ``async`` twins of ``generate``, ``delay`` and ``result`` (mixed into ``Task``)."""

    if TYPE_CHECKING:
        name: str
        result_store: ResultStore | None
        generate: Callable[..., Message]
        _submit: Callable[[Message], None]

        @property
        def deferred(self) -> bool: ...

    async def generate_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        priority: int | None = None,
        metadata: Any = None,
        result_ttl: Duration | None = None,
        uuid: str | None = None,
        delay: Duration | None = None,
        previous_result: Any = None,
        callback: Message | Sequence[Message] | None = None,
        queue: str | None = None,
        timeout: Duration | None = None,
        submit: bool = True,
    ) -> Message:
        """``generate``, awaited: the message is built here and submitted from a worker
        thread, so the event loop is never blocked. Same arguments, same errors."""
        submit_now = submit and not self.deferred
        message = self.generate(
            args=args,
            kwargs=kwargs,
            priority=priority,
            metadata=metadata,
            result_ttl=result_ttl,
            uuid=uuid,
            delay=delay,
            previous_result=previous_result,
            callback=callback,
            queue=queue,
            timeout=timeout,
            submit=False,  # (consumes a pending ``defer()``, as generate does)
        )
        if submit_now:
            await asyncio.to_thread(self._submit, message)
        return message

    async def delay_async(self, *args: P.args, **kwargs: P.kwargs) -> Message:
        """``delay``, awaited: ``await add.delay_async(1, b=2)`` submits a call
        (checked against the function's signature by a type checker)."""
        return await self.generate_async(args=args, kwargs=kwargs)

    async def result_async(
        self, message: Message | str, timeout: Duration = 0, keep: bool = False
    ) -> R:
        """``result``, awaited (``ResultStore.get_async`` on this task's store): waits up
        to ``timeout`` for the result without blocking the event loop.

        Raises:
            ValidationError: this task has no ``result_store``.
            NotFoundError: no result (``timeout`` 0).
            ResultTimeoutError: none within ``timeout``.
            TaskFailedError: the task ended for good without a result.
        """
        if self.result_store is None:
            raise ValidationError(f"task {self.name!r} has no result_store to read results from")
        value: R = await self.result_store.get_async(message, timeout=timeout, keep=keep)
        return value
