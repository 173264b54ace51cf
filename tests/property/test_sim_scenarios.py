"""Hand-built scenarios whose every timestamp is known in advance."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import attrs

from alsek.pure.backoff import ConstantBackoff, ExponentialBackoff
from alsek.sim import (
    Arrival,
    Bursts,
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
from alsek.sim.distributions import Burst
from alsek.sim.runtime import message_id
from tests.property.test_sim_support import check_trace

#: No overheads, no polling: every wait in these scenarios comes from the rules.
IDEAL = Overheads(claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})


def one_kind(kind: TaskKind, times: list[int], **options: Any) -> Workload:
    options.setdefault("pool", PoolSpec(max_threads=0, max_processes=1))
    return Workload(
        tasks=[kind],
        arrivals=[Arrival(task=kind.name, pattern=Times(times_ms=times))],
        overheads=options.pop("overheads", IDEAL),
        consumer_backoff=None,
        **options,
    )


def events(report: Report, name: str, uuid: str | None = None) -> list[tuple[Any, ...]]:
    return [e for e in report.trace or () if e[1] == name and (uuid is None or e[3] == uuid)]


def test_an_idle_pool_retries_exactly_after_the_backoff() -> None:
    backoff = ExponentialBackoff(base=2, factor=100, floor=100, ceiling=10_000)
    kind = TaskKind(
        name="flaky", duration=Fixed(10), p_fail=1.0, max_retries=3, backoff=backoff.settings
    )
    report = simulate(one_kind(kind, [0]))
    ends = events(report, "end")
    assert [(e[0], e[4]) for e in ends] == [
        (10, ("failed", 0)),
        (220, ("failed", 210)),
        (630, ("failed", 620)),
        (1440, ("failed", 1430)),
    ]
    for retries, (failure, following) in enumerate(pairwise(ends), start=1):
        assert following[4][1] - failure[0] == backoff.get(retries)
    [dead] = events(report, "dead")
    assert dead[0] == 1440 and "after 3 retries" in dead[4][0]
    assert (report.retries, report.dead_lettered, report.retry_wait_ms) == (3, 1, 200 + 400 + 800)


def test_a_busy_pool_retries_no_sooner_than_the_backoff() -> None:
    kind = TaskKind(
        name="flaky",
        duration=Fixed(100),
        p_fail=0.5,
        max_retries=5,
        backoff=ExponentialBackoff(base=2, factor=10, floor=10, ceiling=50).settings,
    )
    report = simulate(one_kind(kind, [0] * 30), seed=3)
    check_trace(one_kind(kind, [0] * 30), report)
    waits = {}  # uuid -> (failed at, backoff)
    extra = []
    for t, event, _, uuid, detail in report.trace or ():
        if event == "retry":
            waits[uuid] = (t, detail[0] - t)
        elif event == "end" and uuid in waits:
            failed_at, backoff = waits.pop(uuid)
            extra.append(detail[1] - failed_at - backoff)
    assert extra and min(extra) >= 0
    assert max(extra) > 0  # with one slot and a backlog, some retries waited longer


def test_timeouts_stop_the_run_at_the_timeout_and_retry() -> None:
    kind = TaskKind(name="slow", duration=Fixed(500), timeout_ms=200, max_retries=1, backoff=None)
    report = simulate(one_kind(kind, [0]))
    assert [(e[0], e[4][0]) for e in events(report, "end")] == [
        (200, "timed_out"),
        (400, "timed_out"),
    ]
    assert (report.timeouts, report.retries, report.dead_lettered) == (2, 1, 1)
    assert "timed out after 200 ms" in events(report, "dead")[0][4][0]


def test_process_crashes_are_redelivered_until_the_redelivery_limit() -> None:
    kind = TaskKind(name="crashy", duration=Fixed(100), p_crash=1.0, max_redeliveries=2)
    report = simulate(one_kind(kind, [0]))
    claims = [e[4][0] for e in events(report, "claim")]
    assert claims == [1, 2, 3]  # deliveries
    assert (report.crashes, report.redeliveries, report.retries, report.dead_lettered) == (
        3,
        2,
        0,
        1,
    )
    assert "crashed on 3 deliveries" in events(report, "dead")[0][4][0]


def test_a_killed_pool_leases_lapse_after_the_last_renewal() -> None:
    kind = TaskKind(name="long", duration=Fixed(10_000), max_redeliveries=3)
    workload = one_kind(
        kind, [0], lease_ms=300, kills=[Kill(pool=0, at_ms=250, restart_after_ms=10)]
    )
    report = simulate(workload)
    # Claimed at 0, renewed every 100 ms: the last renewal before the kill is at 200.
    [expired] = events(report, "expire")
    assert expired[0] == 500
    assert [(e[0], e[4][0]) for e in events(report, "claim")] == [(0, 1), (500, 2)]
    assert events(report, "ack")[0][0] == 10_500
    assert report.lease_expiries == 1 and report.succeeded == 1


def test_a_crash_loop_of_lost_workers_is_dead_lettered_on_claim() -> None:
    kind = TaskKind(name="long", duration=Fixed(10_000), max_redeliveries=1)
    kills = [
        Kill(pool=0, at_ms=250, restart_after_ms=10),
        Kill(pool=0, at_ms=1000, restart_after_ms=10),
    ]
    report = simulate(one_kind(kind, [0], lease_ms=300, kills=kills))
    assert [e[0] for e in events(report, "expire")] == [500, 1300]
    [dead] = events(report, "dead")
    assert dead[0] == 1300 and "without an outcome" in dead[4][0]
    assert (report.dead_on_claim, report.dead_lettered, report.attempts) == (1, 1, 2)


def test_callback_chains_submit_each_follower_after_success() -> None:
    kinds = [
        TaskKind(name="a", duration=Fixed(10), callback="b"),
        TaskKind(name="b", duration=Fixed(20), mechanism="thread", callback="c"),
        TaskKind(name="c", duration=Fixed(5)),
    ]
    workload = Workload(
        tasks=kinds,
        arrivals=[Arrival(task="a", pattern=Times(times_ms=[0, 0]))],
        overheads=IDEAL,
        consumer_backoff=None,
    )
    report = simulate(workload)
    assert (report.submitted, report.callbacks, report.succeeded) == (6, 4, 6)
    submits = {e[3]: e for e in events(report, "submit")}
    first = message_id(1, "a")
    assert submits[f"{first}.cb1"][4][5] == first
    assert submits[f"{first}.cb2"][4][5] == f"{first}.cb1"
    assert submits[f"{first}.cb1"][0] == 10 and submits[f"{first}.cb2"][0] == 30


def test_lower_priority_numbers_run_first_and_queues_in_the_order_given() -> None:
    kinds = [
        TaskKind(name="low", queue="first", priority=5, duration=Fixed(10)),
        TaskKind(name="high", queue="first", priority=0, duration=Fixed(10)),
        TaskKind(name="other", queue="second", priority=0, duration=Fixed(10)),
    ]
    arrivals = [
        Arrival(task=k.name, pattern=Bursts(bursts=[Burst(at_ms=0, count=3)])) for k in kinds
    ]
    workload = Workload(
        tasks=kinds,
        arrivals=arrivals,
        queues=["first", "second"],
        pool=PoolSpec(max_threads=0, max_processes=1),
        overheads=IDEAL,
        consumer_backoff=None,
    )
    report = simulate(workload)
    order = [e[3].split("-", 1)[1] for e in events(report, "claim")]
    assert order == ["high"] * 3 + ["low"] * 3 + ["other"] * 3
    assert report.by_priority[5].p50_ms > report.by_priority[0].p50_ms


def test_overheads_add_up_on_the_critical_path() -> None:
    kind = TaskKind(name="t", duration=Fixed(50))
    overheads = Overheads(claim_rtt_ms=2, wake_latency_ms=3, dispatch_ms={"process": 7})
    report = simulate(one_kind(kind, [100], overheads=overheads))
    # Submitted at 100, woken at 103, claimed then (answer at 105), started at 112,
    # ended at 162; the ack rides on the runner's next claim, answered at 164.
    assert events(report, "claim")[0][0] == 103
    assert events(report, "end")[0][4] == ("succeeded", 112)
    assert events(report, "ack")[0][0] == 164
    assert report.latency.max_ms == 64


def test_a_pool_at_capacity_pauses_and_other_pools_take_the_work() -> None:
    kind = TaskKind(name="t", duration=Fixed(100))
    workload = one_kind(kind, [0] * 6, pool=PoolSpec(max_threads=0, max_processes=2, pools=3))
    report = simulate(workload)
    check_trace(workload, report)
    pools = sorted({e[2] for e in events(report, "claim")})
    assert pools == [0, 1, 2]
    assert report.makespan_ms == 100 and report.utilisation["process"] == 1.0


RTT_2 = Overheads(claim_rtt_ms=2, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})


def timeline(report: Report, name: str) -> list[tuple[int, str]]:
    return [(e[0], str(int(e[3].split("-")[0]))) for e in events(report, name)]


def test_a_process_runner_claims_its_next_message_with_its_ack() -> None:
    kind = TaskKind(name="p", duration=Fixed(50))
    workload = one_kind(kind, [10, 10], overheads=RTT_2)
    report = simulate(workload)
    check_trace(workload, report)
    # The second message is claimed by the runner the moment the first ends
    # (process messages only), in the round trip that acks the first.
    assert timeline(report, "claim") == [(10, "1"), (62, "2")]
    assert events(report, "claim")[1][4] == (1, "process")
    assert [e[4][1] for e in events(report, "end")] == [12, 64]
    assert timeline(report, "ack") == [(64, "1"), (116, "2")]


def test_a_thread_ack_rides_on_the_dispatchers_next_claim() -> None:
    kind = TaskKind(name="t", duration=Fixed(50), mechanism="thread")
    pool = PoolSpec(max_threads=1, max_processes=0)
    workload = one_kind(kind, [10, 10], overheads=RTT_2, pool=pool)
    report = simulate(workload)
    check_trace(workload, report)
    # At capacity the dispatcher pauses; the freed slot makes it claim at once,
    # and that claim carries the ack.
    assert timeline(report, "claim") == [(10, "1"), (62, "2")]
    assert timeline(report, "ack") == [(64, "1"), (116, "2")]


def test_a_paused_dispatcher_resumes_when_a_slot_frees_carrying_the_ack() -> None:
    kind = TaskKind(name="t", duration=Fixed(50), mechanism="thread")
    pool = PoolSpec(max_threads=1, max_processes=1)
    workload = one_kind(kind, [10, 20], overheads=RTT_2, pool=pool)
    report = simulate(workload)
    check_trace(workload, report)
    # Task processes claim process work themselves, so with its one thread busy the
    # dispatcher pauses. The first ends at 62: its freed slot resumes the dispatcher,
    # whose claim (answered at 64) carries the first's ack and takes the second.
    assert timeline(report, "claim") == [(10, "1"), (62, "2")]
    assert timeline(report, "ack") == [(64, "1"), (116, "2")]


def test_a_paused_dispatcher_resumes_without_a_wake_up_through_the_backend() -> None:
    kind = TaskKind(name="t", duration=Fixed(50), mechanism="thread")
    pool = PoolSpec(max_threads=1, max_processes=1)
    overheads = Overheads(claim_rtt_ms=2, wake_latency_ms=3, dispatch_ms={"thread": 0})
    workload = one_kind(kind, [10, 20], overheads=overheads, pool=pool)
    report = simulate(workload)
    check_trace(workload, report)
    # Woken 3 ms after the first submission, claimed at 13, ended at 65. A paused
    # dispatcher waits on the pool's own lock, not on the backend: the freed slot
    # resumes it at once (no wake-up latency), and its claim takes the second.
    assert timeline(report, "claim") == [(13, "1"), (65, "2")]
    assert timeline(report, "ack") == [(67, "1"), (119, "2")]


def test_a_process_retry_is_recorded_then_the_task_process_claims_its_next() -> None:
    kind = TaskKind(
        name="p",
        duration=Fixed(50),
        p_fail=1.0,
        max_retries=1,
        backoff=ExponentialBackoff(base=2, factor=100, floor=100, ceiling=100).settings,
    )
    other = TaskKind(name="q", duration=Fixed(10))
    workload = Workload(
        tasks=[kind, other],
        arrivals=[
            Arrival(task="p", pattern=Times(times_ms=[0])),
            Arrival(task="q", pattern=Times(times_ms=[30])),
        ],
        pool=PoolSpec(max_threads=1, max_processes=1),
        overheads=RTT_2,
        consumer_backoff=None,
    )
    report = simulate(workload)
    check_trace(workload, report)
    # The idle task process claims "p" the moment it is submitted (answered at 2),
    # runs it and it fails at 52; its retry is carried out in a round trip of its
    # own, recorded at 54 (ready at 152). Only then does the process claim its next
    # message, "q"; after "q" it waits for "p"'s retry and claims it at 152.
    (retry,) = events(report, "retry")
    assert (retry[0], retry[4][0]) == (54, 152)
    claims = [(e[0], e[3].split("-")[1], e[4][1]) for e in events(report, "claim")]
    assert claims == [(0, "p", "process"), (54, "q", "process"), (152, "p", "process")]


def test_a_crash_loop_met_by_a_runners_own_claim_is_dead_before_its_slot_is_reused() -> None:
    kind = TaskKind(name="k", duration=Fixed(26), timeout_ms=30, max_redeliveries=0)
    workload = one_kind(
        kind, [7, 11, 12], lease_ms=30, kills=[Kill(pool=0, at_ms=8, restart_after_ms=0)]
    )
    report = simulate(workload)
    check_trace(workload, report)  # never more running than the one process slot
    # The first message's lease lapses at 37, as the second ends: the runner's own
    # claim takes it back, finds a lost worker's crash loop and dead-letters it;
    # only then does the slot go to the third.
    at_37 = [(e[1], int(e[3].split("-")[0])) for e in report.trace or () if e[0] == 37]
    assert at_37 == [
        ("expire", 1),
        ("end", 2),
        ("claim", 1),
        ("ack", 2),
        ("dead", 1),
        ("claim", 3),
    ]


def timer(ms: int) -> Overheads:
    return Overheads(
        claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0}, timer_ms=ms
    )


FLAKY = TaskKind(
    name="flaky",
    duration=Fixed(10),
    p_fail=1.0,
    max_retries=1,
    backoff=ConstantBackoff(constant=50, floor=50, ceiling=50).settings,
)


def test_a_wait_for_a_delayed_message_ends_at_the_backends_next_tick() -> None:
    exact = simulate(one_kind(FLAKY, [0], overheads=timer(0)))
    ticking = simulate(one_kind(FLAKY, [0], overheads=timer(100)))
    check_trace(one_kind(FLAKY, [0], overheads=timer(100)), ticking)
    # Failed at 10, ready again at 60. Nothing else reaches the backend, so a
    # backend that checks blocked waits on a 100 ms timer ends the wait at 100.
    assert [e[4][1] for e in events(exact, "end")] == [0, 60]
    assert [e[4][1] for e in events(ticking, "end")] == [0, 100]


def test_a_wait_that_fell_due_ends_when_the_backend_serves_another_request() -> None:
    slow = TaskKind(name="slow", duration=Fixed(75), mechanism="thread")
    workload = Workload(
        tasks=[FLAKY, slow],
        arrivals=[
            Arrival(task="flaky", pattern=Times(times_ms=[0])),
            Arrival(task="slow", pattern=Times(times_ms=[0])),
        ],
        pool=PoolSpec(max_threads=1, max_processes=1),
        overheads=timer(100),
        consumer_backoff=None,
    )
    report = simulate(workload)
    check_trace(workload, report)
    # The retry is ready at 60, but the waiting claim runs only when the backend
    # next serves a request: the ack of the thread task that ends at 75.
    assert [e[0] for e in events(report, "claim", message_id(1, "flaky"))] == [0, 75]
    assert events(report, "ack", message_id(2, "slow"))[0][0] == 75


def test_a_runners_claim_is_traced_before_the_waits_it_ends() -> None:
    flaky = TaskKind(
        name="flaky",
        duration=Fixed(0),
        p_fail=1.0,
        max_retries=1,
        backoff=ConstantBackoff(constant=50, floor=50, ceiling=50).settings,
    )
    quick = TaskKind(name="quick", duration=Fixed(0))
    workload = Workload(
        tasks=[flaky, quick],
        arrivals=[
            Arrival(task="flaky", pattern=Times(times_ms=[82, 84])),
            Arrival(task="quick", pattern=Times(times_ms=[134])),
        ],
        pool=PoolSpec(max_threads=0, max_processes=1, pools=2, batch=1),
        overheads=Overheads(
            claim_rtt_ms=2, wake_latency_ms=0, dispatch_ms={"process": 1}, timer_ms=7
        ),
        consumer_backoff=None,
    )
    report = simulate(workload)
    # Both retries are ready (135, 137) when "quick" ends at 137 in pool 1: its task
    # process's own claim takes the first, and the backend serving it ends the other
    # pool's task process's wait, which takes the second. The trace keeps that order.
    check_trace(workload, report)
    claims = [(e[0], e[2], e[3]) for e in events(report, "claim") if e[0] == 137]
    assert claims == [(137, 1, message_id(1, "flaky")), (137, 0, message_id(2, "flaky"))]


def test_a_message_submitted_while_the_task_process_records_is_claimed_when_it_is_done() -> None:
    """The only task process is busy recording an ack (riding on a claim that found
    nothing) when the next message is submitted: its wake-up token waits in the signal
    list, so the process claims the message as soon as it is done, at 12 + 3."""
    overheads = Overheads(
        claim_rtt_ms=3, wake_latency_ms=2, dispatch_ms={"thread": 0, "process": 4}
    )
    kind = TaskKind(name="quick", duration=Fixed(0))
    for timer_ms in (0, 100):
        workload = one_kind(
            kind,
            [0, 12],
            overheads=attrs.evolve(overheads, timer_ms=timer_ms),
            pool=PoolSpec(max_threads=1, max_processes=1),
        )
        report = simulate(workload)
        check_trace(workload, report)
        # The first ends at 2 + 3 + 4 and its ack rides on a claim answered at 12; the
        # second is claimed at 12, answered at 15, starts at 19 and is settled at 22.
        assert [e[0] for e in events(report, "ack")] == [12, 22], timer_ms
        second = message_id(2, "quick")
        assert [e[0] for e in events(report, "claim", second)] == [12], timer_ms
