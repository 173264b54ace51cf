"""What a run observes: counters, final outcomes, time averages and sampled queue depth.

Two time integrals are exact (summed between events, not sampled): messages
in the system (submitted, not yet final) and messages in the queues (ready
or delayed, not claimed); divided by the run's length they are the mean
number in system and the mean backlog, the L of Little's law.

The depth series starts at one sample per ``sample_ms``; when it grows past
``2 * max_points`` every other sample is dropped and the interval doubles,
so a run of any length keeps a bounded, evenly spaced series.
"""

from __future__ import annotations

from collections.abc import Sequence

TASK_COUNTERS = (
    "submitted",
    "succeeded",
    "dead_lettered",
    "attempts",
    "retries",
    "redeliveries",
    "failures",
    "timeouts",
    "crashes",
)
GLOBAL_COUNTERS = (
    "claims",
    "empty_claims",
    "callbacks",
    "dead_on_claim",
    "lease_expiries",
    "pool_kills",
    "results_stored",
    "wasted_ms",
    "retry_wait_ms",
)

#: One final outcome: task, priority, submitted at, finished at, succeeded,
#: first started at (None if it never ran: dead-lettered on claim).
Final = tuple[str, int, int, int, bool, int | None]


class Recorder:
    """Accumulates a run's measurements; the report is computed from it."""

    def __init__(
        self, tasks: Sequence[str], queues: Sequence[str], sample_ms: int, max_points: int = 500
    ) -> None:
        self.counts: dict[str, int] = dict.fromkeys(GLOBAL_COUNTERS, 0)
        self.by_task: dict[str, dict[str, int]] = {
            task: dict.fromkeys(TASK_COUNTERS, 0) for task in tasks
        }
        self.finals: list[Final] = []
        self.queues = tuple(queues)
        self.series: list[tuple[int, ...]] = []
        self.interval = sample_ms
        self.next_sample = 0
        self.max_points = max_points
        self.area = 0
        self.queued_area = 0
        self.last_t = 0

    def count(self, task: str, counter: str, by: int = 1) -> None:
        """Add ``by`` to a per-task counter."""
        self.by_task[task][counter] += by

    def final(
        self, task: str, priority: int, submitted: int, now: int, ok: bool, started: int | None
    ) -> None:
        """Record a message leaving the system (acked or dead-lettered)."""
        self.finals.append((task, priority, submitted, now, ok, started))
        self.by_task[task]["succeeded" if ok else "dead_lettered"] += 1

    def advance(
        self, t: int, in_system: int, in_flight: int, waiting: dict[str, int], queued: int
    ) -> None:
        """The clock moves to ``t``; the state held since the last event is measured.

        ``waiting`` is by queue and ``queued`` its total (passed, not summed, on this hot path).
        """
        elapsed = t - self.last_t
        self.area += in_system * elapsed
        self.queued_area += queued * elapsed
        self.last_t = t
        if t < self.next_sample:
            return
        row = (in_flight, *waiting.values())
        while self.next_sample <= t:
            self.series.append((self.next_sample, *row))
            self.next_sample += self.interval
            if len(self.series) >= 2 * self.max_points:
                self._coarsen()

    def _coarsen(self) -> None:
        self.series = self.series[::2]
        self.interval *= 2
        last = self.series[-1][0]
        self.next_sample = (last // self.interval + 1) * self.interval
