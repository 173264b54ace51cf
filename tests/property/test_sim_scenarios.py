"""Hand-built scenarios whose every timestamp is known in advance."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from alsek.pure.backoff import ExponentialBackoff
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
