"""The pools' dispatchers: claim, start, wait. Mixed into ``Engine``.

A dispatcher is *idle* (waiting for a signal, a delayed message or its
consumer's next poll, at least 1 ms away), *claiming* (a backend round trip
in flight), *paused* (at capacity: ``capacity.plan_claim`` allows nothing)
or *dead* (killed).

* A claim takes, at the moment it is issued, up to ``plan.limit`` ready
  messages in queue order and ``priority_key`` order (``Store.take``), marks
  each ``transitions.claimed`` and ``capacity.admit``\\ s it, and carries the
  acks of finished thread tasks waiting to ride along (recorded when it
  answers). The answer arrives ``claim_rtt_ms`` later:
  ``decisions.decide_on_claim`` may dead-letter a crash loop; each other
  message starts ``dispatch_ms`` later and ends after its sampled attempt.
  As in the real worker, a non-empty answer is followed by another claim and
  an empty one makes the pool idle, unless a submission signalled it, a slot
  freed or an ack is waiting while the claim was in flight. With no slot
  free and no ack to carry the pool pauses.
* What follows the end of an attempt is ``alsek.sim.completion``'s.
"""

from __future__ import annotations

import random
from typing import Any

from alsek.pure.capacity import Load, admit, finish, plan_claim
from alsek.pure.decisions import Effect, decide_on_claim
from alsek.pure.message import Mechanism
from alsek.pure.transitions import claimed
from alsek.sim.recorder import Recorder
from alsek.sim.runtime import CLAIMING, IDLE, PAUSED, Held, KindRuntime, PoolState
from alsek.sim.store import Store
from alsek.sim.trace import Tracer

ARRIVAL, CLAIMED, END, WAKE, POLL, EXPIRE, KILL, RESTART, SETTLED = range(9)
OUTCOME_NAMES = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "TimedOut": "timed_out",
    "Crashed": "crashed",
}
OUTCOME_COUNTERS = {"Failed": "failures", "TimedOut": "timeouts", "Crashed": "crashes"}
_ADMITTED: dict[tuple[int, int, str], Load] = {}
_FINISHED: dict[tuple[int, int, str], Load] = {}


def _admit(load: Load, mechanism: Mechanism) -> Load:
    """``capacity.admit``, memoized: loads are frozen values, so the answer never changes."""
    key = (load.threads, load.processes, mechanism)
    after = _ADMITTED.get(key)
    if after is None:
        after = _ADMITTED[key] = admit(load, mechanism)
    return after


def finish_load(load: Load, mechanism: Mechanism) -> Load:
    """``capacity.finish``, memoized like ``_admit``."""
    key = (load.threads, load.processes, mechanism)
    after = _FINISHED.get(key)
    if after is None:
        after = _FINISHED[key] = finish(load, mechanism)
    return after


class Dispatcher:
    """Pool behaviour; ``Engine`` provides the state and the effect interpreter."""

    now: int
    rnd: random.Random
    rtt: int
    batch: int
    poll: Any
    store: Store
    pools: list[PoolState]
    runtimes: dict[str, KindRuntime]
    recorder: Recorder
    tracer: Tracer
    in_flight: int
    tokens: int

    def push(self, at: int, kind: int, a: Any, b: Any) -> None:
        raise NotImplementedError  # provided by Engine

    def _apply(self, effects: tuple[Effect, ...], pool: int) -> None:
        raise NotImplementedError  # provided by Engine

    def _dispatch(self, pool: PoolState) -> None:
        load = pool.load
        plan = pool.plans.get((load.threads, load.processes))
        if plan is None:
            plan = plan_claim(pool.capacity, load, self.batch)
            pool.plans[(load.threads, load.processes)] = plan
        acks = pool.acks
        if not plan.limit and not acks:
            pool.state = PAUSED
            return
        pool.acks = []  # the claim carries these (never the list later acks go to)
        now, store, tracer = self.now, self.store, self.tracer
        store.promote(now)
        pool.signalled = False
        taken = []
        for _ in range(plan.limit):
            message = store.take(plan.mechanisms)
            if message is None:
                break
            self.tokens += 1
            message = claimed(message, f"{pool.index}.{self.tokens}", message.deliveries + 1)
            load = _admit(load, message.mechanism)
            held = Held(message, self.runtimes[message.task_name], now)
            pool.held[message.uuid] = held
            taken.append(held)
            if tracer.events is not None:
                tracer.claim(now, pool.index, message, plan.mechanisms)
        pool.load = load
        self.in_flight += len(taken)
        if plan.limit:
            self.recorder.counts["claims"] += 1
        pool.state = CLAIMING
        self.push(now + self.rtt, CLAIMED, pool.index, (pool.epoch, taken, acks, plan.limit))

    def _claimed(
        self, index: int, payload: tuple[int, list[Held], list[tuple[Effect, ...]], int]
    ) -> None:
        epoch, taken, acks, limit = payload
        for effects in acks:  # sent before any kill, so recorded
            self._apply(effects, index)
        pool = self.pools[index]
        if epoch != pool.epoch:
            return
        for held in taken:
            self._launch(pool, held)
        if taken:
            pool.empty_passes = 0
        elif limit:
            pool.empty_passes += 1
            self.recorder.counts["empty_claims"] += 1
        if taken or pool.signalled or pool.acks or not limit:
            self._dispatch(pool)
        else:
            self._idle(pool)

    def _launch(self, pool: PoolState, held: Held) -> bool:
        """Run a claimed message (False if ``decide_on_claim`` dead-lettered it instead)."""
        message, runtime, now = held.message, held.runtime, self.now
        effects = decide_on_claim(message, runtime.policy, now)
        if effects:
            self._release(pool, held)
            self.recorder.counts["dead_on_claim"] += 1
            self._apply(effects, pool.index)
            return False
        start = now + runtime.dispatch_ms
        elapsed, outcome = runtime.attempt(message, self.rnd)
        held.started_at = start
        runtime.counts["attempts"] += 1
        self.push(start + elapsed, END, pool.index, (pool.epoch, held, outcome))
        return True

    def _idle(self, pool: PoolState) -> None:
        now = self.now
        pool.state = IDLE
        pool.wake_gen += 1
        if self.poll is not None:
            pool.poll_at = now + max(self.poll.get(max(pool.empty_passes, 1)), 1)
            if not pool.poll_pending:
                pool.poll_pending = True
                self.push(pool.poll_at, POLL, pool.index, None)
        wake = self.store.next_ready_at()
        if wake is None:
            pool.wake_at = float("inf")
        else:
            pool.wake_at = wake = max(wake, now)
            self.push(wake, WAKE, pool.index, pool.wake_gen)

    def _wake(self, index: int, generation: int) -> None:
        pool = self.pools[index]
        if pool.state == IDLE and generation == pool.wake_gen:
            self._dispatch(pool)

    def _poll(self, index: int, _: Any) -> None:
        """The consumer's backoff ran out: one pending poll per pool, re-armed lazily."""
        pool = self.pools[index]
        pool.poll_pending = False
        if pool.state != IDLE:
            return
        if pool.poll_at <= self.now:
            self._dispatch(pool)
        else:
            pool.poll_pending = True
            self.push(pool.poll_at, POLL, index, None)

    def _notify(self, at: int, ready: bool) -> None:
        """A message becomes claimable at ``at``: idle pools wake, claiming ones re-check."""
        for pool in self.pools:
            if pool.state == IDLE:
                if at < pool.wake_at:
                    pool.wake_at = at
                    pool.wake_gen += 1
                    self.push(at, WAKE, pool.index, pool.wake_gen)
            elif ready and pool.state == CLAIMING:
                pool.signalled = True

    def _release(self, pool: PoolState, held: Held) -> None:
        mechanism = held.message.mechanism
        del pool.held[held.message.uuid]
        pool.load = finish_load(pool.load, mechanism)
        pool.occupied[mechanism] += self.now - held.claimed_at
        self.in_flight -= 1
