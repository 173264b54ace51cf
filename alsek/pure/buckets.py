"""The run-time histogram's buckets, shared by a pool's totals (``workers``) and its
minute-by-minute activity (``activity``)."""

from __future__ import annotations

import bisect

#: Upper bounds (ms, inclusive) of the run-time histogram buckets; one more
#: bucket counts longer runs.
RUN_BUCKETS_MS: tuple[int, ...] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
)


def bucket_of(run_ms: int) -> int:
    """The index of the histogram bucket counting a run of ``run_ms``."""
    return bisect.bisect_left(RUN_BUCKETS_MS, max(run_ms, 0))


def bucket_bounds(index: int) -> tuple[int, int | None]:
    """The runs bucket ``index`` counts: above the first bound, up to the second (None:
    no upper bound, the last bucket)."""
    if not 0 <= index <= len(RUN_BUCKETS_MS):
        raise ValueError(f"no run-time bucket {index} (0..{len(RUN_BUCKETS_MS)})")
    low = RUN_BUCKETS_MS[index - 1] if index else 0
    high = RUN_BUCKETS_MS[index] if index < len(RUN_BUCKETS_MS) else None
    return low, high
