"""What the live pools' records say together: outcomes per minute (the dashboard's
chart) and, per task, arrivals and run times over a recent window (the capacity
forecast's inputs).

The window starts at a minute boundary: the later of ``minutes`` ago and the
minute the oldest live pool started (before it, nothing was observed). Its
span runs from there to ``now``. Pools that died took their counts with them;
what is left is what the live pools saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from alsek.pure.activity import BUCKETS, HISTORY_MINUTES, MINUTE_MS, dense, minute_of
from alsek.pure.workers import WorkerRecord


@attrs.frozen
class Observed:
    """One task's activity over a window, every live pool together.

    ``arrived`` counts messages that became ready inside the window and have
    started; ``run_buckets`` is dense (one count per bucket); ``lifetime_*``
    are the same run-time figures since each pool started, for a task that
    finished nothing inside the window.
    """

    task: str
    queue: str
    mechanism: str
    arrived: int
    succeeded: int
    failed: int
    run_ms_sum: int
    run_buckets: tuple[int, ...]
    lifetime_finished: int = 0
    lifetime_run_ms_sum: int = 0
    lifetime_buckets: tuple[int, ...] = (0,) * BUCKETS

    @property
    def finished(self) -> int:
        """Outcomes inside the window."""
        return self.succeeded + self.failed


@attrs.frozen
class Observation:
    """The window ``[start_minute, now]`` and each task's activity in it, by name."""

    start_minute: int
    now: int
    tasks: tuple[Observed, ...]

    @property
    def span_ms(self) -> int:
        """How long the window is (at least 1 ms)."""
        return max(self.now - self.start_minute * MINUTE_MS, 1)


def window_start(records: Sequence[WorkerRecord], now: int, minutes: int) -> int:
    """The first minute of a ``minutes``-long window ending at ``now``: not before the
    oldest live pool started, nor before the records' history."""
    if not 1 <= minutes <= HISTORY_MINUTES:
        raise ValueError(f"the window is 1 to {HISTORY_MINUTES} minutes, got {minutes}")
    start = minute_of(now) - minutes + 1
    if records:
        start = max(start, min(minute_of(r.started_at) for r in records))
    return min(start, minute_of(now))


def observe(records: Sequence[WorkerRecord], now: int, minutes: int) -> Observation:
    """Every task's arrivals, outcomes and run times over the last ``minutes`` (see the
    module docstring), by task name. A task's queue and mechanism are the ones the
    most recently written record saw."""
    start, end = window_start(records, now, minutes), minute_of(now)
    totals: dict[str, list[int]] = {}
    histograms: dict[str, list[int]] = {}
    lifetime: dict[str, list[int]] = {}
    where: dict[str, tuple[str, str]] = {}
    for record in sorted(records, key=lambda r: (r.heartbeat_at, r.id)):
        for task, activity in record.activity.items():
            where[task] = (activity.queue, activity.mechanism)
            counts = totals.setdefault(task, [0, 0, 0, 0])
            histogram = histograms.setdefault(task, [0] * BUCKETS)
            for row in activity.minutes:
                if start <= row.minute <= end:
                    counts[0] += row.arrived
                    counts[1] += row.succeeded
                    counts[2] += row.failed
                    counts[3] += row.run_ms_sum
                    dense(row.run_buckets, histogram)
        for task, stats in record.tasks.items():
            sums = lifetime.setdefault(task, [0, 0, *([0] * BUCKETS)])
            sums[0] += stats.finished
            sums[1] += stats.run_ms_sum
            for index, count in enumerate(stats.run_buckets):
                sums[2 + index] += count
    observed = []
    for task in sorted(where):
        queue, mechanism = where[task]
        arrived, succeeded, failed, run_ms = totals[task]
        past = lifetime.get(task, [0, 0, *([0] * BUCKETS)])
        observed.append(
            Observed(
                task,
                queue,
                mechanism,
                arrived,
                succeeded,
                failed,
                run_ms,
                tuple(histograms[task]),
                past[0],
                past[1],
                tuple(past[2:]),
            )
        )
    return Observation(start, now, tuple(observed))


def outcomes_per_minute(
    records: Sequence[WorkerRecord], now: int, minutes: int = HISTORY_MINUTES
) -> tuple[tuple[int, int, int], ...]:
    """``(minute start ms, succeeded, failed)`` for each of the last ``minutes`` minutes
    (the current one last, empty minutes included), every live pool and task together."""
    end = minute_of(now)
    first = end - minutes + 1
    succeeded = [0] * minutes
    failed = [0] * minutes
    for record in records:
        for activity in record.activity.values():
            for row in activity.minutes:
                if first <= row.minute <= end:
                    succeeded[row.minute - first] += row.succeeded
                    failed[row.minute - first] += row.failed
    return tuple(
        ((first + index) * MINUTE_MS, succeeded[index], failed[index]) for index in range(minutes)
    )
