"""Invariants of the simulator over random workloads and fault schedules."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from alsek.pure.backoff import backoff_from_settings
from alsek.sim import Workload, simulate
from tests.property.test_sim_support import check_trace, workloads

seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(workload=workloads(), seed=seeds)
def test_the_same_seed_gives_the_same_trace_and_report(workload: Workload, seed: int) -> None:
    first, second = simulate(workload, seed), simulate(workload, seed)
    assert first.trace == second.trace
    assert first.to_json(include_trace=True) == second.to_json(include_trace=True)


@settings(max_examples=100, deadline=None)
@given(workload=workloads(), seed=seeds)
def test_every_claim_obeys_queue_order_priority_readiness_and_capacity(
    workload: Workload, seed: int
) -> None:
    report = simulate(workload, seed)
    replay = check_trace(workload, report)
    # Conservation: every submitted message is acked, dead-lettered or still pending.
    assert report.submitted == report.succeeded + report.dead_lettered + report.pending
    # With no horizon the run drains everything, unless every pool died for good.
    for_good = {kill.pool for kill in workload.kills if kill.restart_after_ms is None}
    if len(for_good) < workload.pool.pools:
        assert report.pending == 0
    outcomes = Counter(replay.finals.values())
    assert (outcomes["ack"], outcomes["dead"]) == (report.succeeded, report.dead_lettered)
    assert len(replay.meta) == report.submitted
    for name, stats in report.by_task.items():
        assert stats.submitted == stats.succeeded + stats.dead_lettered + stats.pending, name


@settings(max_examples=60, deadline=None)
@given(workload=workloads(), seed=seeds, horizon=st.integers(0, 300))
def test_a_horizon_leaves_the_rest_pending(workload: Workload, seed: int, horizon: int) -> None:
    import attrs

    cut = attrs.evolve(workload, horizon_ms=horizon)
    report = simulate(cut, seed)
    check_trace(cut, report)
    assert report.submitted == report.succeeded + report.dead_lettered + report.pending
    assert all(event[0] <= horizon for event in report.trace or ())
    assert report.end_ms <= horizon


@settings(max_examples=80, deadline=None)
@given(workload=workloads(faults=False), seed=seeds)
def test_without_faults_nothing_is_retried(workload: Workload, seed: int) -> None:
    # Durations stay below the 10 s timeout, p_fail = p_crash = 0 and no pool dies.
    report = simulate(workload, seed)
    assert (report.retries, report.redeliveries, report.dead_lettered) == (0, 0, 0)
    assert (report.failures, report.timeouts, report.crashes) == (0, 0, 0)
    assert report.attempts == report.submitted == report.succeeded
    assert report.wasted_ms == 0


@settings(max_examples=100, deadline=None)
@given(workload=workloads(), seed=seeds)
def test_retries_wait_at_least_their_backoff(workload: Workload, seed: int) -> None:
    report = simulate(workload, seed)
    kinds = workload.kinds
    task_of: dict[str, str] = {}
    ended: dict[str, int] = {}
    pending_retry: dict[str, tuple[int, int]] = {}
    for t, event, _, uuid, detail in report.trace or ():
        if event == "submit":
            task_of[uuid] = detail[0]
        elif event == "retry":
            # Requeued once the round trip carrying it answers; ready its backoff
            # after the failure.
            ready, retries, _ = detail
            backoff = backoff_from_settings(kinds[task_of[uuid]].backoff)
            wait = 0 if backoff is None else backoff.get(retries)
            failed_at = ended[uuid]
            assert ready - failed_at == wait, (uuid, failed_at, ready, retries)
            # One round trip carrying one outcome, paid in whole ms (a fraction at random).
            trip = workload.overheads.claim_rtt_ms + workload.overheads.claim_ms_per_item
            assert t - failed_at in (math.floor(trip), math.ceil(trip))
            pending_retry[uuid] = (failed_at, wait)
        elif event == "end":
            ended[uuid] = t
            if uuid in pending_retry:
                failed_at, wait = pending_retry.pop(uuid)
                assert detail[1] - failed_at >= wait


@settings(max_examples=60, deadline=None)
@given(workload=workloads(), seed=seeds)
def test_counters_agree_with_the_trace(workload: Workload, seed: int) -> None:
    report = simulate(workload, seed)
    events = Counter(event[1] for event in report.trace or ())
    outcomes = Counter(event[4][0] for event in report.trace or () if event[1] == "end")
    assert events["submit"] == report.submitted
    assert events["retry"] == report.retries
    assert events["redeliver"] == report.redeliveries
    assert events["expire"] == report.lease_expiries
    assert events["kill"] == report.pool_kills
    assert outcomes["timed_out"] == report.timeouts
    assert outcomes["crashed"] == report.crashes
    assert outcomes["failed"] == report.failures
    # A killed pool's runs never end; every other run ends exactly once.
    assert report.attempts >= sum(outcomes.values())
    if not report.pool_kills:
        assert report.attempts == sum(outcomes.values())
    assert events["submit"] - report.callbacks == sum(
        1 for event in report.trace or () if event[1] == "submit" and not event[4][5]
    )
    for mechanism, value in report.utilisation.items():
        assert value is None or 0 <= value <= 1, mechanism


SMALL_FAULTY = {
    "pool": {"max_threads": 2, "max_processes": 2, "pools": 2},
    "tasks": [
        {
            "name": "a",
            "queue": "q1",
            "duration": {"kind": "exponential", "mean_ms": 20},
            "p_fail": 0.2,
            "p_crash": 0.05,
            "callback": "b",
            "timeout_ms": 60,
        },
        {
            "name": "b",
            "queue": "q2",
            "mechanism": "thread",
            "priority": 3,
            "duration": {"kind": "uniform", "low_ms": 1, "high_ms": 9},
            "p_fail": 0.1,
        },
    ],
    "arrivals": [{"task": "a", "kind": "poisson", "rate": 200, "count": 300}],
    "kills": [{"pool": 1, "at_ms": 300, "restart_after_ms": 200}],
    "lease_ms": 90,
}


def test_runs_are_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    workload = tmp_path / "w.json"
    workload.write_text(json.dumps(SMALL_FAULTY), encoding="utf-8")
    code = (
        "import hashlib, sys\n"
        "from alsek.sim import load_workload, simulate\n"
        "report = simulate(load_workload(sys.argv[1]), seed=5)\n"
        "assert report.retries and report.crashes and report.lease_expiries, report\n"
        "print(hashlib.sha256(report.to_json(include_trace=True).encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", code, str(workload)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1
