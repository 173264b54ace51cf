"""Percentiles, trimmed means and the run's makespan and latency (pure arithmetic)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def nearest_rank(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank ``p``-th percentile of sorted values (the simulator's definition)."""
    if not ordered:
        return math.nan
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def trimmed_mean(values: Sequence[float], cut: float = 0.1) -> float:
    """The mean without the lowest and highest ``cut`` of the values (NaN when empty).

    The simulator's overheads are constants standing for a random cost; the
    mean is what slot occupancy and queueing depend on, and trimming keeps
    one scheduler hiccup among a few dozen probes from dominating it.
    """
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return math.nan
    ordered = sorted(kept)
    drop = int(len(ordered) * cut)
    return statistics.fmean(ordered[drop : len(ordered) - drop] or ordered)


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
    return Stats(len(done), makespan, nearest_rank(latencies, 50), nearest_rank(latencies, 95))


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
