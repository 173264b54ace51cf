"""The worker pool's policy: what a pool does next, as pure transitions.

Contract: every choice a worker pool makes that can be stated without I/O
is made here (what its watchdog does to overdue tasks: ``alsek.pure.watchdog``),
and both the real pool (``alsek.effects.pool``) and the simulator
(``alsek.sim``) call these functions: neither keeps a copy. The
life of one job is ``alsek.pure.lifecycle``'s; slot arithmetic is
``alsek.pure.capacity``'s; what follows a task's outcome is
``alsek.pure.decisions``'.

Theory of operation. A pool has one *dispatcher*, in one of four phases:

* ``READY``: about to ask ``plan`` what to do;
* ``CLAIMING``: a claim is in flight;
* ``WAITING``: the last claim found the queues short and nothing changed
  since, so it waits for work and claims the moment it arrives (on Redis
  one round trip: a blocking pop with the claim queued behind it);
* ``PAUSED``: at capacity with nothing to carry, it waits for a slot.

A claim asks for as many messages as free slots can start (never more:
what a pool cannot start, other pools can), and carries the acks of
finished thread tasks and coroutines. Slots come in three kinds
(``alsek.pure.capacity``): threads, task processes, and places on the
pool's event loop for the coroutines of ``async def`` thread-mechanism
tasks, so coroutines waiting on I/O never hold a thread slot, nor threads
a coroutine's. Slots of a *delegated* mechanism are filled by
their runners, not the dispatcher: task processes claim for themselves
(``children_to_start`` says when another one is needed), and their claims
still count in ``load`` (``admit``/``free``) so the slots stay exact. A
task process starts a message only under a lease it can vouch for
(``start_check``): a claim whose reply came late is renewed first, or let go.

A freed slot bumps ``epoch``; a dispatcher that planned before the bump
claims again instead of waiting, and one waiting on the backend with that
mechanism full is woken.

Acks of successes whose only effect is an ack travel cheaply (``route_ack``):
a process runner's rides on its own next claim (it keeps its slot), a
thread runner's on the dispatcher's next claim, unless the dispatcher is
waiting or the pool is stopping (then it goes at once). Every other
outcome is recorded in one step of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from alsek.pure import capacity as cap
from alsek.pure.capacity import Capacity, ClaimPlan, Load
from alsek.pure.message import SlotKind


class Phase(enum.Enum):
    """What the dispatcher is doing (see the module docstring)."""

    READY = "ready"
    CLAIMING = "claiming"
    WAITING = "waiting"
    PAUSED = "paused"


@attrs.frozen
class PoolState:
    """One pool's dispatcher and slots, as the policy sees them."""

    capacity: Capacity
    load: Load = attrs.field(factory=Load)
    phase: Phase = Phase.READY
    #: Bumped whenever a slot frees.
    epoch: int = 0
    #: ``epoch`` when the last claim was planned.
    planned_epoch: int = -1
    #: The last claim found fewer messages than it asked for.
    exhausted: bool = False
    #: Acks of finished thread tasks waiting to ride on the next claim.
    pending_acks: int = 0
    stopping: bool = False
    #: Slot kinds whose runners claim for themselves (the dispatcher does not).
    delegated: frozenset[SlotKind] = frozenset()


def _dispatchable(state: PoolState) -> Capacity | None:
    """The slots the dispatcher fills (None: none at all)."""
    limits = {
        kind: 0 if kind in state.delegated else state.capacity.limit(kind)
        for kind in cap.CLAIM_ORDER
    }
    if sum(limits.values()) == 0:
        return None
    return Capacity(
        max_threads=limits["thread"], max_processes=limits["process"], max_async=limits["async"]
    )


@attrs.frozen
class Claim:
    """Claim up to ``plan.limit`` messages (carrying ``acks`` pending acks); with ``wait``,
    first wait until work may have arrived."""

    plan: ClaimPlan
    acks: int
    wait: bool


@attrs.frozen
class Pause:
    """At capacity with nothing to carry: wait until a slot frees."""


@attrs.frozen
class Stop:
    """The pool is stopping: claim nothing more."""


Action = Claim | Pause | Stop


def plan(state: PoolState, batch: int) -> tuple[PoolState, Action]:
    """What the dispatcher does next."""
    if state.stopping:
        return state, Stop()
    capacity = _dispatchable(state)
    if capacity is None:
        claim_plan = ClaimPlan((), 0)
    else:
        claim_plan = cap.plan_claim(capacity, state.load, batch)
    if claim_plan.limit == 0 and state.pending_acks == 0:
        return attrs.evolve(state, phase=Phase.PAUSED, exhausted=False), Pause()
    wait = (
        state.exhausted
        and state.pending_acks == 0
        and state.epoch == state.planned_epoch
        and claim_plan.limit > 0
    )
    after = attrs.evolve(
        state,
        phase=Phase.WAITING if wait else Phase.CLAIMING,
        planned_epoch=state.epoch,
        pending_acks=0,
    )
    return after, Claim(claim_plan, state.pending_acks, wait)


def answered(state: PoolState, asked: int, got: int) -> PoolState:
    """A claim answered with ``got`` of the ``asked`` messages (each then ``admit``-ted)."""
    return attrs.evolve(state, phase=Phase.READY, exhausted=got < asked)


def failed(state: PoolState, acks: int) -> PoolState:
    """A claim failed: its ``acks`` wait for the next one, which does not wait first."""
    return attrs.evolve(
        state, phase=Phase.READY, exhausted=False, pending_acks=state.pending_acks + acks
    )


def admit(state: PoolState, mechanism: SlotKind) -> PoolState:
    """A claimed message of ``mechanism`` takes a slot."""
    return attrs.evolve(state, load=cap.admit(state.load, mechanism))


class Wake(enum.Enum):
    """What a freed slot asks of the dispatcher."""

    NOTHING = "nothing"
    #: It is paused: let it plan again.
    RESUME = "resume"
    #: It waits on the backend with this mechanism full: interrupt the wait.
    INTERRUPT = "interrupt"


def free(state: PoolState, mechanism: SlotKind) -> tuple[PoolState, Wake]:
    """A slot of ``mechanism`` frees (its job ended, or was handed back or let go)."""
    was_full = cap.free(state.capacity, state.load, mechanism) == 0
    after = attrs.evolve(state, load=cap.finish(state.load, mechanism), epoch=state.epoch + 1)
    if state.stopping:
        return after, Wake.RESUME if state.phase is Phase.PAUSED else Wake.NOTHING
    if state.phase is Phase.PAUSED:
        return after, Wake.RESUME
    if state.phase is Phase.WAITING and was_full:
        # A dispatcher waiting with room for this mechanism already hears new
        # work; one that had no room must look again now.
        return after, Wake.INTERRUPT
    return after, Wake.NOTHING


class AckRoute(enum.Enum):
    """How the ack of a success whose only effect is an ack travels."""

    #: With the runner's own next claim (a process runner keeps its slot).
    RUNNER_CLAIM = "runner_claim"
    #: With the dispatcher's next claim.
    NEXT_CLAIM = "next_claim"
    #: On its own, now.
    NOW = "now"


def route_ack(state: PoolState, mechanism: SlotKind) -> tuple[PoolState, AckRoute]:
    """Where the ack of a finished ``mechanism`` task goes."""
    if state.stopping:
        return state, AckRoute.NOW
    if mechanism == "process":
        return state, AckRoute.RUNNER_CLAIM
    if state.phase is Phase.WAITING:
        return state, AckRoute.NOW  # the dispatcher may wait a long time: do not hold it
    return attrs.evolve(state, pending_acks=state.pending_acks + 1), AckRoute.NEXT_CLAIM


def keep_ack(state: PoolState) -> PoolState:
    """An ack that could not travel as routed waits for the dispatcher's next claim."""
    return attrs.evolve(state, pending_acks=state.pending_acks + 1)


def flushed(state: PoolState) -> PoolState:
    """The pending acks were sent on their own (at shutdown)."""
    return attrs.evolve(state, pending_acks=0)


def children_to_start(alive: int, busy: int, starting: int, max_processes: int) -> int:
    """How many task processes to start now: one when none is alive or starting, or
    when every live one is busy (there may be more process work), up to the limit."""
    if max_processes <= 0 or alive + starting >= max_processes:
        return 0
    if alive + starting == 0 or (busy >= alive and starting == 0):
        return 1
    return 0


def children_to_retire(
    idle_since: Mapping[int, int], now: int, idle_ms: int, alive: int
) -> tuple[int, ...]:
    """Task processes (by id) idle for ``idle_ms``, keeping at least one alive (it watches
    for process work while the others are gone)."""
    idle = cap.to_retire(idle_since, now, idle_ms)
    keep = 1 if len(idle) == alive else 0
    return idle[keep:]


def stop(state: PoolState) -> PoolState:
    """Stop claiming."""
    return attrs.evolve(state, stopping=True)


# -- renewals, the drain ------------------------------------------------


def retry_renewal_after(failures: int, lease_ms: int) -> int:
    """After ``failures`` failed renewals in a row, how long until the next try (ms).

    Soon, growing, and never longer than a tenth of the lease: once an outage
    ends, the lease is renewed within that time. (Renewals come every third
    of the lease, so an outage of up to about half the lease never costs a
    lease, whenever it starts.)
    """
    backoff: int = 50 * 2 ** min(max(failures - 1, 0), 16)
    return max(min(backoff, lease_ms // 10), 1)


def lease_is_fresh(expires: int, now: int, lease_ms: int) -> bool:
    """Whether a lease that runs out at ``expires`` is safe without asking the backend:
    more than half of it left (nobody can claim the message before it runs out)."""
    return expires - now > lease_ms // 2


class StartCheck(enum.Enum):
    """Whether a runner may start a message it claimed."""

    #: More than half the lease is left: the pool renews it long before it runs out.
    START = "start"
    #: Less is left (the claim's reply came late, or the runner was held up before
    #: starting): renew the lease first, and start only if that renewal holds; otherwise
    #: let the message go unrun (another consumer may hold it already).
    RENEW_FIRST = "renew_first"


def start_check(deadline: int, now: int, lease_ms: int) -> StartCheck:
    """Whether a runner may start a message whose lease runs out at ``deadline``: only
    under a lease it can vouch for, one nobody else can claim before the pool renews it
    (renewals come every third of the lease, so more than half of it must be left)."""
    if lease_is_fresh(deadline, now, lease_ms):
        return StartCheck.START
    return StartCheck.RENEW_FIRST


class DrainAction(enum.Enum):
    """What a stopping pool does next."""

    #: Nothing runs any more: finish.
    DONE = "done"
    #: Let running tasks finish until the grace period ends.
    WAIT = "wait"
    #: The grace period is over: hand what still runs back to the queue.
    HAND_BACK = "hand_back"


def drain(now: int, started: int, grace_ms: int, running: int) -> tuple[DrainAction, int]:
    """A stopping pool's next step, and until when to wait (``now`` if not waiting)."""
    if running == 0:
        return DrainAction.DONE, now
    if now < started + grace_ms:
        return DrainAction.WAIT, started + grace_ms
    return DrainAction.HAND_BACK, now
