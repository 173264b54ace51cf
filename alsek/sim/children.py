"""Task processes that claim for themselves, as the real pool's do. Mixed into ``Engine``.

A pool's process slots are its task processes (``alsek.effects.runners.child``):
the dispatcher claims thread work only (process work is *delegated*,
``alsek.pure.pool``), and each idle task process waits on the backend and
claims one process message the moment one is signalled (one round trip),
runs it, then records it and claims its next (``alsek.sim.completion``).
A submission or a message becoming ready wakes one idle task process (one
signal token, one blocking pop), like the real signal list; a task
process whose claim finds nothing waits again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alsek.pure import pool as policy
from alsek.sim.runtime import DEAD, Held, PoolState
from alsek.sim.store import Store

CHILD_WAKE, CHILD_CLAIMED, CHILD_DUE = 10, 11, 12


class ChildPools:
    """Idle task processes and their claims; ``Engine`` provides the rest."""

    now: int
    rtt: int
    timer: int
    pools: list[PoolState]
    store: Store
    _next_pool: int = 0
    #: Idle task processes whose wait fell due, until the backend serves a request.
    _due_children: list[tuple[int, int]]

    # Provided by Engine, Completion and Dispatcher (annotations only: they must not
    # shadow the methods).
    push: Callable[[int, int, Any, Any], None]
    _runner_claim: Callable[[PoolState], Held | None]
    _launch: Callable[[PoolState, Held], bool]

    def _wake_children(self, at: int, signal: bool) -> None:
        """A message becomes claimable at ``at``: one idle task process (of the pools in
        turn) wakes for it (a delayed one: at the backend's next timer tick)."""
        kind = CHILD_WAKE if signal else CHILD_DUE
        count = len(self.pools)
        for step in range(count):
            pool = self.pools[(self._next_pool + step) % count]
            if pool.state != DEAD and pool.idle_children > 0:
                self._next_pool = (pool.index + 1) % count
                self.push(at, kind, pool.index, pool.epoch)
                return

    def _child_wake(self, index: int, epoch: int) -> None:
        """An idle task process's wait ends: it claims one process message."""
        pool = self.pools[index]
        if pool.state == DEAD or epoch != pool.epoch or pool.idle_children == 0:
            return
        # Busy from now on: its claim serves the backend, which may end other waits
        # (``_serve_children``) and must not hand this same process a second claim.
        pool.idle_children -= 1
        held = self._runner_claim(pool)
        if held is None:
            pool.idle_children += 1
            self._child_wait(pool)  # nothing for it: it waits again
            return
        pool.policy = policy.admit(pool.policy, "process")
        self.push(self.now + self.rtt, CHILD_CLAIMED, index, (epoch, held))

    def _child_claimed(self, index: int, payload: tuple[int, Held]) -> None:
        epoch, held = payload
        pool = self.pools[index]
        if epoch == pool.epoch:
            self._launch(pool, held)

    def _child_idle(self, pool: PoolState, claim_now: bool) -> None:
        """A task process has no job any more; with ``claim_now`` it claims at once, else
        it waits, at most until the next delayed message is due (its claim said when)."""
        pool.idle_children += 1
        if claim_now:
            self.push(self.now, CHILD_WAKE, pool.index, pool.epoch)
        else:
            self._child_wait(pool)

    def _child_wait(self, pool: PoolState) -> None:
        """An idle task process waits for work, at most until the next delayed message
        falls due (its claim told it when).

        A process message that became ready while every task process was busy left its
        signal token in the list (or its wake-up time has passed): the wait ends at once.
        """
        store = self.store
        store.promote(self.now)
        if store.has_ready("process"):
            self.push(self.now, CHILD_WAKE, pool.index, pool.epoch)
            return
        due = store.next_ready_at()
        if due is not None:
            self.push(max(due, self.now), CHILD_DUE, pool.index, pool.epoch)

    def _child_due(self, index: int, epoch: int) -> None:
        """A task process's wait fell due: it ends now, or, on a backend with a timer
        tick, when the backend next serves a request or at its next tick."""
        tick = self._tick(self.now)
        if tick == self.now:
            self._child_wake(index, epoch)
        else:
            self._due_children.append((index, epoch))
            self.push(tick, CHILD_WAKE, index, epoch)

    def _serve_children(self) -> None:
        """The backend served a request: task processes' waits that fell due end now."""
        due, self._due_children = self._due_children, []
        for index, epoch in due:
            self._child_wake(index, epoch)

    def _tick(self, at: int) -> int:
        return -(-at // self.timer) * self.timer if self.timer else at
