"""After an attempt: recording its outcome, then freeing or reusing its slot. Mixed into ``Engine``.

How an outcome travels is the real pool's policy (``alsek.pure.pool``:
``route_ack``, ``free``); this module models the round trips around it.
When an attempt ends (``END``) its outcome is decided at once
(``decisions.decide``); what it costs depends on the effects and the route:

* a success whose only effect is an ack pays no round trip of its own:

  - ``RUNNER_CLAIM`` (a **process** runner): it claims its next message
    (process ones only, one) in the same round trip as the ack and keeps
    its slot: the claim takes its message at the end, and ``claim_rtt_ms``
    later (``SETTLED``) the ack is recorded and that message starts; if
    none was found, the slot frees then;
  - ``NEXT_CLAIM`` (a **thread** runner, the dispatcher busy): the ack
    rides along with the dispatcher's next claim: the slot frees at once
    and the ack is recorded when that claim answers;
  - ``NOW`` (the dispatcher waits on the backend): the ack goes on its own,
    one round trip, and the slot frees after it;

* any other outcome (a retry, a redelivery, a dead letter, a stored
  result) is carried out in a round trip of its own, issued at the end:
  its effects take hold when it answers (``SETTLED``), and the slot stays
  busy until then; then it frees, and a task process claims its next
  message (another round trip, ``alsek.sim.children``).

A freed slot does what ``free`` says (``Dispatcher._react``): a paused
dispatcher plans again, one waiting on the backend with that mechanism
full is interrupted, and a claiming one sees the slot epoch change and
claims again after its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alsek.pure import pool as policy
from alsek.pure.decisions import Ack, Effect, decide
from alsek.pure.message import SlotKind
from alsek.pure.outcome import Outcome, Succeeded
from alsek.pure.transitions import claimed
from alsek.sim.dispatch import OUTCOME_COUNTERS, OUTCOME_NAMES, SETTLED
from alsek.sim.recorder import Recorder
from alsek.sim.runtime import Held, KindRuntime, PoolState, Trip
from alsek.sim.store import Store
from alsek.sim.trace import Tracer

#: (pool epoch, mechanism, effects the round trip carries, the runner's next
#: message or None, when the round trip was issued)
Settling = tuple[int, SlotKind, tuple[Effect, ...], Held | None, int]


class Completion:
    """What follows ``END``; ``Engine`` and ``Dispatcher`` provide the rest."""

    now: int
    rtt: Trip
    store: Store
    pools: list[PoolState]
    runtimes: dict[str, KindRuntime]
    recorder: Recorder
    tracer: Tracer
    in_flight: int
    tokens: int
    first_start: dict[str, int]

    def push(self, at: int, kind: int, a: Any, b: Any) -> None:
        raise NotImplementedError  # provided by Engine

    def _apply(self, effects: tuple[Effect, ...], pool: int) -> None:
        raise NotImplementedError  # provided by Engine

    def _dispatch(self, pool: PoolState) -> None:
        raise NotImplementedError  # provided by Dispatcher

    def _launch(self, pool: PoolState, held: Held) -> bool:
        raise NotImplementedError  # provided by Dispatcher

    def _react(self, pool: PoolState, wake: policy.Wake) -> None:
        raise NotImplementedError  # provided by Dispatcher

    def _served(self) -> None:
        raise NotImplementedError  # provided by Dispatcher

    #: Provided by ChildPools (an annotation only: it must not shadow the method).
    _child_idle: Callable[[PoolState, bool], None]

    def _end(self, index: int, payload: tuple[int, Held, Outcome]) -> None:
        pool = self.pools[index]
        epoch, held, outcome = payload
        if epoch != pool.epoch:
            return
        now = self.now
        message, runtime = held.message, held.runtime
        mechanism = message.slot_kind
        started = held.started_at
        if started is not None and message.uuid not in self.first_start:
            self.first_start[message.uuid] = started  # its wait ended when this run started
        # The attempt is over; its slot may stay busy while the outcome is recorded.
        del pool.held[message.uuid]
        pool.occupied[mechanism] += now - held.claimed_at
        self.in_flight -= 1
        if type(outcome) is not Succeeded:
            runtime.counts[OUTCOME_COUNTERS[type(outcome).__name__]] += 1
            self.recorder.counts["wasted_ms"] += now - held.claimed_at
        if self.tracer.events is not None:
            name = OUTCOME_NAMES[type(outcome).__name__]
            self.tracer.end(now, index, message.uuid, name, held.started_at)
        effects = decide(message, runtime.policy, outcome, now)
        if len(effects) == 1 and type(effects[0]) is Ack:
            pool.policy, route = policy.route_ack(pool.policy, mechanism)
            if route is policy.AckRoute.RUNNER_CLAIM:
                follow = self._runner_claim(pool)
                self._settle_after(pool, (epoch, mechanism, effects, follow, now))
            elif route is policy.AckRoute.NOW:
                self._settle_after(pool, (epoch, mechanism, effects, None, now))
            else:  # rides on the dispatcher's next claim
                pool.acks.append(effects)
                self._free_slot(pool, mechanism)
            return
        self._settle_after(pool, (epoch, mechanism, effects, None, now))

    def _settle_after(self, pool: PoolState, settling: Settling) -> None:
        items = 1 if settling[3] is None else 2  # the outcome (and the runner's next message)
        self.push(self.now + self.rtt(items), SETTLED, pool.index, settling)
        self._served()

    def _settled(self, index: int, settling: Settling) -> None:
        """The round trip recording an outcome answered."""
        epoch, mechanism, effects, follow, since = settling
        self._apply(effects, index)  # sent before any kill, so recorded
        pool = self.pools[index]
        if epoch != pool.epoch:
            return
        if follow is None:
            pool.occupied[mechanism] += self.now - since
            self._free_slot(pool, mechanism)
            if mechanism == "process":
                # A task process whose own claim found nothing waits for work; one that
                # recorded any other outcome claims its next message now.
                ack_only = len(effects) == 1 and type(effects[0]) is Ack
                self._child_idle(pool, not ack_only)
        else:
            self._launch(pool, follow)  # (dead-lettered on claim: its slot frees there)

    def _runner_claim(self, pool: PoolState) -> Held | None:
        """A process runner claims one process message for its own slot (load unchanged)."""
        now, store = self.now, self.store
        store.promote(now)
        self.recorder.counts["claims"] += 1
        message = store.take(("process",))
        if message is None:
            self.recorder.counts["empty_claims"] += 1
            self._served()
            return None
        pool.empty_passes = 0
        self.tokens += 1
        message = claimed(message, f"{pool.index}.{self.tokens}", message.deliveries + 1)
        held = Held(message, self.runtimes[message.task_name], now)
        pool.held[message.uuid] = held
        self.in_flight += 1
        if self.tracer.events is not None:
            self.tracer.claim(now, pool.index, message, ("process",))
        self._served()  # (after this claim took its message: it was served first)
        return held

    def _free_slot(self, pool: PoolState, mechanism: SlotKind) -> None:
        pool.policy, wake = policy.free(pool.policy, mechanism)
        self._react(pool, wake)
