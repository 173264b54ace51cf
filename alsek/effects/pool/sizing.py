"""What a worker pool is made of: its broker and the slots its tasks need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alsek.effects.broker import Broker
from alsek.effects.task import Task
from alsek.exceptions import ValidationError
from alsek.pure.capacity import CLAIM_ORDER, Capacity
from alsek.pure.validate import check_int


def broker_of(tasks: Sequence[Task[Any, Any]]) -> Broker:
    """The broker every task uses (brokers on the same store and namespace count as one)."""
    brokers: dict[Any, Broker] = {}
    for task in tasks:
        brokers.setdefault(task.broker.backend.identity(), task.broker)
    if len(brokers) > 1:
        names = ", ".join(f"{t.name} -> {t.broker!r}" for t in tasks)
        raise ValidationError(f"a worker pool's tasks must share one broker; got {names}")
    return next(iter(brokers.values()))


def async_slots(tasks: Iterable[Task[Any, Any]], max_async: int) -> int:
    """The event loop's slots: ``max_async`` when a task needs them (``async def`` with
    ``mechanism='thread'``), else none (no loop, and no claims of coroutines that this
    pool would not know)."""
    check_int("max_async", max_async, 0)
    needing = sorted(task.name for task in tasks if task.is_async and task.mechanism == "thread")
    if needing and max_async == 0:
        raise ValidationError(
            f"max_async=0, but task(s) {', '.join(needing)} are async def with "
            "mechanism='thread': they run on the pool's event loop; give max_async >= 1"
        )
    return max_async if needing else 0


def slot_limits(capacity: Capacity) -> dict[str, int]:
    """Slots per kind, as the registry and metrics show them: threads and processes,
    and the event loop's when the pool has one."""
    return {
        kind: capacity.limit(kind)
        for kind in CLAIM_ORDER
        if kind != "async" or capacity.max_async
    }
