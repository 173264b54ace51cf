"""The simulator's coroutines: ``async def`` thread-mechanism tasks take the pool's async
slots (``max_async``), as the real pool's policy says, not its threads."""

from __future__ import annotations

import pytest

from alsek.sim import Arrival, Fixed, Overheads, PoolSpec, TaskKind, Times, Workload, simulate
from alsek.sim.checks import FieldError
from tests.property.test_sim_support import check_trace

IDEAL = Overheads(claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})


def mixed(max_async: int) -> Workload:
    waiting = TaskKind(name="io", is_async=True, mechanism="thread", duration=Fixed(100))
    working = TaskKind(name="cpu", mechanism="thread", duration=Fixed(100))
    return Workload(
        tasks=[waiting, working],
        arrivals=[
            Arrival(task="io", pattern=Times(times_ms=[0] * 40)),
            Arrival(task="cpu", pattern=Times(times_ms=[0] * 3)),
        ],
        pool=PoolSpec(max_threads=1, max_processes=0, max_async=max_async),
        overheads=IDEAL,
        consumer_backoff=None,
    )


def test_coroutines_run_side_by_side_and_beside_the_threads() -> None:
    workload = mixed(max_async=40)
    report = simulate(workload)
    check_trace(workload, report)
    ends = {}
    for t, event, _, uuid, detail in report.trace or ():
        if event == "end":
            ends[uuid] = (t, detail[1])
    # The 40 coroutines all start at once and end after one duration; the three
    # thread tasks take turns on the one thread meanwhile.
    starts = sorted(start for _, start in ends.values())
    assert starts == [0] * 41 + [100, 200]  # 40 coroutines and the first thread task
    assert sorted(t for t, _ in ends.values()) == [100] * 41 + [200, 300]
    assert report.makespan_ms == 300
    assert report.utilisation["async"] == pytest.approx(1 / 3, abs=1e-3)
    assert report.utilisation["thread"] == 1.0


def test_max_async_bounds_the_coroutines_at_once() -> None:
    workload = mixed(max_async=10)
    report = simulate(workload)
    check_trace(workload, report)  # never more than max_async held at once
    assert report.makespan_ms == 400  # 40 coroutines, 10 at a time


def test_coroutines_need_async_slots() -> None:
    with pytest.raises(FieldError, match=r"pool\.max_async is 0"):
        Workload(
            tasks=[TaskKind(name="io", is_async=True, mechanism="thread")],
            pool=PoolSpec(max_threads=4, max_processes=0),
        )
    # An async process task takes a process slot.
    Workload(
        tasks=[TaskKind(name="io", is_async=True, mechanism="process")],
        pool=PoolSpec(max_threads=0, max_processes=1),
    )
    with pytest.raises(FieldError, match="must be true or false"):
        TaskKind(name="io", is_async="yes")  # type: ignore[arg-type]
