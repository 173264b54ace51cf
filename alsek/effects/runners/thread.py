"""Thread runner: long-lived threads; timeouts raise ``TaskTimeoutError`` inside the task.

On CPython an exception can be scheduled in another thread
(``PyThreadState_SetAsyncExc``); it is raised at the thread's next Python
bytecode. A thread stuck in C code (``time.sleep``, a socket read) never
sees it: the pool's watchdog then records the timeout itself, abandons the
thread and starts another (the tour's caveats).
"""

from __future__ import annotations

import ctypes
import logging
import platform

from alsek.effects import outcomes
from alsek.effects.errors import error_info
from alsek.effects.runners.base import Hooks, Runner
from alsek.effects.runners.job import Job
from alsek.exceptions import TaskCancelledError, TaskTimeoutError
from alsek.pure.outcome import Cancelled, Failed, Outcome, TimedOut

log = logging.getLogger("alsek.worker")
CAN_INTERRUPT = platform.python_implementation() == "CPython"


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> bool:
    """Schedule ``exc_type`` to be raised in the thread ``thread_id``."""
    if not CAN_INTERRUPT:
        return False
    changed = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type)
    )
    return int(changed) == 1


def clear_in_thread(thread_id: int) -> None:
    """Cancel a scheduled but not yet raised exception in ``thread_id``."""
    if CAN_INTERRUPT:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


def timed_out(job: Job, raised: BaseException | None = None) -> TimedOut:
    """The outcome of ``job`` overrunning its timeout (asks ``do_retry``); ``raised`` is
    the error that stopped it (``TaskTimeoutError`` raised in its thread)."""
    assert job.task is not None and job.message is not None
    return outcomes.timed_out(job.task, job.message, raised)


class ThreadWorker(Runner):
    """Runs thread-mechanism jobs handed to it by the pool, until retired."""

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks, "alsek-thread-worker")

    def interrupt(self, job: Job, error: type[BaseException] = TaskTimeoutError) -> bool:
        """Raise ``error`` (``TaskTimeoutError``; ``TaskCancelledError`` for a cancel) in
        this thread if it is still running ``job``."""
        with self.lock:
            if self.job is not job or self.ident is None:
                return False
            return raise_in_thread(self.ident, error)

    def step(self, job: Job) -> Job | None:
        return self._run(job) if self.hooks.prepare(job) else None

    def _run(self, job: Job) -> Job | None:
        outcome: Outcome
        try:
            try:
                with self.lock:
                    self.job = job
                    job.worker = self
                if not self.hooks.started(job):
                    return None  # handed back before it started
                assert job.task is not None and job.message is not None
                outcome = job.task.run(job.message)
            finally:
                with self.lock:
                    self.job = None
                    if self.ident is not None:
                        clear_in_thread(self.ident)
        except TaskTimeoutError as error:
            outcome = timed_out(job, error)
        except TaskCancelledError:
            outcome = Cancelled("cancelled while running")
        except BaseException as error:  # a task's SystemExit is its failure
            outcome = Failed(error_info(error), retry_approved=False)
        return self.hooks.complete(job, outcome)
