"""The report's wait (submit to first start) and mean backlog, against hand counts and the trace."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsek.sim import (
    Arrival,
    Fixed,
    Kill,
    Overheads,
    PoolSpec,
    Report,
    TaskKind,
    Times,
    Workload,
    simulate,
)
from alsek.sim.report import latency_stats
from tests.property.test_sim_support import workloads

IDEAL = Overheads(claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})


def three_at_once(mechanism: str, overheads: Overheads) -> Workload:
    """Three 100 ms tasks submitted at 0 to one slot: they wait 0, 100 and 200 ms to start."""
    return Workload(
        tasks=[TaskKind(name="a", duration=Fixed(100), mechanism=mechanism)],  # type: ignore[arg-type]
        arrivals=[Arrival(task="a", pattern=Times(times_ms=[0, 0, 0]))],
        pool=PoolSpec(
            max_threads=int(mechanism == "thread"), max_processes=int(mechanism == "process")
        ),
        overheads=overheads,
        consumer_backoff=None,
    )


@pytest.mark.parametrize("mechanism", ["thread", "process"])
def test_wait_is_time_to_start_and_mean_queued_the_time_average_backlog(mechanism: str) -> None:
    report = simulate(three_at_once(mechanism, IDEAL), seed=1)
    assert (report.wait.count, report.wait.mean_ms) == (3, 100.0)
    assert (report.wait.p50_ms, report.wait.max_ms) == (100, 200)
    assert report.latency.mean_ms == 200.0  # the wait plus the 100 ms run
    assert report.by_task["a"].wait == report.wait
    # Queued: the second for 100 ms and the third for 200 ms, over a 300 ms run.
    assert report.end_ms == 300
    assert report.mean_queued == 1.0
    assert report.mean_in_system == 2.0  # 600 ms of latency over 300 ms


@pytest.mark.parametrize("mechanism", ["thread", "process"])
def test_the_wait_includes_the_start_overheads_and_the_latency_the_ack(mechanism: str) -> None:
    overheads = Overheads(
        claim_rtt_ms=2, wake_latency_ms=1, dispatch_ms={"thread": 1, "process": 3}
    )
    report = simulate(three_at_once(mechanism, overheads), seed=1)
    # Every message: latency = wait + its 100 ms run + the round trip recording its ack.
    assert report.latency.mean_ms == report.wait.mean_ms + 100 + 2
    assert report.wait.p50_ms > report.wait.mean_ms - 100 > 0
    # A thread message waits for the dispatcher's empty claim issued at 0, then its own
    # claim and hand-off; a process message wakes an idle task process (the wake-up
    # latency), which claims it (a round trip) and starts it.
    before = 2 if mechanism == "thread" else overheads.wake_latency_ms
    first_wait = before + 2 + overheads.dispatch_ms[mechanism]
    assert min(_waits_from_trace(report).values()) == first_wait


def test_a_run_cut_short_by_a_kill_ends_the_wait() -> None:
    workload = Workload(
        tasks=[TaskKind(name="a", duration=Fixed(1_000), mechanism="process")],
        arrivals=[Arrival(task="a", pattern=Times(times_ms=[0]))],
        pool=PoolSpec(max_threads=0, max_processes=1),
        overheads=IDEAL,
        consumer_backoff=None,
        lease_ms=300,
        kills=[Kill(pool=0, at_ms=500, restart_after_ms=0)],
    )
    report = simulate(workload, seed=1)
    assert (report.redeliveries, report.lease_expiries, report.succeeded) == (0, 1, 1)
    assert report.wait.max_ms == 0  # it started at 0; the rerun after the kill is not a wait
    assert report.latency.max_ms > 1_500


def _waits_from_trace(report: Report) -> dict[str, int]:
    """Submit to first start of each message that ran, from the trace's own events."""
    submitted: dict[str, int] = {}
    waits: dict[str, int] = {}
    for t, event, _, uuid, detail in report.trace or ():
        if event == "submit":
            submitted[uuid] = t
        elif event == "end" and uuid not in waits:
            waits[uuid] = detail[1] - submitted[uuid]
    return waits


def _queued_area(report: Report) -> int:
    """Message-ms spent in the queues (ready or delayed), replayed from the trace."""
    since: dict[str, int] = {}
    area = 0
    for t, event, _, uuid, _ in report.trace or ():
        if event in ("submit", "retry", "redeliver", "expire"):
            since[uuid] = t
        elif event == "claim":
            area += t - since.pop(uuid)
    return area + sum(report.end_ms - t for t in since.values())


@settings(max_examples=80, deadline=None)
@given(workload=workloads(), seed=st.integers(0, 2**32 - 1))
def test_wait_stats_agree_with_the_trace(workload: Workload, seed: int) -> None:
    # Without kills every run reaches its end, so the trace shows every start.
    workload = attrs.evolve(workload, kills=())
    report = simulate(workload, seed)
    waits = _waits_from_trace(report)
    task_of: dict[str, str] = {}
    finals: list[str] = []
    for _, event, _, uuid, detail in report.trace or ():
        if event == "submit":
            task_of[uuid] = detail[0]
        elif event in ("ack", "dead"):
            finals.append(uuid)
    ran = [uuid for uuid in finals if uuid in waits]  # dead-lettered on claim: never ran
    assert report.wait == latency_stats([waits[uuid] for uuid in ran])
    by_task: dict[str, list[int]] = {name: [] for name in report.by_task}
    for uuid in ran:
        by_task[task_of[uuid]].append(waits[uuid])
    for name, stats in report.by_task.items():
        assert stats.wait == latency_stats(by_task[name]), name
    assert all(wait >= 0 for wait in waits.values())


@settings(max_examples=80, deadline=None)
@given(workload=workloads(), seed=st.integers(0, 2**32 - 1))
def test_mean_queued_is_the_exact_time_average_of_the_queues(workload: Workload, seed: int) -> None:
    report = simulate(workload, seed)
    if report.end_ms:
        assert report.mean_queued == pytest.approx(_queued_area(report) / report.end_ms, abs=1e-4)
    else:
        assert report.mean_queued == 0.0
