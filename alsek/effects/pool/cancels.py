"""Stopping running jobs whose message was cancelled (``alsek.pure.cancel``).

The monitor calls ``Canceller.check`` on every tick; every ``CANCEL_POLL_MS``
it asks the backend, in one round trip, whether any running job has a
cancel request. A thread job then gets ``TaskCancelledError`` raised in its
thread; a coroutine is cancelled (``asyncio.CancelledError`` inside it); a
process job's child is terminated. Either way the runner's outcome is read
as ``Cancelled`` (``review``), so the message is removed and never retried.
A job that ignores the stop is forced after a grace: its process is
killed, or its thread (or coroutine) abandoned and the cancellation
recorded here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from alsek import defaults
from alsek.effects.backends.operations import Operations
from alsek.effects.clock import monotonic_ns, utcnow_ms
from alsek.effects.events import Finished, Observers
from alsek.effects.execution import Executor
from alsek.effects.pool.slots import Slots, kind_of
from alsek.effects.runners.job import Job
from alsek.exceptions import BackendUnavailableError, TaskCancelledError
from alsek.pure.cancel import StopAction, stop_step
from alsek.pure.lifecycle import JobEvent
from alsek.pure.message import SLOT_KINDS
from alsek.pure.outcome import Cancelled, Outcome, Succeeded

log = logging.getLogger("alsek.worker")

#: How long a stopped task may take to stop before it is forced.
STOP_GRACE_MS = 2_000
RUNNING_REASON = "cancelled while running"


class Canceller:
    """Finds cancel requests for one pool's running jobs and stops those jobs."""

    def __init__(
        self,
        slots: Slots,
        operations: Operations,
        executor: Executor,
        observers: Observers,
        every_ms: int = defaults.CANCEL_POLL_MS,
        grace_ms: int = STOP_GRACE_MS,
    ) -> None:
        self.slots = slots
        self.operations = operations
        self.executor = executor
        self.observers = observers
        self.every_ms = every_ms
        self.grace_ms = grace_ms
        #: Jobs being stopped, by lease token: the job and when it was first stopped.
        self.stopping: dict[str, tuple[Job, int | None]] = {}
        self.next_poll = 0
        self._failing = False

    def review(self, job: Job, outcome: Outcome) -> Outcome:
        """The outcome to record for ``job``: a cancelled job that did not succeed
        after all was cancelled (a terminated process reads as a crash otherwise)."""
        entry = self.stopping.pop(job.token, None)
        if entry is None or isinstance(outcome, Succeeded):
            return outcome
        return outcome if isinstance(outcome, Cancelled) else Cancelled(RUNNING_REASON)

    def check(self, now: int) -> int:
        """Poll for requests when due, and stop or force jobs; returns when to look again."""
        running = [job for kind in SLOT_KINDS for job in self.slots.running(kind)]
        live = {job.token for job in running}
        for token in [t for t in self.stopping if t not in live]:
            del self.stopping[token]  # it ended (or was let go) meanwhile
        if running and now >= self.next_poll:
            self.next_poll = now + self.every_ms
            self._poll(running)
        due = self.next_poll if running else now + self.every_ms
        for token, (job, stopped_at) in list(self.stopping.items()):
            action, again = stop_step(now, stopped_at, self.grace_ms)
            if action is StopAction.STOP:
                self.stopping[token] = (job, now)
                self._stop(job)
            elif action is StopAction.FORCE:
                del self.stopping[token]
                self._force(job)
            due = min(due, again)
        return due

    def _poll(self, running: list[Job]) -> None:
        try:
            requested = self.operations.cancel_requested([job.claim.name for job in running])
        except Exception as error:  # outages: look again next time
            if not self._failing:
                level = (
                    logging.WARNING if isinstance(error, BackendUnavailableError) else logging.ERROR
                )
                log.log(level, "could not look for cancel requests (%s); retrying", error)
            self._failing = True
            return
        self._failing = False
        for job, wanted in zip(running, requested, strict=True):
            if wanted and job.token not in self.stopping:
                log.warning("%s was cancelled; stopping it", job.label)
                self.stopping[job.token] = (job, None)

    @staticmethod
    def _stop(job: Job) -> None:
        runner = job.worker
        if runner is None:
            return
        if kind_of(job) in ("thread", "async"):
            runner.interrupt(job, TaskCancelledError)
            return
        process = runner.process if runner.job is job else None  # a task process
        if process is not None and process.is_alive():
            process.terminate()

    def _force(self, job: Job) -> None:
        runner = job.worker
        if kind_of(job) == "process":
            process = runner.process if runner is not None and runner.job is job else None
            if process is not None and process.is_alive():
                log.error("%s ignored the stop; killing its process", job.label)
                process.kill()
            return
        # A thread stuck in C code never sees the exception (nor does a coroutine that
        # blocks the loop or swallows the cancellation): record the cancellation
        # ourselves and abandon it (as for a timeout).
        thread = kind_of(job) == "thread"
        log.error(
            "%s ignored the stop; abandoning its %s", job.label, "thread" if thread else "coroutine"
        )
        stopped = Cancelled(RUNNING_REASON)
        finish_abandoned(
            self.slots, self.executor, self.observers, job, lambda: stopped, worker_lost=thread
        )


def finish_abandoned(
    slots: Slots,
    executor: Executor,
    observers: Observers,
    job: Job,
    outcome_of: Callable[[], Outcome],
    worker_lost: bool = True,
) -> None:
    """Record the outcome (``outcome_of()``, asked only if the job is still ours) of a
    thread job whose thread is given up on (stuck past a timeout or a stop), or of a
    coroutine given up on, tell the observers, and free its slot (without its thread,
    with ``worker_lost``; the event loop stays)."""
    if not slots.step(job, JobEvent.FINISH):
        return  # it finished after all
    try:
        assert job.task is not None and job.message is not None
        outcome = outcome_of()
        effects = executor.decide(job.task, job.message, outcome)
        executor.carry_out(job.task, job.message, effects, job.lease_expires)
        at, ended_ns = utcnow_ms(), monotonic_ns()
        observers.emit(
            Finished(job.message, job.mechanism, outcome, effects, None, job.token, at, ended_ns)
        )
    except Exception:
        log.exception("could not record the outcome of %s", job.label)
    finally:
        slots.step(job, JobEvent.RECORDED, worker_lost=worker_lost)


def no_review(job: Job, outcome: Outcome) -> Outcome:
    """The outcome as the runner reported it."""
    return outcome


Review = Callable[[Job, Outcome], Outcome]
