"""Every simulation ends: the engine's work is bounded by the messages and the simulated time.

Two loops once made runs endless. A task process's wait could be ended by
several events at once (a signal, its due time, a timer tick, a request the
backend served), each starting another wait: in a retry storm on a backend
with a timer tick their number doubled at every round. And a submission
made while every task process was busy recording an outcome woke nobody:
the message waited for ever while the dispatcher polled on.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsek.exceptions import SimulationRunawayError
from alsek.sim import (
    Arrival,
    Fixed,
    Kill,
    Overheads,
    Poisson,
    PoolSpec,
    TaskKind,
    Times,
    Uniform,
    Workload,
    simulate,
)
from alsek.sim.dispatch import POLL
from alsek.sim.engine import Engine
from alsek.sim.runtime import PoolState
from tests.property.test_sim_support import workloads

STORM_BACKOFF = {
    "algorithm": "ExponentialBackoff",
    "parameters": {"base": 2, "factor": 50, "floor": 50, "ceiling": 1000},
}
#: Events a sound run handles per message placed in a queue, and per simulated
#: 50 ms of each dispatcher and task process (polls, timer ticks), at most.
EVENTS_PER_UNIT = 20


def retry_storm(count: int) -> Workload:
    """30% failures with backoff, threads and processes, two pools, a 10 ms timer tick."""
    kinds = [
        TaskKind(
            name=name,
            mechanism=mechanism,  # type: ignore[arg-type]
            priority=priority,
            duration=Uniform(low_ms=5, high_ms=30),
            p_fail=0.3,
            max_retries=5,
            backoff=STORM_BACKOFF,
        )
        for name, mechanism, priority in (("t", "thread", 1), ("p", "process", 0))
    ]
    return Workload(
        tasks=kinds,
        arrivals=[Arrival(task=k.name, pattern=Poisson(rate=200, count=count)) for k in kinds],
        pool=PoolSpec(max_threads=2, max_processes=2, pools=2),
        overheads=Overheads(
            claim_rtt_ms=1,
            wake_latency_ms=0,
            dispatch_ms={"thread": 1, "process": 2},
            timer_ms=10,
        ),
    )


def units(engine: Engine) -> float:
    """What a run's events are measured against: messages placed, and 50 ms of each waiter."""
    spec = engine.workload.pool
    waiters = spec.pools * (1 + spec.max_processes)
    return engine.store.placed + waiters * engine.now / 50 + 1


def test_a_retry_storm_on_a_backend_with_a_timer_tick_ends() -> None:
    # Seed 1 made the task processes' waits double at each round: 300,000 events
    # by 610 ms, and never an end.
    engine = Engine(retry_storm(50), seed=1, trace=False)
    engine.run()
    assert engine.outstanding == 0
    assert engine.events <= EVENTS_PER_UNIT * units(engine)


def test_a_submission_while_the_task_process_records_an_outcome_is_not_lost() -> None:
    # The task process ends its first run at 13 ms and records it until 16 ms (its
    # ack rides on its next claim, which finds nothing). The second message arrives
    # at 15 ms: its signal waits in the backend and the task process takes it as it
    # starts to wait, so it runs at once.
    workload = Workload(
        tasks=[
            TaskKind(name="p", mechanism="process", duration=Fixed(10)),
            TaskKind(name="t", mechanism="thread", duration=Fixed(10)),
        ],
        arrivals=[Arrival(task="p", pattern=Times(times_ms=[0, 15]))],
        pool=PoolSpec(max_threads=1, max_processes=1),
        overheads=Overheads(claim_rtt_ms=3, wake_latency_ms=0, dispatch_ms={"process": 0}),
    )
    report = simulate(workload, seed=1)
    assert (report.succeeded, report.pending) == (2, 0)
    starts = [detail[1] for _, event, _, _, detail in report.trace or () if event == "end"]
    assert starts == [3, 19]  # submit 0 + claim 3; settled 16 + claim 3


def test_idle_task_processes_poll_so_a_signal_lost_with_a_dead_pool_strands_nothing() -> None:
    # The submission at 5 ms signals pool 0's task process, and pool 0 dies at once:
    # the signal dies with it. Pool 1's task process finds the message when its wait
    # runs out (the consumer's backoff: 50 ms after its first empty look, 100 after
    # the second), as a real one does.
    workload = Workload(
        tasks=[TaskKind(name="p", mechanism="process", duration=Fixed(10))],
        arrivals=[Arrival(task="p", pattern=Times(times_ms=[5]))],
        pool=PoolSpec(max_threads=0, max_processes=1, pools=2),
        kills=[Kill(pool=0, at_ms=5)],
    )
    report = simulate(workload, seed=1)
    assert (report.succeeded, report.pending) == (1, 0)
    starts = [detail[1] for _, event, _, _, detail in report.trace or () if event == "end"]
    assert starts == [52]  # its wait since 0 ran out at 50; claim 1 ms, hand-off 1 ms


@settings(max_examples=150, deadline=None)
@given(workload=workloads(max_messages=80), seed=st.integers(0, 2**32 - 1))
def test_the_events_of_a_run_are_bounded_by_its_messages_and_its_length(
    workload: Workload, seed: int
) -> None:
    engine = Engine(workload, seed, trace=False)
    engine.run()
    assert engine.events <= EVENTS_PER_UNIT * units(engine)


class Looping(Engine):
    """An engine whose consumers poll at the same instant for ever."""

    def _poll(self, index: int, _: Any) -> None:
        self.push(self.now, POLL, index, None)


def test_a_looping_run_stops_with_a_clear_error() -> None:
    engine = Looping(retry_storm(5), seed=1, trace=False, max_events=50_000)
    with pytest.raises(SimulationRunawayError, match="over its budget of 50000"):
        engine.run()


class Deaf(Engine):
    """An engine whose task processes, once idle, never wake (a lost wake-up)."""

    def _wake_children(self, at: int, signal: bool) -> None:
        pass

    def _child_wait(self, pool: PoolState, child: int) -> None:
        pass


def test_a_run_stuck_on_a_lost_wake_up_stops_with_a_clear_error() -> None:
    # The task process is idle at the start and never hears of the message, while the
    # dispatcher (it has a thread slot) polls on: the clock would advance for ever.
    workload = Workload(
        tasks=[
            TaskKind(name="p", mechanism="process", duration=Fixed(10)),
            TaskKind(name="t", mechanism="thread", duration=Fixed(10)),
        ],
        arrivals=[Arrival(task="p", pattern=Times(times_ms=[5]))],
        pool=PoolSpec(max_threads=1, max_processes=1),
    )
    engine = Deaf(workload, seed=1, trace=False)
    with pytest.raises(SimulationRunawayError, match="a wake-up was lost"):
        engine.run()
