"""The run's makespan and latency, errors, and idle slot time (pure arithmetic)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alsek.calibration.stats import nearest_rank


def error_pct(measured: float, predicted: float) -> float:
    """Relative error of the prediction, in % of the measurement."""
    if math.isnan(measured) or measured == 0:
        return math.nan
    return (predicted - measured) / measured * 100


@dataclass(frozen=True)
class Stats:
    """Makespan and latency percentiles of a run, in ms."""

    count: int
    makespan_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float = math.nan


def run_stats(
    submitted: Mapping[str, float], finals: Mapping[str, float], keys: Sequence[str]
) -> Stats:
    """Makespan (first submit to last final outcome recorded) and latency (submit to final
    outcome recorded) of the finished ``keys`` (times in seconds)."""
    done = [key for key in keys if key in finals]
    if not done:
        return Stats(0, math.nan, math.nan, math.nan)
    latencies = sorted((finals[k] - submitted[k]) * 1000 for k in done)
    first = min(submitted[k] for k in keys if k in submitted)
    makespan = (max(finals[k] for k in done) - first) * 1000
    return Stats(
        len(done),
        makespan,
        nearest_rank(latencies, 50),
        nearest_rank(latencies, 95),
        nearest_rank(latencies, 99),
    )


def idle_slot_seconds(events: list[tuple[float, int, int]], slots: int) -> float:
    """Slot time left idle while messages that could use the slot were ready and waiting.

    ``events`` are (time, change in ready messages, change in busy slots). A
    dispatcher that reacts at once to a freed slot keeps this near the
    claim round trips; a missed wake-up shows up here.
    """
    events.sort(key=lambda e: (e[0], -e[2]))
    waiting = busy = 0
    last = events[0][0] if events else 0.0
    idle = 0.0
    for at, ready, taken in events:
        idle += (at - last) * min(max(slots - busy, 0), max(waiting, 0))
        waiting, busy, last = waiting + ready, busy + taken, at
    return idle
