"""The pools' dispatchers: claim, start, wait. Mixed into ``Engine``.

What a dispatcher does next is the real pool's policy, ``alsek.pure.pool``
(``plan``, ``answered``, ``admit``, ``free``): this module only models the
backend around it. A dispatcher is *idle* (its waiting claim is blocked on
the backend until a signal, a delayed message or its consumer's next poll,
at least 1 ms away), *claiming* (a backend round trip in flight), *paused*
(at capacity: ``plan`` allows nothing) or *dead* (killed).

* A claim takes, at the moment it is issued, up to ``plan.limit`` ready
  messages in queue order and ``priority_key`` order (``Store.take``), marks
  each ``transitions.claimed`` and ``admit``\\ s it, and carries the acks of
  finished thread tasks waiting to ride along (recorded when it answers).
  The answer arrives ``claim_rtt_ms`` later: ``decisions.decide_on_claim``
  may dead-letter a crash loop; each other message starts ``dispatch_ms``
  later and ends after its sampled attempt.
* When ``plan`` says to wait for work (the last claim ran short and no slot
  freed since), the real pool sends that claim at once, queued behind a
  blocking wait (Redis: a blocking pop; DiskCache: a wake-up pipe), so it
  runs *as planned* when the wait ends. Here the pool goes idle holding
  that claim, unless a signal is already pending (work submitted, or a
  wake-up sent, while its last claim was in flight: Redis keeps the token
  in a list, DiskCache a byte in the pipe): then it claims right away.
* A wait ends ``wake_latency_ms`` after a submission or after a freed slot
  of a full mechanism interrupts it (``free`` says ``INTERRUPT``: the pool
  sends itself a wake-up through the backend, the same way), if the signal
  reaches it (``Overheads.signals``, ``alsek.sim.signals``: every waiting
  dispatcher hears each one, or one waiter does, as on Redis and DiskCache),
  or by itself when it falls due: at a delayed message's ready time, a lease's expiry,
  or when the consumer's backoff runs out. With ``timer_ms`` the backend
  ends a wait that fell due only when it next serves a request (any
  submission, claim or outcome) or at its next timer tick: Redis checks
  blocked clients' timeouts that way. A freed slot does not change the
  waiting claim: the claim runs with its old plan, and the next one,
  planned after the free, asks for more.
* What follows the end of an attempt is ``alsek.sim.completion``'s.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from alsek.pure import pool as policy
from alsek.pure.decisions import Effect, decide_on_claim
from alsek.pure.queue_model import open_kinds
from alsek.pure.transitions import claimed
from alsek.sim.recorder import Recorder
from alsek.sim.runtime import CLAIMING, IDLE, PAUSED, Cost, Held, KindRuntime, PoolState, Trip
from alsek.sim.signals import ANY, Signals
from alsek.sim.store import Store
from alsek.sim.trace import Tracer

ARRIVAL, CLAIMED, END, WAKE, POLL, EXPIRE, KILL, RESTART, SETTLED, DUE = range(10)
CHILD_WAKE = 10  # (alsek.sim.children)
OUTCOME_NAMES = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "TimedOut": "timed_out",
    "Crashed": "crashed",
}
OUTCOME_COUNTERS = {"Failed": "failures", "TimedOut": "timeouts", "Crashed": "crashes"}


class Dispatcher:
    """Pool behaviour; ``Engine`` provides the state and the effect interpreter."""

    #: Provided by ChildPools (annotations only: they must not shadow the methods).
    _wake_children: Callable[[int, bool], None]
    _serve_children: Callable[[], None]
    _child_idle: Callable[[PoolState, bool], None]
    _child_wait: Callable[[PoolState, int], None]

    now: int
    rnd: random.Random
    rtt: Trip
    latency: Cost
    timer: int
    batch: int
    poll: Any
    store: Store
    pools: list[PoolState]
    runtimes: dict[str, KindRuntime]
    recorder: Recorder
    tracer: Tracer
    in_flight: int
    tokens: int
    signals: Signals

    def push(self, at: int, kind: int, a: Any, b: Any) -> None:
        raise NotImplementedError  # provided by Engine

    def _apply(self, effects: tuple[Effect, ...], pool: int) -> None:
        raise NotImplementedError  # provided by Engine

    def _dispatch(self, pool: PoolState) -> None:
        pool.policy, action = policy.plan(pool.policy, self.batch)
        if isinstance(action, policy.Pause):
            pool.state = PAUSED
            return
        if isinstance(action, policy.Stop):  # pragma: no cover - simulated pools never stop
            return
        # (One waiter per signal: a signal kept for the next wait ends it at once.)
        wait = action.wait and not pool.signalled
        if wait and not (self.signals.one and self.signals.begin(("d", pool.index))):
            self._idle(pool, action)
            return
        self._claim(pool, action)

    def _claim(self, pool: PoolState, action: policy.Claim) -> None:
        plan = action.plan
        acks, pool.acks = pool.acks, []  # the claim carries these
        now, store, tracer = self.now, self.store, self.tracer
        store.promote(now)
        pool.signalled = False
        taken: list[Held] = []
        kinds_taken: dict[str, int] = {}
        for _ in range(plan.limit):
            kinds = open_kinds(plan.mechanisms, plan.limits, kinds_taken)
            message = store.take(kinds) if kinds else None
            if message is None:
                break
            kinds_taken[message.slot_kind] = kinds_taken.get(message.slot_kind, 0) + 1
            self.tokens += 1
            message = claimed(message, f"{pool.index}.{self.tokens}", message.deliveries + 1)
            pool.policy = policy.admit(pool.policy, message.slot_kind)
            held = Held(message, self.runtimes[message.task_name], now)
            pool.held[message.uuid] = held
            taken.append(held)
            if tracer.events is not None:
                tracer.claim(now, pool.index, message, kinds)
        self.in_flight += len(taken)
        if plan.limit:
            self.recorder.counts["claims"] += 1
        pool.state = CLAIMING
        trip = self.rtt(len(taken) + len(acks))
        self.push(now + trip, CLAIMED, pool.index, (pool.epoch, taken, acks, plan.limit))
        self._served()

    def _claimed(
        self, index: int, payload: tuple[int, list[Held], list[tuple[Effect, ...]], int]
    ) -> None:
        epoch, taken, acks, limit = payload
        for effects in acks:  # sent before any kill, so recorded
            self._apply(effects, index)
        pool = self.pools[index]
        if epoch != pool.epoch:
            return
        pool.policy = policy.answered(pool.policy, limit, len(taken))
        for held in taken:
            self._launch(pool, held)
        if taken:
            pool.empty_passes = 0
        elif limit:
            pool.empty_passes += 1
            self.recorder.counts["empty_claims"] += 1
        self._dispatch(pool)

    def _launch(self, pool: PoolState, held: Held) -> bool:
        """Run a claimed message (False if ``decide_on_claim`` dead-lettered it instead)."""
        message, runtime, now = held.message, held.runtime, self.now
        effects = decide_on_claim(message, runtime.policy, now)
        if effects:
            # Dead-lettered first, then its slot goes back (and may be claimed again).
            self.recorder.counts["dead_on_claim"] += 1
            self._apply(effects, pool.index)
            self._release(pool, held)
            return False
        start = now + runtime.dispatch_ms()
        elapsed, outcome = runtime.attempt(message, self.rnd)
        held.started_at = start
        runtime.counts["attempts"] += 1
        self.push(start + elapsed, END, pool.index, (pool.epoch, held, outcome))
        return True

    def _idle(self, pool: PoolState, action: policy.Claim) -> None:
        """Wait for work, holding ``action``: the claim queued behind the wait."""
        now = self.now
        pool.state = IDLE
        pool.waiting = action
        pool.due = False
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
            self.push(wake, DUE, pool.index, pool.wake_gen)

    def _wake(self, index: int, generation: int) -> None:
        pool = self.pools[index]
        if pool.state == IDLE and generation == pool.wake_gen:
            self._end_wait(pool)

    def _due(self, index: int, generation: int) -> None:
        pool = self.pools[index]
        if pool.state == IDLE and generation == pool.wake_gen:
            self._fall_due(pool)

    def _fall_due(self, pool: PoolState) -> None:
        """A wait the backend ends by itself is due: it ends now, or, on a backend
        with a timer tick, at the next request it serves or its next tick."""
        tick = -(-self.now // self.timer) * self.timer if self.timer else self.now
        if tick == self.now:
            self._end_wait(pool)
        else:
            pool.due = True
            self.push(tick, WAKE, pool.index, pool.wake_gen)

    def _served(self) -> None:
        """The backend served a request: waits that fell due end now."""
        if self.timer:
            self._serve_children()
            for pool in self.pools:
                if pool.due and pool.state == IDLE:
                    self._end_wait(pool)

    def _end_wait(self, pool: PoolState) -> None:
        """An idle dispatcher's wait ends: the claim queued behind it runs as planned."""
        action, pool.waiting = pool.waiting, None
        pool.due = False
        if self.signals.one:
            self.signals.end(("d", pool.index))
        if action is not None:
            self._claim(pool, action)

    def _poll(self, index: int, _: Any) -> None:
        """The consumer's backoff ran out: one pending poll per pool, re-armed lazily."""
        pool = self.pools[index]
        pool.poll_pending = False
        if pool.state != IDLE:
            return
        if pool.poll_at <= self.now:
            self._fall_due(pool)
        else:
            pool.poll_pending = True
            self.push(pool.poll_at, POLL, index, None)

    def _notify(self, at: int, ready: bool, signal: bool = True) -> None:
        """A message becomes claimable at ``at``: idle pools wake (a ready message
        ``signal``\\ s them; a delayed one, or a lapsed lease, falls due), claiming
        ones re-check."""
        if self.signals.one and signal:
            self._send_signal()
            return
        signal = signal and ready
        self._wake_children(at, signal)
        for pool in self.pools:
            if pool.state == IDLE:
                if at < pool.wake_at:
                    pool.wake_at = at
                    pool.wake_gen += 1
                    self.push(at, WAKE if signal else DUE, pool.index, pool.wake_gen)
            elif ready and pool.state == CLAIMING:
                pool.signalled = True

    def _send_signal(self) -> None:
        """One waiter hears a signal (``"fifo"``, ``"any"``): its wait ends
        ``wake_latency_ms`` from now; with nobody waiting the backend keeps it."""
        waiter = self.signals.send()
        if waiter is None:
            return
        at = self.now + self.latency()
        pool = self.pools[waiter[1]]
        if waiter[0] == "d":
            pool.wake_at = at
            pool.wake_gen += 1
            self.push(at, WAKE, pool.index, pool.wake_gen)
        else:
            child = waiter[2]
            pool.woken.add(child)
            self.push(at, CHILD_WAKE, pool.index, (pool.epoch, child, pool.children[child]))

    def _release(self, pool: PoolState, held: Held) -> None:
        mechanism = held.message.slot_kind
        del pool.held[held.message.uuid]
        pool.policy, wake = policy.free(pool.policy, mechanism)
        pool.occupied[mechanism] += self.now - held.claimed_at
        self.in_flight -= 1
        if mechanism == "process":
            self._child_idle(pool, True)  # the task process claims its next message at once
        self._react(pool, wake)

    def _react(self, pool: PoolState, wake: policy.Wake) -> None:
        """A slot freed: do what ``free`` asked of the dispatcher."""
        if wake is policy.Wake.RESUME:
            self._dispatch(pool)
        elif wake is policy.Wake.INTERRUPT:
            self._interrupt(pool)

    def _interrupt(self, pool: PoolState) -> None:
        """Wake a dispatcher waiting on the backend: its wait ends ``wake_latency_ms``
        from now; one whose waiting claim is already running finds the wake-up
        pending at its next wait. (DiskCache wakes it through the pipe every waiter
        shares: whoever drains it first wakes.)"""
        if self.signals.mode == ANY:
            self._send_signal()
            return
        if pool.state == IDLE:
            if self.signals.one:
                self.signals.end(("d", pool.index))  # its own key wakes it
            if pool.due:  # the wake-up is a request the backend serves
                self._end_wait(pool)
                return
            at = self.now + self.latency()
            if at < pool.wake_at:
                pool.wake_at = at
                pool.wake_gen += 1
                self.push(at, WAKE, pool.index, pool.wake_gen)
        elif pool.state == CLAIMING:
            pool.signalled = True
