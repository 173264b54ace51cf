"""``AsyncTask``: the type of a task whose function is ``async def``.

At run time it is a ``Task`` like any other (``is_async`` tells how its
runs go); what it adds is typing: calling it directly gives a coroutine of
the function's result, while ``result(...)``/``result_async(...)`` give the
result itself.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from alsek.effects.task import P, R, Task


class AsyncTask(Task[P, R]):
    """A task whose function is ``async def`` (``@task`` makes one of those).

    Its runs are awaited on an event loop: the worker pool's loop thread for
    ``mechanism='thread'`` (the default for ``async def``), up to the pool's
    ``max_async`` at once; a task process's own loop for ``'process'``. A
    timeout cancels the coroutine (``asyncio.timeout``).
    """

    def __call__(  # type: ignore[override]
        self, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        """Call the function directly: a coroutine to await, here and now."""
        coroutine: Coroutine[Any, Any, R] = self.function(*args, **kwargs)  # type: ignore[assignment]
        return coroutine


def async_class(cls: type[Task[Any, Any]]) -> type[Task[Any, Any]]:
    """``cls`` (a ``Task`` subclass with a user's hooks, a ``TriggerTask``) made an
    ``AsyncTask`` too."""
    if issubclass(cls, AsyncTask):
        return cls
    if cls is Task:
        return AsyncTask
    return type(f"Async{cls.__name__}", (AsyncTask, cls), {})
