"""Task processes' reports, mirrored as jobs in the pool; and the jobs of processes that died.

A task process records its own outcomes; the pool mirrors its current
claim as a ``Job`` (``alsek.pure.lifecycle``) so that the lease is renewed,
the slot counted, observers told, and, when the process dies or overruns
its timeout, the job finished here:

* never started (died decoding it): read back from the backend and
  recorded as a crash, so a payload that kills processes ends in the
  dead letters after ``max_redeliveries``;
* running: recorded as a crash, or as a timeout when the pool killed it;
* its outcome was being recorded: recorded again from the reported
  effects (every write is fenced by the lease, so nothing is written
  twice), or, for a success whose ack was riding on the next claim,
  acked here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from alsek.effects.clock import monotonic_ms, monotonic_ns, utcnow_ms
from alsek.effects.consumer import Consumer
from alsek.effects.events import (
    ClaimAnswered,
    Finished,
    Observers,
    Started,
    claimed_event,
    released_event,
)
from alsek.effects.execution import Executor
from alsek.effects.message import Message
from alsek.effects.pool.slots import Slots
from alsek.effects.runners.job import Job
from alsek.effects.runners.thread import timed_out
from alsek.effects.task import Task
from alsek.pure.decisions import Ack, Effect
from alsek.pure.lifecycle import JobEvent, JobState
from alsek.pure.outcome import Crashed, Outcome
from alsek.pure.queue_model import Claim
from alsek.pure.watchdog import kill_deadline

log = logging.getLogger("alsek.worker")
#: How long after its timeout a task process running a coroutine is killed: the
#: coroutine's own ``asyncio.timeout`` ends it first.
KILL_GRACE_MS = 2_000


@attrs.define
class Reported:
    """What a process said about a task that ended (``outcome`` report)."""

    outcome: Outcome | None
    effects: tuple[Effect, ...]
    duration_ms: int
    ack_only: bool
    ended_ns: int


class Mirror:
    """Turns reports into job steps (on the supervisor's thread)."""

    def __init__(
        self,
        slots: Slots,
        tasks: Mapping[str, Task[Any, Any]],
        consumer: Consumer,
        executor: Executor,
        observers: Observers,
        lease_ms: int,
    ) -> None:
        self.slots = slots
        self.tasks = tasks
        self.consumer = consumer
        self.executor = executor
        self.observers = observers
        self.lease_ms = lease_ms
        self.ended: dict[str, Reported] = {}
        #: Reads the outcome of a job whose process died (a cancelled job's process was
        #: terminated on purpose: ``cancels.Canceller.review``).
        self.review: Callable[[Job, Outcome], Outcome] = lambda job, outcome: outcome

    def report(self, child: Any, report: tuple[Any, ...]) -> None:
        """One report of ``child``'s."""
        kind = report[0]
        if kind == "answered":
            _, asked, tokens, acked, waited, sent_ns, answered_ns = report
            event = ClaimAnswered(
                "runner", asked, tokens, acked, waited, sent_ns, utcnow_ms(), clock_ns=answered_ns
            )
            self.observers.emit(event)
            return
        if kind == "claimed":
            # ``left``: how much of the lease the process saw left (a late reply has
            # less than a whole lease).
            _, name, queue, token, deliveries, left = report
            claim = Claim(name, queue, None, token, deliveries, 0, "process")
            child.job = self.slots.adopt(claim, min(left, self.lease_ms), child)
            self.observers.emit(claimed_event(claim))
            return
        job = child.job
        if job is None or job.token != report[1]:
            log.debug("a report about a job the pool does not hold: %r", report[:2])
            return
        if kind == "started":
            self._started(job, report[2], report[3])
        elif kind == "outcome":
            _, _, outcome, effects, duration, ack_only, ended_ns = report
            self.ended[job.token] = Reported(outcome, effects, duration, ack_only, ended_ns)
            self.slots.step(job, JobEvent.FINISH)
        elif kind == "recorded":
            self._recorded(child, job)
        elif kind == "released":
            if self.slots.step(job, JobEvent.REFUSE):
                self.observers.emit(released_event(job.claim, report[2]))
            self._idle(child)
        elif kind == "abandoned":  # not run: its lease could not be vouched for
            if self.slots.step(job, JobEvent.ABANDON):
                self.observers.emit(released_event(job.claim, "abandoned"))
            self._idle(child)

    def overdue(self, job: Job, now: int) -> bool:
        """Whether ``job``'s task ran past its deadline."""
        return job.state is JobState.RUNNING and job.deadline is not None and now >= job.deadline

    def _started(self, job: Job, message: Message, started_ns: int) -> None:
        job.message = message
        job.task = self.tasks.get(message.task_name)
        now = monotonic_ms()
        job.started_at = now
        job.deadline = kill_deadline(now, message.timeout, message.is_async, KILL_GRACE_MS)
        if self.slots.step(job, JobEvent.START):
            self.observers.emit(Started(message, "process", utcnow_ms(), clock_ns=started_ns))

    def _recorded(self, child: Any, job: Job) -> None:
        ended = self.ended.pop(job.token, None)
        self.slots.step(job, JobEvent.RECORDED)
        if ended is not None and ended.outcome is not None and job.message is not None:
            self.observers.emit(
                Finished(
                    job.message,
                    "process",
                    ended.outcome,
                    ended.effects,
                    ended.duration_ms,
                    job.token,
                    utcnow_ms(),
                    ended.ended_ns,
                )
            )
        self._idle(child)

    @staticmethod
    def _idle(child: Any) -> None:
        child.job = None
        child.idle_since = monotonic_ms()

    # -- processes that died ----------------------------------------------------------

    def lost(self, child: Any, job: Job, how: str, timed_out_: bool) -> None:
        """``child`` died (or was killed at its deadline) holding ``job``: finish it.

        Recording may wait out a backend outage, so it runs on its own thread."""
        self._idle(child)
        if job.state not in (JobState.CLAIMED, JobState.RUNNING, JobState.RECORDING):
            return  # handed back at shutdown, or already done
        name = f"alsek-recover-{job.token[:6]}"
        threading.Thread(
            target=self._finish_lost, args=(job, how, timed_out_), daemon=True, name=name
        ).start()

    def _finish_lost(self, job: Job, how: str, timed_out_: bool) -> None:
        ended = self.ended.pop(job.token, None)
        outcome: Outcome | None = None
        effects: tuple[Effect, ...] = ()
        try:
            if job.state is JobState.RECORDING and ended is not None:
                outcome, effects = ended.outcome, self._redo(job, ended)
            elif self._load(job) and self.slots.step(job, JobEvent.FINISH):
                assert job.task is not None and job.message is not None
                crashed = Crashed(f"task process died ({how})")
                outcome = self.review(job, timed_out(job) if timed_out_ else crashed)
                effects = self.executor.decide(job.task, job.message, outcome)
                self.executor.carry_out(job.task, job.message, effects, job.lease_expires)
            else:
                if self.slots.step(job, JobEvent.ABANDON):  # its lease expires: redelivered
                    self.observers.emit(released_event(job.claim, "abandoned"))
                return
        except Exception:
            log.exception("could not record what became of %s", job.label)
        self.slots.step(job, JobEvent.RECORDED)
        if job.message is not None and outcome is not None:
            at = utcnow_ms()
            ended_ns = ended.ended_ns if ended is not None else monotonic_ns()
            self.observers.emit(
                Finished(job.message, "process", outcome, effects, None, job.token, at, ended_ns)
            )

    def _redo(self, job: Job, ended: Reported) -> tuple[Effect, ...]:
        """The process died recording its outcome: record it here (all fenced)."""
        assert job.task is not None and job.message is not None
        effects = (Ack(job.message),) if ended.ack_only else ended.effects
        if effects:
            self.executor.carry_out(job.task, job.message, effects, job.lease_expires)
        return effects

    def _load(self, job: Job) -> bool:
        """Make sure ``job`` knows its message and task (read back if it never started)."""
        if job.message is None:
            job.message = self.consumer.fetch(job.claim)
        if job.message is not None and job.task is None:
            job.task = self.tasks.get(job.message.task_name)
        return job.message is not None and job.task is not None
