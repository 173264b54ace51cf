"""What a calibration run prints: overheads, counts, idle slots, latency by task, the table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from alsek.calibration.attempts import Attempt
from alsek.calibration.probe import Measured
from alsek.calibration.recorder import Recorder
from alsek.calibration.stats import nearest_rank
from alsek.sim import Overheads, Report
from benchmarks.calibration.replay import Planned
from benchmarks.calibration.stats import error_pct, run_stats


def fmt(value: float, digits: int = 2) -> str:
    """A number for the tables (``-`` for NaN)."""
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def print_overheads(measured: Measured, used: Overheads) -> None:
    """Show the measured overheads and what the simulator gets."""
    print(
        f"  overheads measured with {measured.probes} probes per mechanism "
        f"({measured.probe_ms} ms sleep, idle pool),\n"
        "  10%-trimmed means in ms -> simulator (whole ms):"
    )
    print(
        f"    claim round trip  {fmt(measured.claim_rtt_ms):>6}  -> claim_rtt_ms = "
        f"{used.claim_rtt_ms}"
    )
    print(
        f"    wake latency      {fmt(measured.wake_latency_ms):>6}  -> wake_latency_ms = "
        f"{used.wake_latency_ms}   (submit call start -> claim answered, less a round trip)"
    )
    print(
        f"    backend timer tick        -> timer_ms = {used.timer_ms}   (a wait that runs out "
        "ends at the next request served or tick)"
    )
    for mechanism in sorted(measured.slot_cost_ms):
        print(
            f"    {mechanism:<7} slot cost {fmt(measured.slot_cost_ms[mechanism]):>6} + "
            f"recording {fmt(measured.settle_ms[mechanism])}  -> dispatch_ms.{mechanism} = "
            f"{used.dispatch_ms[mechanism]}\n      (slot cost: hand-off "
            f"{fmt(measured.handoff_ms[mechanism])} + sleep overshoot "
            f"{fmt(measured.overshoot_ms[mechanism])} + outcome back to the pool "
            f"{fmt(measured.return_ms[mechanism])}; recording: the round trip the simulator "
            "adds after the end)"
        )


def in_run_overheads(
    recorder: Recorder, attempts: Sequence[Attempt], since: float
) -> dict[str, dict[str, float]]:
    """The same overheads as seen during the real run (median and p95, ms)."""
    rows = {
        "claim round trip": sorted((c.end - c.start) * 1000 for c in recorder.plain_claims(since))
    }
    for mechanism in ("thread", "process"):
        mine = [a for a in attempts if a.mechanism == mechanism]
        if mine:
            rows[f"{mechanism} hand-off"] = sorted(a.handoff_ms for a in mine)
            rows[f"{mechanism} overshoot"] = sorted(a.overshoot_ms for a in mine)
            rows[f"{mechanism} return"] = sorted(a.return_ms for a in mine)
            rows[f"{mechanism} slot cost"] = sorted(a.slot_cost_ms for a in mine)
            rows[f"{mechanism} recording"] = sorted(a.settle_ms for a in mine)
    lags = sorted((recorder.submitted[k] - t) * 1000 for k, t in recorder.scheduled.items())
    rows["producer lag"] = lags
    return {
        name: {"p50": nearest_rank(v, 50), "p95": nearest_rank(v, 95), "n": float(len(v))}
        for name, v in rows.items()
    }


def print_in_run(rows: Mapping[str, Mapping[str, float]]) -> None:
    """Show the in-run overheads next to the probes' (load changes them)."""
    print("  overheads during the real run (ms, p50 / p95):")
    for name, row in rows.items():
        print(f"    {name:<20} {fmt(row['p50']):>7} / {fmt(row['p95']):>7}   (n={int(row['n'])})")


def print_counts(
    plan: Sequence[Planned], recorder: Recorder, report: Report, finished: bool
) -> None:
    """Messages, retries, dead letters and claims of both runs (the first three must agree)."""
    planned = {item.key: item for item in plan}
    outcomes = [o for o in recorder.outcomes if o.key in planned]
    retries = sum(1 for o in outcomes if o.retried)
    dead = sum(1 for o in outcomes if o.final and planned[o.key].attempts[o.attempt][1])
    first = min(recorder.submitted[key] for key in planned)
    claims = [c for c in recorder.claims if c.limit > 0 and c.start >= first]
    empty = sum(1 for c in claims if not c.tokens)
    done = sum(1 for key in planned if key in recorder.finals)
    print(
        f"  simulated (seed {report.seed}): {report.submitted} messages, {report.retries} "
        f"retries, {report.dead_lettered} dead letters, {report.claims} claims "
        f"({report.empty_claims} empty)"
    )
    print(
        f"  real run: {done} of {len(planned)} messages finished, {retries} retries, "
        f"{dead} dead letters, {len(claims)} claims ({empty} empty)"
        + ("" if finished else "  ** TIMED OUT **")
    )


def print_idle_slots(rows: Mapping[str, tuple[float, float]]) -> None:
    """Idle slot time while work of that mechanism waited: real against simulated."""
    print("  slot time idle while ready messages of its mechanism waited (s): measured / predicted")
    for mechanism, (real, sim) in rows.items():
        print(f"    {mechanism:<8} {real:6.3f} / {sim:6.3f}")


def by_task(
    plan: Sequence[Planned], recorder: Recorder, report: Report
) -> dict[str, dict[str, float]]:
    """Measured and predicted p50/p95 latency per task kind."""
    rows = {}
    finals = recorder.final_times()
    for name, stats in sorted(report.by_task.items()):
        keys = [item.key for item in plan if item.task == name]
        real = run_stats(recorder.submitted, finals, keys)
        rows[name] = {
            "n": float(real.count),
            "p50": real.p50_ms,
            "p50_sim": float(stats.latency.p50_ms),
            "p95": real.p95_ms,
            "p95_sim": float(stats.latency.p95_ms),
        }
    return rows


def print_by_task(rows: Mapping[str, Mapping[str, float]]) -> None:
    """Per task kind: measured vs predicted latency."""
    print("  latency by task kind (ms): measured / predicted")
    for name, row in rows.items():
        print(
            f"    {name:<8} n={int(row['n']):<4} p50 {fmt(row['p50'], 1):>6} / "
            f"{fmt(row['p50_sim'], 0):>4}   p95 {fmt(row['p95'], 1):>6} / "
            f"{fmt(row['p95_sim'], 0):>4}"
        )


def print_table(results: Sequence[Mapping[str, Any]]) -> None:
    """The summary: measured vs predicted makespan, p50 and p95 per backend."""
    header = ["backend"]
    for what in ("makespan", "p50", "p95"):
        header += [f"measured {what}", "predicted", "error%"]
    rows = [header]
    for result in results:
        real, sim = result["measured"], result["predicted"]
        row = [result["backend"]]
        for what in ("makespan_ms", "p50_ms", "p95_ms"):
            row += [
                f"{real[what]:.1f} ms",
                f"{sim[what]:.0f} ms",
                f"{error_pct(real[what], sim[what]):+.1f}%",
            ]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for index, row in enumerate(rows):
        print(" | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))
    print("error% = (predicted - measured) / measured; latency is submit to final outcome")
