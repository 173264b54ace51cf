"""What runners ask of their pool: prepare a job, start it, record its outcome, let it go.

Each answer is a step of the job's lifecycle (``alsek.pure.lifecycle``)
through ``Slots.step``, so whatever raises, a slot is given back exactly
once. What follows an outcome is ``alsek.pure.decisions``'; how a cheap
ack travels is ``alsek.pure.pool.route_ack``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from alsek.effects.clock import monotonic_ms, monotonic_ns, utcnow_ms
from alsek.effects.consumer import Consumer
from alsek.effects.events import (
    Finished,
    Observers,
    Started,
    released_event,
)
from alsek.effects.execution import Executor
from alsek.effects.message import Message
from alsek.effects.pool.slots import Slots, kind_of
from alsek.effects.runners.base import Hooks
from alsek.effects.runners.job import Job
from alsek.effects.task import Task
from alsek.pure.decisions import Ack, Effect
from alsek.pure.lifecycle import JobEvent, JobState
from alsek.pure.outcome import Outcome
from alsek.pure.pool import AckRoute
from alsek.pure.timing import task_deadline

log = logging.getLogger("alsek.worker")


class Completion:
    """The runners' side of the pool.

    Args:
        slots: the pool's shared state.
        tasks: the tasks the pool runs, by name.
        consumer: decodes claims; claims a process runner's next message.
        executor: decides and records outcomes.
        observers: told about starts, outcomes and releases.
        lease_ms: the pool's lease.
        idle_ms: how long an idle runner lives.
    """

    def __init__(
        self,
        slots: Slots,
        tasks: Mapping[str, Task[Any, Any]],
        consumer: Consumer,
        executor: Executor,
        observers: Observers,
        lease_ms: int,
        idle_ms: int,
    ) -> None:
        self.slots = slots
        self.tasks = tasks
        self.consumer = consumer
        self.executor = executor
        self.observers = observers
        self.lease_ms = lease_ms
        self.idle_ms = idle_ms
        #: Called when a thread task starts with a deadline (the monitor's alarm).
        self.on_thread_deadline: Callable[[int], None] = lambda deadline: None
        #: Called when a thread task ends, before its outcome is recorded.
        self.on_thread_end: Callable[[Job], None] = lambda job: None
        #: Reads a job's outcome before it is recorded (a cancelled job's crash is
        #: its cancellation: ``cancels.Canceller.review``).
        self.review: Callable[[Job, Outcome], Outcome] = lambda job, outcome: outcome

    def hooks(self) -> Hooks:
        """What a runner is given."""
        return Hooks(
            prepare=self.prepare,
            started=self.started,
            complete=self.complete,
            retire=lambda runner: self.slots.retire(runner, self.idle_ms),
            broken=self.broken,
            idle_s=self.idle_ms / 1000,
        )

    def prepare(self, job: Job) -> bool:
        """In the runner: decode the message, find its task, refuse what must not run."""
        if job.state is not JobState.CLAIMED:
            return False
        message = self.consumer.decode(job.claim)  # dead-letters poison itself
        task = None if message is None else self.tasks.get(message.task_name)
        if message is not None:
            job.message = message
            if self.executor.precheck(task, message) is None and task is not None:
                job.task = task
                return True
        if self.slots.step(job, JobEvent.REFUSE):
            self._released(job, "refused")
        return False

    def started(self, job: Job) -> bool:
        """The runner is about to run ``job``'s task; False: it must not (handed back)."""
        assert job.message is not None
        now = monotonic_ms()
        job.started_at = now
        job.deadline = task_deadline(now, job.message.timeout)
        if not self.slots.step(job, JobEvent.START):
            return False
        self.observers.emit(Started(job.message, job.mechanism, utcnow_ms()))
        if job.mechanism == "thread":
            self.on_thread_deadline(job.deadline)
        return True

    def complete(self, job: Job, outcome: Outcome, duration_ms: int | None = None) -> Job | None:
        """Record ``outcome`` of ``job`` (once), then give its slot back, or pass it to the
        runner's next job when the ack rode on that job's claim (returned)."""
        ended_ns = monotonic_ns()
        if not self.slots.step(job, JobEvent.FINISH):
            return None  # the watchdog finished it, or it was let go: not ours to record
        if job.mechanism == "thread":
            self.on_thread_end(job)
        outcome = self.review(job, outcome)
        follower: Job | None = None
        try:
            if duration_ms is None and job.started_at is not None:
                duration_ms = monotonic_ms() - job.started_at
            effects, ack = self._record(job, outcome, duration_ms)
            if ack is not None:
                follower = self._send_ack(job, ack)
            self._finished(job, outcome, effects, duration_ms, ended_ns)
        finally:
            if follower is None:
                self.slots.step(job, JobEvent.RECORDED)
        return follower

    def _record(
        self, job: Job, outcome: Outcome, duration_ms: int | None
    ) -> tuple[tuple[Effect, ...], Message | None]:
        """Decide and carry out; an ack-only success is returned instead, to travel cheaply."""
        effects: tuple[Effect, ...] = ()
        try:
            assert job.task is not None and job.message is not None
            effects = self.executor.decide(job.task, job.message, outcome, duration_ms)
            if len(effects) == 1 and isinstance(effects[0], Ack) and job.message.lock:
                return effects, job.message
            self.executor.carry_out(job.task, job.message, effects, job.lease_expires)
        except Exception:
            log.exception(
                "could not record the outcome of %s; its lease will expire and it will be "
                "redelivered",
                job.label,
            )
        return effects, None

    def _send_ack(self, job: Job, ack: Message) -> Job | None:
        route = self.slots.route_ack(kind_of(job), ack)
        if route is not AckRoute.NEXT_CLAIM:  # now (task processes record their own)
            try:
                assert job.task is not None
                self.executor.carry_out(job.task, ack, (Ack(ack),), job.lease_expires)
            except Exception:
                log.exception("could not ack %s; it will be redelivered", job.label)
        return None

    def broken(self, job: Job, error: BaseException) -> None:
        """A runner hit an unexpected error with ``job``: log it, let the job go (its
        lease expires and it is redelivered, counted as a crash), keep the runner."""
        log.error(
            "internal error while running %s; it will be redelivered when its lease expires",
            job.label,
            exc_info=error,
        )
        if self.slots.step(job, JobEvent.ABANDON):
            self._released(job, "abandoned")

    def _finished(
        self,
        job: Job,
        outcome: Outcome,
        effects: tuple[Effect, ...],
        duration_ms: int | None,
        ended_ns: int,
    ) -> None:
        if job.message is not None:
            message, token = job.message, job.token
            event = Finished(
                message, job.mechanism, outcome, effects, duration_ms, token, utcnow_ms(), ended_ns
            )
            self.observers.emit(event)

    def _released(self, job: Job, how: str) -> None:
        self.observers.emit(released_event(job.claim, how))
