"""The pool's pure policy, driven event by event: Hypothesis picks what happens next."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st

from alsek.pure import pool as policy
from alsek.pure import watchdog
from alsek.pure.capacity import Capacity
from alsek.pure.lifecycle import LIVE, JobEvent, JobState, LifecycleError
from alsek.pure.lifecycle import step as lifecycle_step
from alsek.pure.message import SLOT_KINDS
from alsek.pure.queue_model import open_kinds
from tests.support.pool_machine import ACKED, DEAD, KINDS, QUEUED, Driver, PoolMachine

MAX_REDELIVERIES = 3


@attrs.define
class ModelJob:
    token: str
    uuid: str
    kind: str
    deliveries: int
    state: JobState = JobState.CLAIMED

    @property
    def mechanism(self) -> Any:
        return KINDS[self.kind][0]

    @property
    def does(self) -> str:
        return KINDS[self.kind][1]


class PureDriver(Driver):
    """A pool made of nothing but the pure policy, the lifecycle table and a list as queue."""

    def __init__(
        self, max_threads: int = 2, max_processes: int = 2, max_async: int = 3, batch: int = 3
    ) -> None:
        # Task processes claim for themselves: the dispatcher claims thread work and
        # coroutines (for the event loop) only.
        self.state = policy.PoolState(
            Capacity(max_threads, max_processes, max_async), delegated=frozenset({"process"})
        )
        self.children: list[str | None] = [None] * max_processes  # each one's job token
        self.batch = batch
        self.queue: list[tuple[str, str, int]] = []  # (uuid, kind, deliveries)
        self.jobs: dict[str, ModelJob] = {}
        self.pending: list[ModelJob] = []
        self.in_flight: tuple[int, list[ModelJob], list[ModelJob]] | None = None
        self.ends: dict[str, list[str]] = {}
        self.finals: dict[str, str] = {}
        self.success: set[str] = set()
        self.let_go: set[str] = set()
        self.counter = 0

    # -- the driver's interface ----------------------------------------------------

    def submit(self, kind: str) -> str:
        self.counter += 1
        uuid = f"m{self.counter}"
        self.queue.append((uuid, kind, 0))
        self.finals[uuid] = QUEUED
        return uuid

    def run(self, data: st.DataObject, steps: int) -> None:
        for _ in range(steps):
            events = self._enabled()
            if not events:
                return
            event = data.draw(st.sampled_from(events), label="event")
            self._do(event)

    def stop(self) -> None:
        self.state = policy.stop(self.state)

    def finish(self) -> None:
        for _ in range(10_000):
            events = self._enabled()
            if not events:
                break
            self._do(events[0])
        assert not self.queue and not self.jobs, "the pool stalled with work left"
        self.stop()
        self.drain()

    def drain(self) -> None:
        if self.in_flight is not None:
            self._answer()
        self._flush()
        action, _ = policy.drain(0, 0, 0, sum(j.state in LIVE for j in self.jobs.values()))
        if action is policy.DrainAction.HAND_BACK:
            for job in list(self.jobs.values()):
                if self._step(job, JobEvent.HAND_BACK):
                    self._end(job, "released")
                    self._requeue(job, keep=False)
        assert not self.jobs and self.state.pending_acks == 0

    def load(self) -> dict[str, tuple[int, int]]:
        live = [job for job in self.jobs.values() if job.state in LIVE]
        load, capacity = self.state.load, self.state.capacity
        for kind in SLOT_KINDS:
            used = sum(job.mechanism == kind for job in live)
            assert load.running(kind) == used, f"{kind} slot accounting drifted"
        assert self.state.pending_acks == len(self.pending)
        return {kind: (load.running(kind), capacity.limit(kind)) for kind in SLOT_KINDS}

    def deliveries(self) -> dict[str, list[str]]:
        return self.ends

    def final(self, uuid: str) -> str:
        return self.finals[uuid]

    def succeeded(self) -> set[str]:
        return self.success

    def abandoned(self) -> set[str]:
        return self.let_go

    # -- events --------------------------------------------------------------------

    def _enabled(self) -> list[tuple[str, str]]:
        events: list[tuple[str, str]] = []
        if self.in_flight is None and not self.state.stopping:
            _, action = policy.plan(self.state, self.batch)
            if isinstance(action, policy.Claim):
                # A waiting dispatcher blocks until work of its mechanisms arrives.
                wanted = any(KINDS[kind][0] in action.plan.mechanisms for _, kind, _ in self.queue)
                if wanted or action.acks or not action.wait:
                    events.append(("plan", ""))
        if self.in_flight is not None:
            events.append(("answer", ""))
        if not self.state.stopping and any(KINDS[k][0] == "process" for _, k, _ in self.queue):
            for index, token in enumerate(self.children):
                if token is None:
                    events.append(("child_claim", str(index)))
        for token, job in sorted(self.jobs.items()):
            if job.state is JobState.CLAIMED:
                events.append(("start", token))
            elif job.state is JobState.RUNNING:
                events.append(("finish", token))
                events.append(("internal_error", token))
                if job.does == "timeout":
                    events.append(("watchdog", token))
        return events

    def _do(self, event: tuple[str, str]) -> None:
        name, token = event
        if name == "plan":
            self._plan()
        elif name == "answer":
            self._answer()
        elif name == "start":
            self._start(self.jobs[token])
        elif name == "finish":
            self._finish(self.jobs[token])
        elif name == "internal_error":
            job = self.jobs[token]
            if self._step(job, JobEvent.ABANDON):
                self._end(job, "released")
                self.let_go.add(job.uuid)
                self._requeue(job, keep=True)  # back after its lease, the delivery counted
        elif name == "watchdog":
            self._watchdog(self.jobs[token])
        elif name == "child_claim":
            self._child_claim(int(token))

    def _plan(self) -> None:
        self.state, action = policy.plan(self.state, self.batch)
        assert isinstance(action, policy.Claim)
        taken: list[ModelJob] = []
        per_kind: dict[str, int] = {}
        for uuid, kind, deliveries in list(self.queue):
            if len(taken) == action.plan.limit:
                break
            slot = KINDS[kind][0]
            # The backend takes no more of a kind than the plan's cap for it.
            if slot in open_kinds(action.plan.mechanisms, action.plan.limits, per_kind):
                per_kind[slot] = per_kind.get(slot, 0) + 1
                self.queue.remove((uuid, kind, deliveries))
                taken.append(self._job(uuid, kind, deliveries + 1))
        acks, self.pending = self.pending, []
        assert len(acks) == action.acks
        self.in_flight = (action.plan.limit, taken, acks)

    def _child_claim(self, index: int) -> None:
        job = self._runner_claim()
        assert job is not None
        self.state = policy.admit(self.state, job.mechanism)
        self.jobs[job.token] = job
        self.children[index] = job.token

    def _answer(self) -> None:
        assert self.in_flight is not None
        asked, taken, acks = self.in_flight
        self.in_flight = None
        for job in acks:
            self._acked(job)
        self.state = policy.answered(self.state, asked, len(taken))
        for job in taken:
            self.state = policy.admit(self.state, job.mechanism)
            self.jobs[job.token] = job

    def _start(self, job: ModelJob) -> None:
        if job.deliveries - 1 > MAX_REDELIVERIES:  # decide_on_claim: a crash loop
            assert self._step(job, JobEvent.REFUSE)
            self._end(job, "released")
            self.finals[job.uuid] = DEAD
            return
        assert self._step(job, JobEvent.START)

    def _finish(self, job: ModelJob) -> None:
        assert self._step(job, JobEvent.FINISH)
        if job.does in ("ok", "slow"):
            self.success.add(job.uuid)
            self.state, route = policy.route_ack(self.state, job.mechanism)
            if route is policy.AckRoute.RUNNER_CLAIM:
                follower = self._runner_claim()
                self._acked(job)
                if follower is not None:
                    assert self._step(job, JobEvent.FOLLOW)
                    self.jobs.pop(job.token)
                    self.jobs[follower.token] = follower
                    self._pass_child(job.token, follower.token)
                    return
            elif route is policy.AckRoute.NEXT_CLAIM:
                self.pending.append(job)
                self.ends[job.token] = ["recorded"]
            else:
                self._acked(job)
        elif job.does == "crash" and job.deliveries <= MAX_REDELIVERIES:
            self._end(job, "recorded")
            self._requeue(job, keep=True)
        else:
            self._end(job, "recorded")
            self.finals[job.uuid] = DEAD
        assert self._step(job, JobEvent.RECORDED)

    def _watchdog(self, job: ModelJob) -> None:
        if job.mechanism == "async":  # its own timeout did not end it: given up on
            action, _ = watchdog.coroutine_timeout(10, 0, 5)
        else:  # raised in its thread, ignored: abandoned
            action, _ = watchdog.thread_timeout(10, 0, 0, 5)
        assert action is watchdog.TimeoutAction.ABANDON
        assert self._step(job, JobEvent.FINISH)
        self._end(job, "recorded")
        self.finals[job.uuid] = DEAD
        assert self._step(job, JobEvent.RECORDED, worker_lost=True)
        assert not self._step(job, JobEvent.FINISH)  # the thread's own late finish: ignored

    # -- helpers -------------------------------------------------------------------

    def _job(self, uuid: str, kind: str, deliveries: int) -> ModelJob:
        self.counter += 1
        return ModelJob(f"t{self.counter}", uuid, kind, deliveries)

    def _runner_claim(self) -> ModelJob | None:
        for uuid, kind, deliveries in list(self.queue):
            if KINDS[kind][0] == "process":
                self.queue.remove((uuid, kind, deliveries))
                return self._job(uuid, kind, deliveries + 1)
        return None

    def _step(self, job: ModelJob, event: JobEvent, worker_lost: bool = False) -> bool:
        try:
            result = lifecycle_step(job.state, event)
        except LifecycleError as error:  # the model never sends an illegal event
            raise AssertionError(str(error)) from error
        job.state = result.state
        if result.frees_slot:
            self.jobs.pop(job.token, None)
            self.state, _ = policy.free(self.state, job.mechanism)
            self._pass_child(job.token, None)
        return result.changed

    def _pass_child(self, token: str, follower: str | None) -> None:
        """The task process that held ``token`` now holds ``follower`` (None: idle)."""
        if token in self.children:
            self.children[self.children.index(token)] = follower

    def _end(self, job: ModelJob, how: str) -> None:
        self.ends.setdefault(job.token, []).append(how)

    def _acked(self, job: ModelJob) -> None:
        self.ends.setdefault(job.token, ["recorded"])
        self.finals[job.uuid] = ACKED

    def _flush(self) -> None:
        for job in self.pending:
            self._acked(job)
        self.pending = []
        self.state = policy.flushed(self.state)

    def _requeue(self, job: ModelJob, keep: bool) -> None:
        self.queue.append((job.uuid, job.kind, job.deliveries if keep else job.deliveries - 1))
        self.finals[job.uuid] = QUEUED


class PurePoolMachine(PoolMachine):
    def make_driver(self) -> Driver:
        return PureDriver()


PurePoolMachine.TestCase.settings = settings(
    PurePoolMachine.TestCase.settings, max_examples=200, stateful_step_count=50, deadline=None
)
TestPurePool = PurePoolMachine.TestCase
