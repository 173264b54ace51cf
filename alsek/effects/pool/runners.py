"""Starting runners: worker threads, the event loop, and the multiprocessing context of
task processes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alsek.effects.runners.base import Hooks
from alsek.effects.runners.loop import LoopRunner
from alsek.effects.runners.process import (
    multiprocessing_module,
    preload,
    start_method,
    task_modules,
)
from alsek.effects.runners.thread import ThreadWorker
from alsek.effects.task import Task
from alsek.pure.message import SlotKind


class RunnerFactory:
    """Makes the thread runners of one pool (``hooks`` is set by the pool before the
    first) and, once, the context task processes start in."""

    def __init__(self, tasks: Iterable[Task[Any, Any]]) -> None:
        self.modules = task_modules([task.function.__module__ for task in tasks])
        self.hooks: Hooks | None = None
        self._context: Any = None

    def new(self, kind: SlotKind) -> ThreadWorker | LoopRunner:
        """A new thread runner, or the pool's event loop (process-mechanism work is
        claimed by task processes)."""
        assert self.hooks is not None, "the pool sets the runners' hooks first"
        if kind == "async":
            return LoopRunner(self.hooks)
        if kind != "thread":
            raise RuntimeError("task processes claim for themselves: no process runner here")
        return ThreadWorker(self.hooks)

    def context(self) -> Any:
        """The multiprocessing context task processes start in (made on first use)."""
        if self._context is None:
            mp = multiprocessing_module()
            self._context = preload(mp, start_method(mp), self.modules)
        return self._context
