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
    started: Callable[[Job], None]  # the task starts now (its timeout runs)
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
                        with self.lock:
                            self.job = None
                        self.hooks.broken(current, error)
                        job = None
        finally:
            self.cleanup()

    def step(self, job: Job) -> Job | None:
        """Run ``job``; return the next job to run, if any."""
        raise NotImplementedError  # abstract: each runner defines it

    def cleanup(self) -> None:
        """Release what the runner holds when it exits."""
