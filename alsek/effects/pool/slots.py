"""The pool's shared state under its one lock: the policy's ``PoolState``, jobs, runners.

Everything here happens under ``cond`` (a ``threading.Condition``): the
pure transitions of ``alsek.pure.pool`` and ``alsek.pure.lifecycle`` are
applied and their answers carried out in the same critical section, so a
slot is given back exactly once and the dispatcher never misses a freed
slot. Nothing here talks to the backend; waking a dispatcher that waits on
the backend is ``interrupt``, given by the pool.

Runners are registered per slot kind, alive and idle: thread runners
(invariant: busy runners == running jobs, so a free slot always has an
idle runner or room to start one, ``capacity.workers_to_start``), task
processes (mirrored, they claim for themselves), and the one event loop
that runs every coroutine of the pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from alsek.effects.clock import monotonic_ms
from alsek.effects.message import Message
from alsek.effects.pool.acks import Acks
from alsek.effects.runners.job import Job
from alsek.pure import pool as policy
from alsek.pure.capacity import Capacity, to_retire, workers_to_start
from alsek.pure.lifecycle import LIVE, JobEvent, JobState
from alsek.pure.lifecycle import step as lifecycle_step
from alsek.pure.message import SLOT_KINDS, SlotKind
from alsek.pure.queue_model import Claim

log = logging.getLogger("alsek.worker")


def kind_of(job: Job) -> SlotKind:
    """The slot kind a job occupies (its claim's index: ``Message.slot_kind``)."""
    kind = job.claim.mechanism
    if kind == "thread":
        return "thread"
    return "async" if kind == "async" else "process"


class Slots:
    """One pool's lock, policy state, jobs and runners.

    Args:
        capacity: slot limits.
        new_runner: starts a runner of a mechanism (called under the lock).
        delegated: mechanisms whose runners claim for themselves (task processes).
        interrupt: wakes a dispatcher that waits on the backend (called
            without the lock).
    """

    def __init__(
        self,
        capacity: Capacity,
        new_runner: Callable[[SlotKind], Any],
        interrupt: Callable[[], None],
        delegated: frozenset[SlotKind] = frozenset(),
    ) -> None:
        self.cond = threading.Condition()
        self.state = policy.PoolState(capacity, delegated=delegated)
        self.jobs: dict[str, Job] = {}
        self.acks = Acks()
        self.workers: dict[SlotKind, list[Any]] = {kind: [] for kind in SLOT_KINDS}
        self.idle: dict[SlotKind, dict[Any, int]] = {kind: {} for kind in SLOT_KINDS}
        self.completed = 0
        self.new_runner = new_runner
        self.interrupt = interrupt

    @property
    def capacity(self) -> Capacity:
        """The pool's slot limits."""
        return self.state.capacity

    # -- the dispatcher's side -----------------------------------------------------

    def plan(self, batch: int) -> tuple[policy.Action, list[Message]]:
        """What the dispatcher does next, with the acks its claim carries."""
        with self.cond:
            self.state, action = policy.plan(self.state, batch)
            acks = self.acks.take() if isinstance(action, policy.Claim) else []
            return action, acks

    def answered(self, asked: int, got: int) -> None:
        """A claim answered."""
        with self.cond:
            self.state = policy.answered(self.state, asked, got)

    def failed(self, acks: list[Message]) -> None:
        """A claim failed: its acks go first next time."""
        with self.cond:
            self.acks.put_back(acks)
            self.state = policy.failed(self.state, len(acks))

    def wait_for_slot(self, timeout_s: float) -> None:
        """Paused: sleep until a slot frees (or ``timeout_s``)."""
        with self.cond:
            if self.state.phase is policy.Phase.PAUSED and not self.state.stopping:
                self.cond.wait(timeout_s)

    def dispatch(self, claim: Claim, lease_ms: int) -> Job:
        """Admit a claimed message and hand it to a runner of its mechanism."""
        job = Job(claim=claim, lease_expires=monotonic_ms() + lease_ms)
        kind = kind_of(job)
        with self.cond:
            self.state = policy.admit(self.state, kind)
            self.jobs[job.token] = job
        try:
            with self.cond:
                runner = self._idle_runner(kind)
                job.worker = runner
                runner.mailbox.put(job)
        except Exception:  # no runner for it: let it go (redelivered after its lease)
            log.exception("could not hand %s to a runner", claim.name)
            self.step(job, JobEvent.ABANDON)
        return job

    def adopt(self, claim: Claim, lease_ms: int, runner: Any) -> Job:
        """A runner that claims for itself (a task process) reports ``claim``, whose lease
        has ``lease_ms`` left: mirror it as a job holding one of its mechanism's slots."""
        job = Job(claim=claim, lease_expires=monotonic_ms() + lease_ms, worker=runner)
        with self.cond:
            self.state = policy.admit(self.state, kind_of(job))
            self.jobs[job.token] = job
        return job

    def _idle_runner(self, kind: SlotKind) -> Any:
        if kind == "async":
            return self._event_loop()
        idle = self.idle[kind]
        if idle:
            runner = next(iter(idle))
            del idle[runner]
            return runner
        alive = self.workers[kind]
        if not workers_to_start(0, 1, len(alive), self.capacity.limit(kind)):
            raise RuntimeError(f"no idle {kind} runner although a slot was free")
        runner = self.new_runner(kind)
        alive.append(runner)
        runner.start()
        return runner

    def _event_loop(self) -> Any:
        """The pool's one event loop runner (started with the first coroutine): it
        runs every coroutine at once, so it is never idle nor retired."""
        alive = self.workers["async"]
        if not alive:
            runner = self.new_runner("async")
            alive.append(runner)
            runner.start()
        return alive[0]

    # -- jobs ----------------------------------------------------------------------

    def step(self, job: Job, event: JobEvent, worker_lost: bool = False) -> bool:
        """Apply ``event`` to ``job`` and give its slot back when the step says so.

        Returns whether the job's state changed."""
        with self.cond:
            result = lifecycle_step(job.state, event)
            job.state = result.state
            wake = policy.Wake.NOTHING
            if result.frees_slot:
                wake = self._free(job, worker_lost, finished=event is JobEvent.RECORDED)
        if wake is policy.Wake.INTERRUPT:
            self.interrupt()
        return result.changed

    def _free(self, job: Job, worker_lost: bool, finished: bool) -> policy.Wake:
        kind = kind_of(job)
        self.jobs.pop(job.token, None)
        self.state, wake = policy.free(self.state, kind)
        if finished:  # an outcome was recorded (not refused unrun, not let go)
            self.completed += 1
        runner = job.worker
        if runner is not None and runner in self.workers[kind]:
            if worker_lost:
                self.workers[kind].remove(runner)
                self.idle[kind].pop(runner, None)
            elif kind != "async":
                self.idle[kind][runner] = monotonic_ms()
        self.cond.notify_all()
        return wake

    def follow(self, job: Job, claim: Claim, lease_ms: int, requested: int) -> Job:
        """``job`` is recorded and its runner claimed ``claim`` in the same round trip:
        the slot passes to the new job (no free, no admit)."""
        follower = Job(claim, requested + lease_ms, worker=job.worker)
        with self.cond:
            job.state = lifecycle_step(job.state, JobEvent.FOLLOW).state
            self.jobs.pop(job.token, None)
            self.jobs[follower.token] = follower
            self.completed += 1
        return follower

    def route_ack(self, mechanism: SlotKind, message: Message) -> policy.AckRoute:
        """Where the ack of ``message`` goes; kept here when it rides on the next claim."""
        with self.cond:
            self.state, route = policy.route_ack(self.state, mechanism)
            if route is policy.AckRoute.NEXT_CLAIM:
                self.acks.add(message)
            return route

    def keep_ack(self, message: Message) -> None:
        """An ack that could not travel as routed goes with the dispatcher's next claim."""
        with self.cond:
            self.acks.add(message)
            self.state = policy.keep_ack(self.state)

    def live(self) -> list[Job]:
        """Jobs that still hold a slot."""
        with self.cond:
            return [job for job in self.jobs.values() if job.state in LIVE]

    def running(self, mechanism: SlotKind, recording: bool = False) -> list[Job]:
        """Jobs of ``mechanism`` whose task is running (or, with ``recording``, has just
        ended and its outcome is being recorded)."""
        states = (JobState.RUNNING, JobState.RECORDING) if recording else (JobState.RUNNING,)
        with self.cond:
            return [
                job
                for job in self.jobs.values()
                if job.state in states and kind_of(job) == mechanism
            ]

    # -- runners -------------------------------------------------------------------

    def retire(self, runner: Any, idle_ms: int) -> bool:
        """An idle runner asks to exit: yes if it has been idle ``idle_ms`` (it may have
        been handed a job meanwhile), or if the pool already gave up on it."""
        with self.cond:
            for kind in SLOT_KINDS:
                since = self.idle[kind].get(runner)
                if since is not None:
                    if not to_retire({0: since}, monotonic_ms(), idle_ms):
                        return False
                    del self.idle[kind][runner]
                    self.workers[kind].remove(runner)
                    log.debug("retiring an idle %s runner", kind)
                    return True
            # A runner the pool gave up on (a thread stuck past its timeout) leaves too.
            return not any(runner in self.workers[kind] for kind in SLOT_KINDS)

    def event_loops(self) -> list[Any]:
        """The pool's event loop runner, if it started."""
        with self.cond:
            return list(self.workers["async"])

    def runners(self) -> list[Any]:
        """Every runner alive."""
        with self.cond:
            return [runner for kind in SLOT_KINDS for runner in self.workers[kind]]

    # -- stopping ------------------------------------------------------------------

    def stop(self) -> None:
        """Claim nothing more; wake whoever waits on the lock."""
        with self.cond:
            self.state = policy.stop(self.state)
            self.cond.notify_all()

    def take_acks(self) -> list[Message]:
        """Every pending ack (for the flush at shutdown)."""
        with self.cond:
            acks = self.acks.take()
            self.state = policy.flushed(self.state)
            return acks
