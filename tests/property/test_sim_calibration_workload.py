"""The calibration workload (``benchmarks/calibration/workload.toml``) loads and replays.

``benchmarks/calibrate.py`` runs this workload for real and in the
simulator; it relies on the file loading, on a seed fixing the whole run,
and on every message of the trace being replayable (no callbacks, crashes
or timeouts, one pool).
"""

from __future__ import annotations

from pathlib import Path

from alsek.sim import load_workload, simulate

WORKLOAD = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration" / "workload.toml"


def test_the_calibration_workload_simulates_deterministically() -> None:
    workload = load_workload(WORKLOAD)
    first, second = simulate(workload, seed=7), simulate(workload, seed=7)
    assert first.to_json(include_trace=True) == second.to_json(include_trace=True)
    assert first.pending == 0
    assert first.submitted == sum(
        getattr(arrival.pattern, "count", None) or 0 for arrival in workload.arrivals
    )


def test_the_calibration_workload_is_replayable() -> None:
    workload = load_workload(WORKLOAD)
    assert workload.pool.pools == 1 and not workload.kills and workload.horizon_ms is None
    assert all(kind.callback is None and kind.p_crash == 0 for kind in workload.tasks)
    report = simulate(workload, seed=1)
    assert report.trace is not None
    outcomes = {detail[0] for _, event, _, _, detail in report.trace if event == "end"}
    assert outcomes <= {"succeeded", "failed"}
    assert report.retries > 0  # the workload exercises retries with their backoff
