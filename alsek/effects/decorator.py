"""The ``@task`` decorator: a function becomes a ``Task[P, R]`` (or a ``TriggerTask``).

The decorator is typed: ``@task(broker)`` over ``def add(a: int, b: int) -> int``
gives ``Task[[int, int], int]``, so a type checker checks direct calls,
``add.delay(...)`` and the type of ``add.result(...)``. With ``base_task`` the
object is an instance of that subclass, typed as ``Task[P, R]`` (Python's
typing cannot carry both a subclass and the function's parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast, overload

from apscheduler.triggers.base import BaseTrigger

from alsek.effects.async_task import AsyncTask, async_class
from alsek.effects.broker import Broker
from alsek.effects.result import ResultStore
from alsek.effects.scheduler import TriggerTask
from alsek.effects.signature import is_coroutine_function
from alsek.effects.task import P, R, Task
from alsek.exceptions import ValidationError
from alsek.pure.backoff import Backoff
from alsek.pure.durations import Duration
from alsek.pure.message import Mechanism

if TYPE_CHECKING:
    from typing_extensions import Unpack


class TaskOptions(TypedDict, total=False):
    """The options of ``@task`` (see ``Task`` for each)."""

    name: str | None
    queue: str | None
    priority: int
    timeout: Duration
    max_retries: int | None
    backoff: Backoff | None
    result_store: ResultStore | None
    mechanism: Mechanism
    base_task: type[Task[Any, Any]] | None
    store_result: bool | None
    max_redeliveries: int
    result_ttl: Duration | None


class TaskDecorator(Protocol):
    """What ``task(broker, ...)`` returns: turns ``Callable[P, R]`` into ``Task[P, R]``,
    and an ``async def`` returning ``R`` into ``AsyncTask[P, R]``."""

    @overload
    def __call__(  # type: ignore[overload-overlap, unused-ignore]
        self, function: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncTask[P, R]: ...

    @overload
    def __call__(self, function: Callable[P, R], /) -> Task[P, R]: ...


def task(
    broker: Broker, *, trigger: BaseTrigger | None = None, **options: Unpack[TaskOptions]
) -> TaskDecorator:
    """Decorate a function as a task on ``broker``.

    Options: ``name``, ``queue``, ``priority``, ``timeout``, ``max_retries``,
    ``backoff``, ``trigger``, ``result_store``, ``mechanism``,
    ``base_task`` (a ``Task`` subclass with your hooks), ``store_result``,
    ``max_redeliveries``, ``result_ttl``. With ``trigger`` the result is a ``TriggerTask``.
    The decorated function stays callable as a plain function.

    An ``async def`` function gives an ``AsyncTask[P, R]`` (``R`` the awaited
    result): its runs are awaited on an event loop (see ``AsyncTask``).

    The result is typed ``Task[P, R]`` with or without a trigger: APScheduler's
    triggers carry no types, so a separate typing for triggered tasks would
    make every triggered task untyped. At run time it is a ``TriggerTask``;
    ``isinstance(t, TriggerTask)`` narrows it for ``pause()`` and friends.
    """
    if not isinstance(broker, Broker):
        raise ValidationError(
            f"@task needs a Broker as its first argument, got {broker!r} (write @task(broker, ...))"
        )
    settings: dict[str, Any] = dict(options)
    base = settings.pop("base_task", None)

    def decorator(function: Callable[P, R]) -> Task[P, R]:
        if base is not None and not (isinstance(base, type) and issubclass(base, Task)):
            raise ValidationError(f"base_task must be a subclass of Task, got {base!r}")
        cls: type[Any] = base or (Task if trigger is None else TriggerTask)
        extra: dict[str, Any] = {}
        if trigger is not None:
            extra["trigger"] = trigger
            if not issubclass(cls, TriggerTask):
                cls = type(f"Trigger{cls.__name__}", (cls, TriggerTask), {})
        if is_coroutine_function(function):
            cls = async_class(cls)
        created: Task[P, R] = cls(function, broker, **extra, **settings)
        return created

    return cast(TaskDecorator, decorator)
