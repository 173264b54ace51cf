"""The answer to "how many workers, how long to drain, what do retries cost".

A ``Report`` is a frozen record of plain values computed once from a run;
``to_json`` is deterministic (sorted keys), so two runs with one seed give
identical text. Latency is submit to final outcome (ack or dead letter), in
ms; wait is submit to the start of the first run (time in the queue, plus
the claim round trip and hand-off that start it), over messages that ran;
percentiles are nearest-rank. Utilisation is slot time held (claim to end)
over slot time available while pools were alive. ``mean_in_system`` and
``mean_queued`` are exact time averages over the run (Little's L and L_q).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from alsek.pure.message import SlotKind
from alsek.sim.recorder import Final
from alsek.sim.trace import TraceEvent

if TYPE_CHECKING:  # the engine imports nothing from here; avoid a cycle at runtime
    from alsek.sim.engine import Engine

SERIES_BINS = 100


@attrs.frozen
class LatencyStats:
    """Latency (ms) of messages that reached a final outcome."""

    count: int
    mean_ms: float
    p50_ms: int
    p95_ms: int
    p99_ms: int
    max_ms: int


@attrs.frozen
class TaskStats:
    """What happened to one task kind."""

    submitted: int
    succeeded: int
    dead_lettered: int
    pending: int
    attempts: int
    retries: int
    redeliveries: int
    failures: int
    timeouts: int
    crashes: int
    latency: LatencyStats
    wait: LatencyStats


@attrs.frozen
class Report:
    """A run's results. ``trace`` is None unless the run recorded one."""

    workload: str
    seed: int
    submitted: int
    succeeded: int
    dead_lettered: int
    pending: int
    attempts: int
    retries: int
    redeliveries: int
    failures: int
    timeouts: int
    crashes: int
    dead_on_claim: int
    lease_expiries: int
    pool_kills: int
    callbacks: int
    claims: int
    empty_claims: int
    end_ms: int
    makespan_ms: int
    throughput_per_s: float
    mean_in_system: float
    mean_queued: float
    wasted_ms: int
    retry_wait_ms: int
    latency: LatencyStats
    wait: LatencyStats
    by_task: dict[str, TaskStats]
    by_priority: dict[int, LatencyStats]
    utilisation: dict[str, float | None]
    depth_columns: tuple[str, ...]
    depth_series: tuple[tuple[int, ...], ...]
    latency_series: tuple[tuple[int, int, int, int], ...]
    trace: tuple[TraceEvent, ...] | None = None

    def to_dict(self, include_trace: bool = False) -> dict[str, Any]:
        """Plain data (what ``to_json`` writes)."""
        data = attrs.asdict(self, recurse=True)
        data["by_priority"] = {str(k): v for k, v in data["by_priority"].items()}
        if not include_trace:
            data.pop("trace")
        return data

    def to_json(self, include_trace: bool = False, indent: int | None = 2) -> str:
        """Deterministic JSON text of the report (and the trace if asked)."""
        return json.dumps(self.to_dict(include_trace), indent=indent, sort_keys=True)

    def to_table(self) -> str:
        """A human-readable summary."""
        from alsek.sim.table import render

        return render(self)


def percentile(ordered: Sequence[int], p: float) -> int:
    """Nearest-rank ``p``-th percentile of an ascending sequence (0 if empty)."""
    if not ordered:
        return 0
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def latency_stats(latencies: Sequence[int]) -> LatencyStats:
    """Summary statistics of ``latencies`` (ms)."""
    ordered = sorted(latencies)
    count = len(ordered)
    mean = round(sum(ordered) / count, 3) if count else 0.0
    return LatencyStats(
        count=count,
        mean_ms=mean,
        p50_ms=percentile(ordered, 50),
        p95_ms=percentile(ordered, 95),
        p99_ms=percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else 0,
    )


def build_report(engine: Engine, seed: int) -> Report:
    """Compute the report of a finished run."""
    recorder = engine.recorder
    totals = {name: 0 for name in next(iter(recorder.by_task.values()))}
    for counts in recorder.by_task.values():
        for name, value in counts.items():
            totals[name] += value
    finished = totals["succeeded"] + totals["dead_lettered"]
    end = engine.now
    makespan = end - engine.first_submit if engine.first_submit is not None else 0
    counts = recorder.counts
    return Report(
        workload=engine.workload.name,
        seed=seed,
        submitted=totals["submitted"],
        succeeded=totals["succeeded"],
        dead_lettered=totals["dead_lettered"],
        pending=totals["submitted"] - finished,
        attempts=totals["attempts"],
        retries=totals["retries"],
        redeliveries=totals["redeliveries"],
        failures=totals["failures"],
        timeouts=totals["timeouts"],
        crashes=totals["crashes"],
        dead_on_claim=counts["dead_on_claim"],
        lease_expiries=counts["lease_expiries"],
        pool_kills=counts["pool_kills"],
        callbacks=counts["callbacks"],
        claims=counts["claims"],
        empty_claims=counts["empty_claims"],
        end_ms=end,
        makespan_ms=makespan,
        throughput_per_s=round(finished * 1000 / makespan, 3) if makespan else 0.0,
        mean_in_system=round(recorder.area / end, 4) if end else 0.0,
        mean_queued=round(recorder.queued_area / end, 4) if end else 0.0,
        wasted_ms=counts["wasted_ms"],
        retry_wait_ms=counts["retry_wait_ms"],
        latency=latency_stats([final[3] - final[2] for final in recorder.finals]),
        wait=latency_stats(_waits(recorder.finals)),
        by_task=_by_task(engine),
        by_priority=_by_priority(engine),
        utilisation=_utilisation(engine),
        depth_columns=("t_ms", "in_flight", *(f"waiting:{q}" for q in recorder.queues)),
        depth_series=tuple(recorder.series),
        latency_series=_latency_series(recorder.finals, end),
        trace=None if engine.tracer.events is None else tuple(engine.tracer.events),
    )


def _waits(finals: Sequence[Final]) -> list[int]:
    """Submit to first start of each final message that ran (ms)."""
    return [started - final[2] for final in finals if (started := final[5]) is not None]


def _by_task(engine: Engine) -> dict[str, TaskStats]:
    finals: dict[str, list[Final]] = {name: [] for name in engine.recorder.by_task}
    for final in engine.recorder.finals:
        finals[final[0]].append(final)
    stats = {}
    for name, c in engine.recorder.by_task.items():
        pending = c["submitted"] - c["succeeded"] - c["dead_lettered"]
        stats[name] = TaskStats(
            submitted=c["submitted"],
            succeeded=c["succeeded"],
            dead_lettered=c["dead_lettered"],
            pending=pending,
            attempts=c["attempts"],
            retries=c["retries"],
            redeliveries=c["redeliveries"],
            failures=c["failures"],
            timeouts=c["timeouts"],
            crashes=c["crashes"],
            latency=latency_stats([done - sub for _, _, sub, done, _, _ in finals[name]]),
            wait=latency_stats(_waits(finals[name])),
        )
    return stats


def _by_priority(engine: Engine) -> dict[int, LatencyStats]:
    latencies: dict[int, list[int]] = {}
    for _, priority, submitted, done, _, _ in engine.recorder.finals:
        latencies.setdefault(priority, []).append(done - submitted)
    return {priority: latency_stats(latencies[priority]) for priority in sorted(latencies)}


def _utilisation(engine: Engine) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    kinds: list[SlotKind] = ["thread", "process"]
    if any(p.capacity.max_async for p in engine.pools):
        kinds.append("async")  # shown only where pools have async slots
    for mechanism in kinds:
        available = sum(p.alive_ms * p.capacity.limit(mechanism) for p in engine.pools)
        held = sum(p.occupied[mechanism] for p in engine.pools)
        result[mechanism] = round(held / available, 4) if available else None
    return result


def _latency_series(finals: Sequence[Final], end: int) -> tuple[tuple[int, int, int, int], ...]:
    """(bin end ms, completions, p50, p95) over ``SERIES_BINS`` equal time bins."""
    if not finals or end <= 0:
        return ()
    width = max(math.ceil(end / SERIES_BINS), 1)
    bins: dict[int, list[int]] = {}
    for _, _, submitted, done, _, _ in finals:
        bins.setdefault(min(done // width, SERIES_BINS - 1), []).append(done - submitted)
    series = []
    for index in sorted(bins):
        ordered = sorted(bins[index])
        at = min((index + 1) * width, end)
        series.append((at, len(ordered), percentile(ordered, 50), percentile(ordered, 95)))
    return tuple(series)
