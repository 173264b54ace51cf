"""Tasks (``alsek.core.task``)."""

from alsek.effects.async_task import AsyncTask
from alsek.effects.decorator import task
from alsek.effects.scheduler import TriggerTask
from alsek.effects.task import Task

__all__ = ["AsyncTask", "Task", "TriggerTask", "task"]
