"""Tasks (``alsek.core.task``)."""

from alsek.effects.scheduler import TriggerTask
from alsek.effects.task import Task, task

__all__ = ["Task", "TriggerTask", "task"]
