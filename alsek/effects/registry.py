"""Tasks by name, in this process: how a worker finds the task a message names."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from alsek.exceptions import TaskNotFoundError

if TYPE_CHECKING:
    from alsek.effects.task import Task

_registry: dict[str, Task[Any, Any]] = {}
_registry_lock = threading.Lock()


def register(task: Task[Any, Any]) -> None:
    """Make ``task`` findable by name (a redefinition replaces the old one)."""
    with _registry_lock:
        _registry[task.name] = task


def lookup(name: str) -> Task[Any, Any]:
    """The task called ``name`` in this process."""
    try:
        return _registry[name]
    except KeyError:
        raise TaskNotFoundError(f"no task named {name!r} is defined in this process") from None
