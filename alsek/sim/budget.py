"""A run's event budget: every simulation ends, with a clear error if the engine loops.

A sound run handles a bounded number of events per message placed in a
queue (a submission, retry, redelivery or expiry) and per simulated
millisecond of each waiter (a dispatcher or task process: waits, polls,
timer ticks). ``Budget.check`` runs every ``CHECK_EVERY`` events and stops
the run with ``SimulationRunawayError`` when it is over that budget (events
that do not advance the clock, or that multiply), or when it is stuck: ready
messages, none running or delayed, no arrival to come, and no claim taking
any for ``CHECK_EVERY`` events (polls alone would advance the clock for ever).
"""

from __future__ import annotations

from alsek.exceptions import SimulationRunawayError
from alsek.sim.workload import Workload

#: Events any run may handle, besides those its work and its length justify.
BASE_EVENTS = 1_000_000
#: Events per message placed in a queue.
EVENTS_PER_PLACEMENT = 1_000
#: Events per simulated ms per dispatcher or task process.
EVENTS_PER_WAITER_MS = 8
#: How often (in events) the budget is checked.
CHECK_EVERY = 1 << 16


class Budget:
    """The budget of one run of ``workload`` (``max_events``: a fixed one instead)."""

    def __init__(self, workload: Workload, max_events: int | None = None) -> None:
        self.name = workload.name
        self.waiters = workload.pool.pools * (1 + workload.pool.max_processes)
        self.max_events = max_events
        #: Check every this many events (every event under a fixed budget).
        self.every = CHECK_EVERY if max_events is None else 1
        self._progress = (-1, -1)
        self._since = 0

    def allowed(self, now: int, placed: int) -> int:
        """Events allowed by ``now`` (ms) with ``placed`` messages placed so far."""
        if self.max_events is not None:
            return self.max_events
        per_ms = EVENTS_PER_WAITER_MS * self.waiters
        return BASE_EVENTS + EVENTS_PER_PLACEMENT * placed + per_ms * now

    def check(
        self, events: int, now: int, placed: int, claimed: int, idle: bool, detail: str
    ) -> None:
        """Raise if ``events`` is over budget, or if the run is stuck: nothing ``claimed`` or
        ``placed`` for ``CHECK_EVERY`` events while ``idle`` (work waits, nothing else can
        happen). ``detail`` describes the run's state for the error."""
        where = f"simulation of {self.name!r} stopped at {now} ms"
        allowed = self.allowed(now, placed)
        if events > allowed:
            raise SimulationRunawayError(
                f"{where}: {events} events handled, over its budget of {allowed} ({detail}); "
                "the engine is looping"
            )
        progress = (claimed, placed)
        if progress != self._progress:
            self._progress, self._since = progress, events
        elif idle and events - self._since >= CHECK_EVERY:
            raise SimulationRunawayError(
                f"{where}: no claim took a message in the last {events - self._since} events "
                f"while messages waited and nothing ran ({detail}); a wake-up was lost"
            )
