"""Starting runners: worker threads, and process slots with their multiprocessing context."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alsek.effects.runners.base import Hooks, Runner
from alsek.effects.runners.process import (
    ProcessSlot,
    multiprocessing_module,
    preload,
    start_method,
    task_modules,
)
from alsek.effects.runners.thread import ThreadWorker
from alsek.effects.task import Task
from alsek.pure.message import Mechanism


class RunnerFactory:
    """Makes the runners of one pool (``hooks`` is set by the pool before the first)."""

    def __init__(self, tasks: Iterable[Task[Any, Any]]) -> None:
        self.modules = task_modules([task.function.__module__ for task in tasks])
        self.hooks: Hooks | None = None
        self._context: Any = None

    def new(self, mechanism: Mechanism) -> Runner:
        """A new runner of ``mechanism`` (not started)."""
        assert self.hooks is not None, "the pool sets the runners' hooks first"
        if mechanism == "thread":
            return ThreadWorker(self.hooks)
        if self._context is None:
            mp = multiprocessing_module()
            self._context = preload(mp, start_method(mp), self.modules)
        return ProcessSlot(self.hooks, self._context, self.modules)

    @staticmethod
    def join(runner: Runner) -> None:
        """Wait a little for a process slot to stop its child (threads are daemons)."""
        if isinstance(runner, ProcessSlot):
            runner.join(5)
