"""A pool's recent activity, minute by minute, for the dashboard's chart and the
capacity forecast.

Each task a pool has run keeps a ring of ``MinuteRow`` records covering the
last ``HISTORY_MINUTES`` UTC minutes (``minute = ms // MINUTE_MS``). The ring is
sparse: a minute without activity has no row. A row counts, for its minute:

- ``arrived``: messages that became ready in that minute and have since started
  on this pool. An arrival is counted when it first runs, under the minute it
  arrived; the ones still waiting are read from the queues instead, so the two
  never overlap.
- ``succeeded`` / ``failed``: outcomes recorded in that minute (``failed`` is
  every outcome but a success);
- ``run_ms_sum`` and ``run_buckets``: the run times of those outcomes, the
  histogram sparse as ``(bucket index, count)`` pairs over
  ``buckets.RUN_BUCKETS_MS``.

Everything here is pure: times come in as parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

import attrs

from alsek.pure.buckets import RUN_BUCKETS_MS

MINUTE_MS = 60_000
#: How many minutes (the current one included) a pool's record covers.
HISTORY_MINUTES = 60
BUCKETS = len(RUN_BUCKETS_MS) + 1


@attrs.frozen
class MinuteRow:
    """One task's activity on one pool in one minute (see the module docstring)."""

    minute: int
    arrived: int = 0
    succeeded: int = 0
    failed: int = 0
    run_ms_sum: int = 0
    run_buckets: tuple[tuple[int, int], ...] = ()

    @property
    def finished(self) -> int:
        """Outcomes recorded in the minute."""
        return self.succeeded + self.failed


@attrs.frozen
class TaskActivity:
    """A task's recent minutes on one pool, oldest first, with where it queues and
    how it runs (as last seen)."""

    queue: str
    mechanism: str
    minutes: tuple[MinuteRow, ...] = ()


def minute_of(ms: int) -> int:
    """The UTC minute holding the instant ``ms``."""
    return ms // MINUTE_MS


def first_kept(now: int, history: int = HISTORY_MINUTES) -> int:
    """The oldest minute a ring keeps at ``now``."""
    return minute_of(now) - history + 1


def minute_row(
    minute: int,
    arrived: int,
    succeeded: int,
    failed: int,
    run_ms_sum: int,
    buckets: Mapping[int, int] | Iterable[tuple[int, int]],
) -> MinuteRow:
    """A row from raw tallies, checked: counts are non-negative, bucket indexes exist,
    and no more runs are measured than finished. Empty buckets are dropped."""
    pairs = buckets.items() if isinstance(buckets, Mapping) else buckets
    merged: dict[int, int] = {}
    for index, count in pairs:
        if not 0 <= index < BUCKETS:
            raise ValueError(f"minute {minute}: no run-time bucket {index} (0..{BUCKETS - 1})")
        merged[index] = merged.get(index, 0) + count
    counts = (arrived, succeeded, failed, run_ms_sum, *merged.values())
    if min(counts) < 0:
        raise ValueError(f"minute {minute}: activity counts cannot be negative: {counts}")
    if sum(merged.values()) > succeeded + failed:
        raise ValueError(f"minute {minute}: more runs measured than finished")
    kept = tuple(sorted((index, count) for index, count in merged.items() if count))
    return MinuteRow(minute, arrived, succeeded, failed, run_ms_sum, kept)


def trim(
    rows: Iterable[MinuteRow], now: int, history: int = HISTORY_MINUTES
) -> tuple[MinuteRow, ...]:
    """The rows a ring keeps at ``now``: those of its last ``history`` minutes, oldest
    first (a row from a later minute, a skewed clock's, is dropped too)."""
    low, high = first_kept(now, history), minute_of(now)
    return tuple(sorted((r for r in rows if low <= r.minute <= high), key=lambda r: r.minute))


def dense(pairs: Iterable[tuple[int, int]], into: list[int] | None = None) -> list[int]:
    """A sparse histogram added into a dense one (a new one when ``into`` is None)."""
    histogram = into if into is not None else [0] * BUCKETS
    for index, count in pairs:
        histogram[index] += count
    return histogram


def merge(a: MinuteRow, b: MinuteRow) -> MinuteRow:
    """Two rows of one minute added together (two pools, or two tallies)."""
    if a.minute != b.minute:
        raise ValueError(f"cannot merge the rows of minutes {a.minute} and {b.minute}")
    return minute_row(
        a.minute,
        a.arrived + b.arrived,
        a.succeeded + b.succeeded,
        a.failed + b.failed,
        a.run_ms_sum + b.run_ms_sum,
        (*a.run_buckets, *b.run_buckets),
    )


def row_to_list(row: MinuteRow) -> list[object]:
    """The compact stored form of a row: ``[minute, arrived, succeeded, failed,
    run_ms_sum, [[bucket, count], ...]]`` (a record holds up to an hour of them)."""
    pairs = [[index, count] for index, count in row.run_buckets]
    return [row.minute, row.arrived, row.succeeded, row.failed, row.run_ms_sum, pairs]


def row_from_list(value: object) -> MinuteRow:
    """A row from its stored form, checked (``ValueError`` says what is wrong)."""
    if not isinstance(value, (list, tuple)) or len(value) != 6:
        raise ValueError(f"a minute row is a list of 6 items, got {value!r}")
    *numbers, pairs = value
    if not all(type(n) is int for n in numbers):
        raise ValueError(f"a minute row's counts are ints, got {value!r}")
    ok_pairs = isinstance(pairs, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(type(x) is int for x in p)
        for p in pairs
    )
    if not ok_pairs:
        raise ValueError(f"a minute row's buckets are [index, count] pairs, got {pairs!r}")
    minute, arrived, succeeded, failed, run_ms_sum = cast(list[int], numbers)
    checked = [(p[0], p[1]) for p in cast(list[list[int]], pairs)]
    return minute_row(minute, arrived, succeeded, failed, run_ms_sum, checked)
