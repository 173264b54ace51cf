"""The discrete-event engine: worker pools on a virtual millisecond clock.

Theory of operation. Events sit in one heap ordered by (time, sequence), so
ties resolve in the order they were scheduled, and all randomness comes
from one ``random.Random(seed)``: a seed fixes the run, trace included.
Arrival streams submit messages; pools claim and run them (``dispatch``);
the effects ``decisions.decide`` returns are interpreted here, in order: a
callback is submitted, a retry (``transitions.retry``: the backoff delay) or
redelivery goes back to its queue, an ack or dead letter ends the message.
A submission wakes idle pools after ``wake_latency_ms``; a delayed message
or an expiring lease wakes them at its time. A killed pool's messages come
back when their lease lapses: the last renewal (every
``timing.renew_interval``) plus ``lease_ms``.
A message's wait ends when its first run starts: noted when that run ends,
or when a kill cuts it short, and reported with its final outcome.

A run is bounded (``alsek.sim.budget``): past its event budget, or stuck
with work waiting and nothing claiming it, it stops with
``SimulationRunawayError`` instead of looping for ever.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from alsek.pure.backoff import backoff_from_settings
from alsek.pure.decisions import Ack, DeadLetter, Effect, Reschedule, StoreResult, SubmitCallback
from alsek.pure.message import Message
from alsek.pure.timing import lease_deadline, ready_at, renew_interval
from alsek.pure.transitions import unclaimed
from alsek.sim.budget import Budget
from alsek.sim.children import ChildPools
from alsek.sim.completion import Completion
from alsek.sim.dispatch import ARRIVAL, EXPIRE, KILL, RESTART, Dispatcher
from alsek.sim.recorder import Recorder
from alsek.sim.runtime import (
    DEAD,
    IDLE,
    Cost,
    Held,
    KindRuntime,
    PoolState,
    Trip,
    link_chains,
    message_id,
)
from alsek.sim.signals import Signals
from alsek.sim.store import Store
from alsek.sim.trace import Tracer
from alsek.sim.workload import Workload


class Engine(Dispatcher, Completion, ChildPools):
    """One simulation run of ``workload`` with ``seed``; call ``run()`` once.

    ``max_events`` replaces the default event budget (``alsek.sim.budget``) by a fixed one.
    """

    def __init__(
        self, workload: Workload, seed: int, trace: bool, max_events: int | None = None
    ) -> None:
        self.workload = workload
        self.rnd = random.Random(seed)
        self.now = 0
        self.heap: list[tuple[int, int, int, Any, Any]] = []
        self.seq = 0
        overheads = workload.overheads
        costs = random.Random(f"overheads-{seed}")
        self.rtt = Trip(overheads.claim_rtt_ms, overheads.claim_ms_per_item, costs)
        self.latency = Cost(overheads.wake_latency_ms, costs)
        self.signals = Signals(overheads.signals, costs)
        self.timer = workload.overheads.timer_ms
        self.batch = workload.pool.batch
        self.lease_ms = workload.lease_ms
        self.poll = backoff_from_settings(workload.consumer_backoff)
        dispatch_ms = workload.overheads.dispatch_ms
        self.runtimes = {
            kind.name: KindRuntime(kind, Cost(dispatch_ms[kind.slot_kind], costs))
            for kind in workload.tasks
        }
        link_chains(self.runtimes)
        self.store = Store(workload.queue_order)
        capacity = workload.pool.capacity
        self.pools = [PoolState(index, capacity) for index in range(workload.pool.pools)]
        self.recorder = Recorder(list(self.runtimes), self.store.queues, workload.sample_ms)
        for name, runtime in self.runtimes.items():
            runtime.counts = self.recorder.by_task[name]
        self.tracer = Tracer(trace)
        self.submitted_at: dict[str, int] = {}
        #: When each unfinished message first started running (its wait ends there).
        self.first_start: dict[str, int] = {}
        self.outstanding = 0
        self.in_flight = 0
        self.streams: list[tuple[KindRuntime, Any]] = []
        self.open_streams = 0
        self.serial = 0
        self._due_children: list[tuple[int, tuple[int, int, int]]] = []
        self.tokens = 0
        self.stopped_at: int | None = None
        self.first_submit: int | None = None
        self.budget = Budget(workload, max_events)
        #: Events handled so far.
        self.events = 0

    def _check_budget(self, events: int) -> None:
        store = self.store
        idle = self.outstanding and not (self.open_streams or self.in_flight or store.delayed)
        detail = (
            f"{store.placed} messages placed, {self.outstanding} unfinished, "
            f"{store.ready_size} ready, {len(self.heap)} events pending"
        )
        self.budget.check(events, self.now, store.placed, self.tokens, bool(idle), detail)

    def push(self, at: int, kind: int, a: Any, b: Any) -> None:
        """Schedule an event."""
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, a, b))

    def run(self) -> None:
        """Process events until no work is left (or the horizon passes)."""
        self._start()
        heap, advance, store = self.heap, self.recorder.advance, self.store
        waiting = store.waiting
        pop = heapq.heappop
        handlers = (
            self._arrival,
            self._claimed,
            self._end,
            self._wake,
            self._poll,
            self._expire,
            self._kill,
            self._restart,
            self._settled,
            self._due,
            self._child_wake,
            self._child_claimed,
            self._child_due,
        )
        horizon = self.workload.horizon_ms
        events, check = self.events, self.budget.every
        while heap and (self.outstanding or self.open_streams):
            at = heap[0][0]
            if horizon is not None and at > horizon:
                self.stopped_at = horizon
                break
            _, _, kind, a, b = pop(heap)
            events += 1
            if not events % check:
                self._check_budget(events)
            if at != self.now:
                advance(at, self.outstanding, self.in_flight, waiting, store.size)
                self.now = at
            handlers[kind](a, b)
        self.events = events
        end = self.now if self.stopped_at is None else self.stopped_at
        advance(end, self.outstanding, self.in_flight, waiting, store.size)
        self.now = end
        for pool in self.pools:
            if pool.state != DEAD:
                pool.alive_ms += end - pool.alive_since
            for held in pool.held.values():
                pool.occupied[held.message.slot_kind] += end - held.claimed_at

    def _start(self) -> None:
        horizon = self.workload.horizon_ms
        for arrival in self.workload.arrivals:
            times = arrival.pattern.times(self.rnd, horizon)
            self.streams.append((self.runtimes[arrival.task], times))
            first = next(times, None)
            if first is not None:
                self.open_streams += 1
                self.push(first, ARRIVAL, len(self.streams) - 1, None)
        for kill in self.workload.kills:
            self.push(kill.at_ms, KILL, kill.pool, kill.restart_after_ms)
        for pool in self.pools:
            self._dispatch(pool)
            for child in list(pool.children):  # its task processes wait for work
                self._child_wait(pool, child)

    # -- submissions and effects -------------------------------------------

    def _arrival(self, stream: int, _: Any) -> None:
        runtime, times = self.streams[stream]
        self.serial += 1
        self._submit(runtime.root(message_id(self.serial, runtime.name), self.now), "")
        following = next(times, None)
        if following is None:
            self.open_streams -= 1
        else:
            self.push(following, ARRIVAL, stream, None)

    def _submit(self, message: Message, parent: str) -> None:
        now = self.now
        if self.first_submit is None:
            self.first_submit = now
        self.submitted_at[message.uuid] = now
        self.outstanding += 1
        self.runtimes[message.task_name].counts["submitted"] += 1
        self.store.put(message, now)
        at = ready_at(message)
        if self.tracer.events is not None:
            self.tracer.submit(now, message, at, parent)
        self._served()
        self._notify(max(at, now + self.latency()), at <= now)

    def _apply(self, effects: tuple[Effect, ...], pool: int) -> None:
        """Carry out ``decide``'s effects in order (the simulator's interpreter)."""
        now, recorder, tracer = self.now, self.recorder, self.tracer
        for effect in effects:
            kind = type(effect)
            message = effect.message
            if kind is Ack or kind is DeadLetter:
                ok = kind is Ack
                submitted = self.submitted_at.pop(message.uuid)
                started = self.first_start.pop(message.uuid, None)
                recorder.final(message.task_name, message.priority, submitted, now, ok, started)
                self.outstanding -= 1
                if tracer.events is not None:
                    tracer.final(now, pool, message.uuid, ok, getattr(effect, "reason", ""))
            elif kind is Reschedule:
                retry = effect.kind == "retry"  # type: ignore[union-attr]
                counts = self.runtimes[message.task_name].counts
                counts["retries" if retry else "redeliveries"] += 1
                if retry:
                    recorder.counts["retry_wait_ms"] += message.delay
                self.store.put(message, now)
                at = ready_at(message)
                if tracer.events is not None:
                    tracer.requeue(now, pool, message, at, retry)
                self._notify(max(at, now + self.latency()), at <= now)
            elif kind is SubmitCallback:
                recorder.counts["callbacks"] += 1
                self._submit(message, message.progenitor or "")
            elif kind is StoreResult:
                recorder.counts["results_stored"] += 1

    # -- faults -----------------------------------------------------------

    def _kill(self, index: int, restart_after: int | None) -> None:
        pool = self.pools[index]
        if pool.state == DEAD:
            return
        now, interval = self.now, renew_interval(self.lease_ms)
        self.recorder.counts["pool_kills"] += 1
        self.tracer.pool_event(now, index, "kill", len(pool.held))
        for effects in pool.acks:  # finished before the kill: counted as flushed
            self._apply(effects, index)
        for held in pool.held.values():
            started = held.started_at
            if started is not None and started <= now and held.message.uuid not in self.first_start:
                self.first_start[held.message.uuid] = started  # it ran, though cut short
            renewed = held.claimed_at + (now - held.claimed_at) // interval * interval
            self.push(lease_deadline(renewed, self.lease_ms), EXPIRE, index, held)
            pool.occupied[held.message.slot_kind] += now - held.claimed_at
        pool.epoch += 1
        pool.held = {}
        pool.reset()
        self.signals.drop_pool(index)
        pool.state = DEAD
        pool.alive_ms += now - pool.alive_since
        if restart_after is not None:
            self.push(now + restart_after, RESTART, index, None)

    def _expire(self, index: int, held: Held) -> None:
        message = unclaimed(held.message)
        self.in_flight -= 1
        self.recorder.counts["lease_expiries"] += 1
        self.store.put(message, self.now)
        self.tracer.expire(self.now, index, message)
        self._notify(self.now, True, signal=False)

    def _restart(self, index: int, _: Any) -> None:
        pool = self.pools[index]
        pool.state = IDLE
        pool.alive_since = self.now
        pool.wake_at = float("inf")
        self.tracer.pool_event(self.now, index, "restart", 0)
        self._dispatch(pool)
        for _ in range(pool.capacity.max_processes):  # its task processes start and look
            self._child_idle(pool, True)
