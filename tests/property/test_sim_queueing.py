"""Queueing-theory sanity checks: the simulator agrees with M/M/c and Little's law."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsek.sim import (
    Arrival,
    Exponential,
    LogNormal,
    Overheads,
    Poisson,
    PoolSpec,
    TaskKind,
    Workload,
    simulate,
)
from tests.support.queueing import mmc_mean_wait

IDEAL = Overheads(claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})


def mmc(rate_per_s: float, mean_ms: float, servers: int, count: int) -> Workload:
    return Workload(
        tasks=[TaskKind(name="s", duration=Exponential(mean_ms=mean_ms))],
        arrivals=[Arrival(task="s", pattern=Poisson(rate=rate_per_s, count=count))],
        pool=PoolSpec(max_threads=0, max_processes=servers),
        overheads=IDEAL,
        consumer_backoff=None,
    )


@pytest.mark.parametrize(("rate", "mean_ms", "servers"), [(80, 40, 4), (30, 100, 4), (15, 50, 1)])
def test_mmc_utilisation_and_latency_match_the_formulas(
    rate: float, mean_ms: float, servers: int
) -> None:
    report = simulate(mmc(rate, mean_ms, servers, 15_000), seed=7, trace=False)
    expected_utilisation = rate * mean_ms / 1000 / servers
    assert report.utilisation["process"] == pytest.approx(expected_utilisation, abs=0.03)
    expected_latency = mean_ms + 1000 * mmc_mean_wait(servers, rate, mean_ms / 1000)
    assert report.latency.mean_ms == pytest.approx(expected_latency, rel=0.10)


def test_more_workers_drain_a_backlog_faster() -> None:
    makespans = []
    for servers in (1, 2, 4):
        workload = mmc(200, 20, servers, 2_000)  # 4 s of work per second: a backlog
        makespans.append(simulate(workload, seed=1, trace=False).makespan_ms)
    assert makespans[0] > makespans[1] > makespans[2]
    # Saturated: the makespan is about total work / servers.
    assert makespans[0] == pytest.approx(2_000 * 20, rel=0.1)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), servers=st.integers(2, 6), load=st.floats(0.3, 0.85))
def test_littles_law_holds_on_a_steady_state_run(seed: int, servers: int, load: float) -> None:
    median_ms = 30.0
    service = LogNormal(median_ms=median_ms, sigma=0.5)
    rate = load * servers * 1000 / service.mean_ms
    workload = Workload(
        tasks=[TaskKind(name="s", duration=service, mechanism="thread")],
        arrivals=[Arrival(task="s", pattern=Poisson(rate=rate, count=4_000))],
        pool=PoolSpec(max_threads=servers, max_processes=0),
        overheads=IDEAL,
        consumer_backoff=None,
        sample_ms=10,
    )
    report = simulate(workload, seed, trace=False)
    arrival_rate = report.submitted / report.end_ms  # per ms
    mean_latency = report.latency.mean_ms
    # L from the sampled depth series (in flight + waiting) against lambda * W.
    sampled = [sum(row[1:]) for row in report.depth_series]
    assert sum(sampled) / len(sampled) == pytest.approx(arrival_rate * mean_latency, rel=0.10)
    # The time-average the engine integrates is exactly lambda * W over the whole run.
    assert report.mean_in_system == pytest.approx(arrival_rate * mean_latency, rel=1e-3)
