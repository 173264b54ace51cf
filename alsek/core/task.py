"""Tasks (``alsek.core.task``)."""

from typing import TYPE_CHECKING, Any

from alsek.effects.async_task import AsyncTask
from alsek.effects.decorator import task
from alsek.effects.task import Task

if TYPE_CHECKING:
    from alsek.effects.scheduler import TriggerTask

__all__ = ["AsyncTask", "Task", "TriggerTask", "task"]


def __getattr__(name: str) -> Any:
    """``TriggerTask`` on first use: it brings APScheduler, which a worker without
    triggers does without."""
    if name == "TriggerTask":
        from alsek.effects.scheduler import TriggerTask

        return TriggerTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
