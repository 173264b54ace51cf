"""The ``@task`` decorator: a function becomes a ``Task`` (or a ``TriggerTask``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alsek.effects.broker import Broker
from alsek.effects.scheduler import TriggerTask
from alsek.effects.task import Task
from alsek.exceptions import ValidationError


def task(broker: Broker, **options: Any) -> Callable[[Callable[..., Any]], Task]:
    """Decorate a function as a task on ``broker``.

    Options: ``name``, ``queue``, ``priority``, ``timeout``, ``max_retries``,
    ``backoff``, ``trigger``, ``result_store``, ``mechanism``,
    ``base_task`` (a ``Task`` subclass with your hooks), ``store_result``,
    ``max_redeliveries``. With ``trigger`` the result is a ``TriggerTask``.
    The decorated function stays callable as a plain function.
    """
    if not isinstance(broker, Broker):
        raise ValidationError(
            f"@task needs a Broker as its first argument, got {broker!r} (write @task(broker, ...))"
        )
    base = options.pop("base_task", None)
    trigger = options.pop("trigger", None)

    def decorator(function: Callable[..., Any]) -> Task:
        if base is not None and not (isinstance(base, type) and issubclass(base, Task)):
            raise ValidationError(f"base_task must be a subclass of Task, got {base!r}")
        if trigger is not None:
            cls: type[TriggerTask] = base or TriggerTask  # type: ignore[assignment]
            if not issubclass(cls, TriggerTask):
                cls = type(f"Trigger{cls.__name__}", (cls, TriggerTask), {})
            return cls(function, broker, trigger=trigger, **options)
        return (base or Task)(function, broker, **options)

    return decorator
