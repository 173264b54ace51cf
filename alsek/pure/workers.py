"""The worker registry's record of one pool, and the statistics it carries.

A pool writes its ``WorkerRecord`` every few seconds with a TTL, so the
registry holds exactly the pools that are alive. Besides who and where
(host, pid, queues, slots) it carries what a capacity forecast needs,
per task: arrivals seen (claims), starts, outcomes, the sum of run times
and of queue waits, and a histogram of run times in fixed buckets (since
the pool started, and minute by minute over the last hour: ``activity``);
and, for the pool, a throughput over the last minute (``Throughput``).
Everything here is pure: times come in as parameters.
"""

from __future__ import annotations

import attrs

from alsek.pure.activity import TaskActivity
from alsek.pure.buckets import RUN_BUCKETS_MS as RUN_BUCKETS_MS
from alsek.pure.buckets import bucket_of as bucket_of

#: The window over which a pool's tasks/s is measured.
RATE_WINDOW_MS = 60_000


def _empty_buckets() -> tuple[int, ...]:
    return (0,) * (len(RUN_BUCKETS_MS) + 1)


@attrs.frozen
class TaskStats:
    """One task's counts in one pool since it started.

    ``claimed`` counts messages this pool took from the queue (its share of
    the arrivals); ``failed`` counts every outcome but a success (failures,
    timeouts, crashes, cancellations); ``run_ms_sum``/``run_buckets`` cover
    finished runs, ``wait_ms_sum`` the time from ready to start of started ones.
    """

    claimed: int = 0
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    run_ms_sum: int = 0
    wait_ms_sum: int = 0
    run_buckets: tuple[int, ...] = attrs.field(factory=_empty_buckets)

    @property
    def finished(self) -> int:
        """Runs that ended in an outcome."""
        return self.succeeded + self.failed


def task_stats(
    claimed: int,
    started: int,
    succeeded: int,
    failed: int,
    run_ms_sum: int,
    wait_ms_sum: int,
    run_buckets: tuple[int, ...],
) -> TaskStats:
    """A task's stats from raw tallies, checked: counts are non-negative, no more runs
    finish than start, and the histogram has one bucket per bound plus one."""
    counts = (claimed, started, succeeded, failed, run_ms_sum, wait_ms_sum, *run_buckets)
    if min(counts, default=0) < 0:
        raise ValueError(f"task statistics cannot be negative: {counts}")
    if len(run_buckets) != len(RUN_BUCKETS_MS) + 1:
        raise ValueError(f"a run-time histogram has {len(RUN_BUCKETS_MS) + 1} buckets")
    if sum(run_buckets) > succeeded + failed:
        raise ValueError("more runs measured than finished")
    return TaskStats(
        claimed, started, succeeded, failed, run_ms_sum, wait_ms_sum, tuple(run_buckets)
    )


@attrs.frozen
class Throughput:
    """Samples of (time, finished so far), oldest first, for a rate over a window."""

    samples: tuple[tuple[int, int], ...] = ()


def sample(
    throughput: Throughput, now: int, done: int, window_ms: int = RATE_WINDOW_MS
) -> Throughput:
    """Add a sample; keep those inside the window, plus the newest one before it."""
    kept = [s for s in throughput.samples if s[0] <= now]
    inside = [s for s in kept if s[0] >= now - window_ms]
    before = [s for s in kept if s[0] < now - window_ms][-1:]
    return Throughput((*before, *inside, (now, done)))


def per_second(throughput: Throughput) -> float:
    """Tasks finished per second between the oldest and the newest sample (0 when
    fewer than two samples span any time)."""
    if len(throughput.samples) < 2:
        return 0.0
    (t0, d0), (t1, d1) = throughput.samples[0], throughput.samples[-1]
    if t1 <= t0:
        return 0.0
    return max(d1 - d0, 0) * 1000 / (t1 - t0)


@attrs.frozen
class RunningTask:
    """A task a pool is running: its message, and when it started (UTC ms)."""

    uuid: str
    task: str
    queue: str
    mechanism: str
    started_at: int


@attrs.frozen
class WorkerRecord:
    """What the registry knows of one live pool (times in UTC ms)."""

    id: str
    host: str
    pid: int
    started_at: int
    heartbeat_at: int
    queues: tuple[str, ...]
    slots: dict[str, int]
    busy: dict[str, int]
    running: tuple[RunningTask, ...] = ()
    processed: int = 0
    failed: int = 0
    tasks_per_s: float = 0.0
    tasks: dict[str, TaskStats] = attrs.field(factory=dict)
    activity: dict[str, TaskActivity] = attrs.field(factory=dict)

    def uptime_ms(self, now: int) -> int:
        """How long the pool has run, at ``now``."""
        return max(now - self.started_at, 0)

    @property
    def slots_used(self) -> int:
        """Slots in use, every mechanism together."""
        return sum(self.busy.values())

    @property
    def slots_total(self) -> int:
        """Slots, every mechanism together."""
        return sum(self.slots.values())
