"""Saturated bursts: what a task costs its slot, and a claim its round trip, under load.

``loaded`` submits a burst of probe messages of every slot kind given, all
ready at once (``submit_burst``), waits until they are done and reads the
pool's events: per slot kind the mean slot cost (claim answered -> outcome
in hand, beyond the duration) and recording (outcome -> recorded), and the
claim round trips fitted as a fixed part plus a part per item carried
(``fit_line``). Means, not trimmed: a slot's throughput is set by its mean
cost, heavy tail included; ``median_burst`` takes the median of several runs
instead, so that a hiccup of a shared machine spoiling one run moves nothing.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from alsek.calibration.attempts import Plans, attempts_of
from alsek.calibration.recorder import Recorder


@dataclass
class Loaded:
    """One slot kind in a saturated burst: ``count`` messages of ``duration_ms``, all ready
    at once, on ``slots`` slots. Means in ms (not trimmed: a slot's throughput is set by
    its mean cost, heavy tail included)."""

    count: int
    duration_ms: int
    slots: int
    makespan_ms: float
    #: Slot time per message beyond its duration, in the steady middle of the burst
    #: (10% to 90% of the messages done): slots / throughput - duration.
    cycle_cost_ms: float
    #: Claim answered -> outcome in hand, beyond the duration.
    slot_cost_ms: float
    #: Outcome in hand -> recorded.
    settle_ms: float

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready copy."""
        return asdict(self)


@dataclass
class Burst:
    """A saturated burst of every slot kind at once: each kind's figures, and the claim
    round trips of the burst fitted as ``claim_rtt_ms + claim_ms_per_item * items``
    (items: the messages a claim took plus the acks it carried), by least squares."""

    kinds: dict[str, Loaded]
    claims: int
    claim_rtt_ms: float
    claim_ms_per_item: float

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready copy."""
        return asdict(self)


def median_burst(bursts: Sequence[Burst]) -> Burst:
    """Figure by figure, the median of several runs of the same burst: one run is a
    second or two, and a hiccup of a shared machine can double its means."""

    def mid(values: Sequence[float]) -> float:
        return statistics.median(values)

    kinds = {}
    for kind, first in bursts[0].kinds.items():
        runs = [burst.kinds[kind] for burst in bursts]
        kinds[kind] = Loaded(
            count=first.count,
            duration_ms=first.duration_ms,
            slots=first.slots,
            makespan_ms=mid([run.makespan_ms for run in runs]),
            cycle_cost_ms=mid([run.cycle_cost_ms for run in runs]),
            slot_cost_ms=mid([run.slot_cost_ms for run in runs]),
            settle_ms=mid([run.settle_ms for run in runs]),
        )
    return Burst(
        kinds,
        sum(burst.claims for burst in bursts),
        mid([burst.claim_rtt_ms for burst in bursts]),
        mid([burst.claim_ms_per_item for burst in bursts]),
    )


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope) of y on x, the slope kept >= 0 (a flat line when
    x does not vary)."""
    n = len(points)
    if not n:
        return math.nan, math.nan
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    slope = 0.0 if sxx == 0 else sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    slope = max(slope, 0.0)
    return mean_y - slope * mean_x, slope


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def submit_burst(
    recorder: Recorder, tasks: Mapping[str, Any], keys: Mapping[str, str], duration_ms: int
) -> float:
    """Submit one message per key (``keys``: key -> slot kind, ``tasks``: one per slot kind)
    in one call, so they are all ready at once; returns when the call started
    (``time.monotonic`` seconds), when each key counts as submitted."""
    messages = [
        tasks[kind].generate(args=(key, [[duration_ms, False]]), submit=False)
        for key, kind in keys.items()
    ]
    broker = next(iter(tasks.values())).broker
    at = time.monotonic()
    broker.submit_many(messages)
    for key, message in zip(keys, messages, strict=True):
        recorder.submit(key, message.uuid, at)
    return at


def loaded(
    tasks: Mapping[str, Any],
    slots: Mapping[str, int],
    recorder: Recorder,
    waves: int = 12,
    duration_ms: int = 100,
) -> Burst:
    """Run a saturated burst: ``waves`` messages of ``duration_ms`` per slot of each kind in
    ``tasks``, all ready at once, and time it."""
    tag = time.monotonic_ns()  # every burst has keys of its own
    keys = {
        f"load-{tag}-{kind}-{index}": kind
        for kind in sorted(tasks)
        for index in range(waves * slots[kind])
    }
    since = time.monotonic()
    ready_at = submit_burst(recorder, tasks, keys, duration_ms)
    timeout = 120 + 5 * waves * duration_ms / 1000
    if not recorder.wait_finals(list(keys), timeout):
        raise SystemExit(f"the saturated burst did not finish within {timeout:.0f} s")
    time.sleep(0.1)  # acks riding on a claim: let them land
    claims = [c for c in recorder.plain_claims(since) if c.tokens or c.acked]
    points = [(len(c.tokens) + len(c.acked), (c.end - c.start) * 1000) for c in claims]
    rtt_ms, per_item_ms = fit_line(points)
    plans: Plans = {key: (kind, ((duration_ms, False),)) for key, kind in keys.items()}
    attempts = attempts_of(recorder, {}, plans, rtt_ms / 1000)
    finals = recorder.final_times()
    figures = {}
    for kind in sorted(tasks):
        mine = sorted(finals[key] for key, of in keys.items() if of == kind)
        count = len(mine)
        low, high = count // 10, count * 9 // 10
        cycle = slots[kind] * (mine[high] - mine[low]) * 1000 / max(high - low, 1)
        runs = [a for a in attempts if a.mechanism == kind]
        figures[kind] = Loaded(
            count=count,
            duration_ms=duration_ms,
            slots=slots[kind],
            makespan_ms=(mine[-1] - ready_at) * 1000,
            cycle_cost_ms=cycle - duration_ms,
            slot_cost_ms=_mean([a.slot_cost_ms for a in runs]),
            settle_ms=_mean([a.settle_ms for a in runs]),
        )
    return Burst(figures, len(points), rtt_ms, per_item_ms)
