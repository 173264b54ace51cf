"""Percentiles and trimmed means of measured times (pure arithmetic)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


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
