"""Text rendering of a ``Report``: a few aligned tables, no dependencies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alsek.sim.report import LatencyStats, Report


def _seconds(ms: float) -> str:
    return f"{ms / 1000:,.3f} s"


def _grid(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [list(header)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join([first, *rest]).rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return lines


def _latency_row(label: object, stats: LatencyStats) -> list[object]:
    return [
        label,
        stats.count,
        f"{stats.mean_ms:,.1f}",
        stats.p50_ms,
        stats.p95_ms,
        stats.p99_ms,
        stats.max_ms,
    ]


LATENCY_HEADER = ("", "done", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms")


def render(report: Report) -> str:
    """The report as text: totals, latency and wait by task, utilisation, retry cost."""
    lines = [f"Simulation of {report.workload!r} (seed {report.seed})", ""]
    lines += _grid(
        ("messages", "submitted", "succeeded", "dead-lettered", "pending"),
        [("all", report.submitted, report.succeeded, report.dead_lettered, report.pending)],
    )
    lines.append("")
    lines += _grid(
        ("attempts", "runs", "retries", "redeliveries", "failures", "timeouts", "crashes"),
        [
            (
                "all",
                report.attempts,
                report.retries,
                report.redeliveries,
                report.failures,
                report.timeouts,
                report.crashes,
            )
        ],
    )
    lines += [
        "",
        f"  makespan           {_seconds(report.makespan_ms)} (first submit to last outcome)",
        f"  throughput         {report.throughput_per_s:,.2f} messages/s",
        f"  mean in system     {report.mean_in_system:,.2f} messages "
        f"({report.mean_queued:,.2f} of them queued)",
        f"  claims             {report.claims:,} round trips ({report.empty_claims:,} empty)",
    ]
    if report.pool_kills or report.lease_expiries or report.dead_on_claim:
        lines.append(
            f"  faults             {report.pool_kills} pool kills, {report.lease_expiries} "
            f"lease expiries, {report.dead_on_claim} dead-lettered on claim"
        )
    utilisation = ", ".join(
        f"{mechanism} {value:.1%}" if value is not None else f"{mechanism} (no slots)"
        for mechanism, value in report.utilisation.items()
    )
    lines.append(f"  utilisation        {utilisation}")
    lines.append(
        f"  retry cost         {_seconds(report.wasted_ms)} of worker time on failed runs, "
        f"{_seconds(report.retry_wait_ms)} waiting in backoff"
    )
    lines += ["", "Latency, submit to final outcome"]
    rows = [_latency_row("all", report.latency)]
    rows += [_latency_row(f"task {name}", stats.latency) for name, stats in report.by_task.items()]
    rows += [_latency_row(f"priority {p}", stats) for p, stats in report.by_priority.items()]
    lines += _grid(LATENCY_HEADER, rows)
    lines += ["", "Wait, submit to first start"]
    rows = [_latency_row("all", report.wait)]
    rows += [_latency_row(f"task {name}", stats.wait) for name, stats in report.by_task.items()]
    lines += _grid(LATENCY_HEADER, rows)
    lines += ["", "By task"]
    lines += _grid(
        (
            "task",
            "submitted",
            "succeeded",
            "dead",
            "pending",
            "runs",
            "retries",
            "timeouts",
            "crashes",
        ),
        [
            (
                name,
                s.submitted,
                s.succeeded,
                s.dead_lettered,
                s.pending,
                s.attempts,
                s.retries,
                s.timeouts,
                s.crashes,
            )
            for name, s in report.by_task.items()
        ],
    )
    return "\n".join(lines) + "\n"
