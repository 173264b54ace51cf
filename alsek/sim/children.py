"""Task processes that claim for themselves, as the real pool's do. Mixed into ``Engine``.

A pool's process slots are its task processes (``alsek.effects.runners.child``):
the dispatcher claims thread work only (process work is *delegated*,
``alsek.pure.pool``), and each idle task process waits on the backend and
claims one process message the moment one is signalled (one round trip),
runs it, then records it and claims its next (``alsek.sim.completion``).
A submission or a message becoming ready wakes one idle task process (one
signal token, one blocking pop: the one waiting longest, of the pools in
turn), like the real signal list; a task process whose claim finds nothing
waits again, at most until the next delayed message is due or its
consumer's backoff runs out (the n-th empty claim in a row waits
``consumer_backoff(n)``, as the real consumer does). A signal that
finds no task process waiting stays in the list (up to ``SIGNAL_TOKENS``, as
the backend keeps them), and the next wait to begin returns with it at once:
a submission while every task process was busy is never lost.

Each idle task process has one wait at a time, numbered (``PoolState.children``:
id -> wait number). Every event that may end a wait names the wait; once it
ended, the other events of that wait are void. So a wait costs a bounded
number of events, however many signals, due times and timer ticks meet it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alsek.pure import pool as policy
from alsek.sim.runtime import DEAD, Held, PoolState, Trip
from alsek.sim.signals import Signals
from alsek.sim.store import Store

CHILD_WAKE, CHILD_CLAIMED, CHILD_DUE = 10, 11, 12  # (CHILD_WAKE: also alsek.sim.dispatch's)
#: Signals the backend keeps for waits yet to begin (Redis: a signal list of 16).
SIGNAL_TOKENS = 16

#: (pool epoch, task process id, wait number)
WaitRef = tuple[int, int, int]


class ChildPools:
    """Idle task processes and their claims; ``Engine`` provides the rest."""

    now: int
    rtt: Trip
    timer: int
    poll: Any
    pools: list[PoolState]
    store: Store
    signals: Signals
    _next_pool: int = 0
    #: Waits of idle task processes that fell due, until the backend serves a request.
    _due_children: list[tuple[int, WaitRef]]
    _waits: int = 0
    #: Signals nobody took yet (no task process was waiting).
    _tokens: int = 0

    # Provided by Engine, Completion and Dispatcher (annotations only: they must not
    # shadow the methods).
    push: Callable[[int, int, Any, Any], None]
    _runner_claim: Callable[[PoolState], Held | None]
    _launch: Callable[[PoolState, Held], bool]

    def _wake_children(self, at: int, signal: bool) -> None:
        """A message becomes claimable at ``at``: one idle task process (of the pools in
        turn; the one waiting longest) wakes for it (a delayed one: it falls due then)."""
        count = len(self.pools)
        for step in range(count):
            pool = self.pools[(self._next_pool + step) % count]
            if pool.state == DEAD:
                continue
            child = next((c for c in pool.children if c not in pool.woken), None)
            if child is None:
                continue
            self._next_pool = (pool.index + 1) % count
            ref = (pool.epoch, child, pool.children[child])
            if signal:
                pool.woken.add(child)  # the token is its: the next one goes to another
                self.push(at, CHILD_WAKE, pool.index, ref)
            else:
                self.push(at, CHILD_DUE, pool.index, ref)
            return
        if signal:  # nobody waits: the signal stays for the next wait
            self._tokens = min(self._tokens + 1, SIGNAL_TOKENS)

    def _waiting(self, pool: PoolState, ref: WaitRef) -> bool:
        """Whether ``ref`` is the current wait of an idle task process of ``pool``."""
        epoch, child, wait = ref
        return pool.state != DEAD and epoch == pool.epoch and pool.children.get(child) == wait

    def _child_wake(self, index: int, ref: WaitRef) -> None:
        """An idle task process's wait ends: it claims one process message."""
        pool = self.pools[index]
        if not self._waiting(pool, ref):
            return
        child = ref[1]
        # Busy from now on: its claim serves the backend, which may end other waits
        # (``_serve_children``) and must not hand this same process a second claim.
        del pool.children[child]
        pool.woken.discard(child)
        if self.signals.one:
            self.signals.end(("c", index, child))
        held = self._runner_claim(pool)
        if held is None:
            self._child_wait(pool, child)  # nothing for it: it waits again
            return
        pool.child_passes.pop(child, None)
        pool.policy = policy.admit(pool.policy, "process")
        self.push(self.now + self.rtt(1), CHILD_CLAIMED, index, (ref[0], held))

    def _child_claimed(self, index: int, payload: tuple[int, Held]) -> None:
        epoch, held = payload
        pool = self.pools[index]
        if epoch == pool.epoch:
            self._launch(pool, held)

    def _child_idle(self, pool: PoolState, claim_now: bool) -> None:
        """A task process has no job any more; with ``claim_now`` it claims at once, else
        it waits, at most until the next delayed message is due (its claim said when)."""
        pool.child_serial += 1
        child = pool.child_serial
        if claim_now:
            ref = self._new_wait(pool, child)
            self.push(self.now, CHILD_WAKE, pool.index, ref)
        else:
            self._child_wait(pool, child)

    def _new_wait(self, pool: PoolState, child: int) -> WaitRef:
        self._waits += 1
        pool.children[child] = self._waits
        return (pool.epoch, child, self._waits)

    def _child_wait(self, pool: PoolState, child: int) -> None:
        """An idle task process waits for work, at most until the next delayed message
        falls due (its claim told it when) or its backoff runs out; a signal left
        waiting ends the wait at once."""
        ref = self._new_wait(pool, child)
        signals = self.signals
        if signals.begin(("c", pool.index, child)) if signals.one else self._tokens:
            if not signals.one:
                self._tokens -= 1
            pool.woken.add(child)
            self.push(self.now, CHILD_WAKE, pool.index, ref)
            return
        due = self.store.next_ready_at()
        if self.poll is not None:
            passes = pool.child_passes[child] = pool.child_passes.get(child, 0) + 1
            polled = self.now + max(self.poll.get(passes), 1)
            due = polled if due is None else min(due, polled)
        if due is not None:
            self.push(max(due, self.now), CHILD_DUE, pool.index, ref)

    def _child_due(self, index: int, ref: WaitRef) -> None:
        """A task process's wait fell due: it ends now, or, on a backend with a timer
        tick, when the backend next serves a request or at its next tick."""
        if not self._waiting(self.pools[index], ref):
            return
        tick = self._tick(self.now)
        if tick == self.now:
            self._child_wake(index, ref)
        else:
            self._due_children.append((index, ref))
            self.push(tick, CHILD_WAKE, index, ref)

    def _serve_children(self) -> None:
        """The backend served a request: task processes' waits that fell due end now."""
        due, self._due_children = self._due_children, []
        for index, ref in due:
            self._child_wake(index, ref)

    def _tick(self, at: int) -> int:
        return -(-at // self.timer) * self.timer if self.timer else at
