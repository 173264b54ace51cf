"""What thread workers and process slots share: a mailbox loop and the pool's hooks."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import attrs

from alsek.effects.runners.job import Job
from alsek.pure.outcome import Outcome


@attrs.frozen
class Hooks:
    """How a runner talks to its pool."""

    prepare: Callable[[Job], bool]  # decode and check; False: the job is gone
    started: Callable[[Job], bool]  # the task starts now (its timeout runs); False: don't
    complete: Callable[[Job, Outcome], Job | None]  # record; maybe the next job
    retire: Callable[[Any], bool]  # idle too long: may this runner exit?
    broken: Callable[[Job, BaseException], None]  # an internal error with a job
    idle_s: float


class Runner(threading.Thread):
    """A long-lived worker: runs jobs from its mailbox until retired or sent None."""

    def __init__(self, hooks: Hooks, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.hooks = hooks
        self.mailbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.job: Job | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    job = self.mailbox.get(timeout=self.hooks.idle_s)
                except queue.Empty:
                    if self.hooks.retire(self):
                        return
                    continue
                if job is None:
                    return
                # A finished job may hand back the runner's next job (claimed while
                # acking), so the runner goes on without the dispatcher.
                while job is not None:
                    current = job
                    try:
                        job = self.step(current)
                    except Exception as error:  # a bug of ours must not kill the runner
                        job = None
                        self._recover(current, error)
        finally:
            self.cleanup()

    def _recover(self, job: Job, error: BaseException) -> None:
        """After an internal error with ``job``: reset the runner, let the pool let it go."""
        try:
            with self.lock:
                self.job = None
            self.reset()
        finally:
            try:
                self.hooks.broken(job, error)
            except Exception:  # the pool's own bookkeeping failed: nothing more to do here
                pass

    def reset(self) -> None:
        """Bring the runner back to a clean state after an internal error."""

    def step(self, job: Job) -> Job | None:
        """Run ``job``; return the next job to run, if any."""
        raise NotImplementedError  # abstract: each runner defines it

    def cleanup(self) -> None:
        """Release what the runner holds when it exits."""
