"""The report: statistics, JSON, the text table and the optional plot."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.sim import (
    Arrival,
    Fixed,
    Overheads,
    PlotUnavailableError,
    PoolSpec,
    Report,
    TaskKind,
    Times,
    Uniform,
    Workload,
    plot,
    simulate,
)
from alsek.sim.report import latency_stats, percentile


def small_report(trace: bool = True) -> Report:
    kinds = [
        TaskKind(
            name="a",
            duration=Uniform(low_ms=5, high_ms=50),
            p_fail=0.2,
            backoff=None,
            max_retries=1,
        ),
        TaskKind(name="b", priority=2, mechanism="thread", duration=Fixed(20)),
    ]
    arrivals = [
        Arrival(task=k.name, pattern=Times(times_ms=list(range(0, 2000, 10)))) for k in kinds
    ]
    workload = Workload(
        tasks=kinds,
        arrivals=arrivals,
        name="small",
        sample_ms=5,
        pool=PoolSpec(max_threads=2, max_processes=2),
        overheads=Overheads(claim_rtt_ms=1),
    )
    return simulate(workload, seed=11, trace=trace)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=200), st.sampled_from([50, 95, 99]))
def test_percentiles_are_nearest_rank(values: list[int], p: int) -> None:
    ordered = sorted(values)
    value = percentile(ordered, p)
    assert value in ordered
    at_most = sum(1 for v in ordered if v <= value)
    assert at_most >= math.ceil(p / 100 * len(ordered))
    assert sum(1 for v in ordered if v < value) < math.ceil(p / 100 * len(ordered))


def test_latency_stats_of_nothing_are_zero() -> None:
    stats = latency_stats([])
    assert (stats.count, stats.p50_ms, stats.p99_ms, stats.max_ms) == (0, 0, 0, 0)


def test_the_report_adds_up() -> None:
    report = small_report()
    assert report.submitted == 400 == report.succeeded + report.dead_lettered
    assert report.latency.count == 400
    assert sum(s.latency.count for s in report.by_task.values()) == 400
    assert set(report.by_priority) == {0, 2}
    assert report.latency.p50_ms <= report.latency.p95_ms <= report.latency.p99_ms
    assert report.latency.p99_ms <= report.latency.max_ms
    assert report.retries == report.by_task["a"].retries > 0
    assert report.wasted_ms > 0 and report.retry_wait_ms == 0  # backoff None: retry at once
    assert report.throughput_per_s == pytest.approx(400 * 1000 / report.makespan_ms, rel=1e-3)
    assert report.depth_columns == ("t_ms", "in_flight", "waiting:alsek_queue")
    times = [row[0] for row in report.depth_series]
    assert times == sorted(times) and len(times) <= 1000
    assert all(len(row) == 3 for row in report.depth_series)
    assert sum(row[1] for row in report.latency_series) == 400


def test_to_json_is_plain_sorted_and_leaves_the_trace_out_unless_asked() -> None:
    report = small_report()
    data = json.loads(report.to_json())
    assert "trace" not in data and data["workload"] == "small"
    assert data["by_priority"]["2"]["count"] == 200
    assert data["by_task"]["a"]["latency"]["p95_ms"] == report.by_task["a"].latency.p95_ms
    with_trace = json.loads(report.to_json(include_trace=True))
    assert len(with_trace["trace"]) == len(report.trace or ())
    assert small_report(trace=False).trace is None


def test_the_table_shows_the_answers() -> None:
    table = small_report().to_table()
    for text in (
        "Simulation of 'small' (seed 11)",
        "makespan",
        "throughput",
        "utilisation",
        "retry cost",
        "p95 ms",
        "Wait, submit to first start",
        "of them queued",
        "task a",
        "priority 2",
        "By task",
    ):
        assert text in table, text


def test_plot_without_matplotlib_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(PlotUnavailableError, match=r"pip install 'alsek\[plot\]'"):
        plot(small_report(trace=False), tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = plot(small_report(trace=False), tmp_path / "out.png")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
