"""Who hears a wake-up signal: every waiting dispatcher, or one waiter (Redis, DiskCache)."""

from __future__ import annotations

import random

from alsek.sim import Arrival, Fixed, Overheads, PoolSpec, TaskKind, Times, Workload, simulate
from alsek.sim.signals import Signals


def test_fifo_wakes_the_longest_waiting_and_keeps_up_to_16_signals() -> None:
    signals = Signals("fifo", random.Random(1))
    for waiter in (("c", 0, 1), ("d", 0), ("c", 1, 2)):
        assert signals.begin(waiter) is False
    assert [signals.send() for _ in range(3)] == [("c", 0, 1), ("d", 0), ("c", 1, 2)]
    for _ in range(20):
        assert signals.send() is None  # nobody waits: the list keeps it
    assert signals.kept == 16
    assert all(signals.begin(("d", 0)) for _ in range(16))  # each wait returns at once
    assert signals.begin(("d", 0)) is False


def test_any_wakes_some_waiter_and_keeps_one_signal() -> None:
    woken = set()
    for seed in range(40):
        signals = Signals("any", random.Random(seed))
        for waiter in (("d", 0), ("c", 0, 1), ("c", 0, 2)):
            signals.begin(waiter)
        woken.add(signals.send())
    assert woken == {("d", 0), ("c", 0, 1), ("c", 0, 2)}
    signals = Signals("any", random.Random(1))
    assert (signals.send(), signals.send(), signals.kept) == (None, None, 1)  # one byte's worth


def test_a_dead_pool_s_waiters_hear_nothing() -> None:
    signals = Signals("fifo", random.Random(1))
    for waiter in (("d", 0), ("c", 0, 1), ("d", 1)):
        signals.begin(waiter)
    signals.drop_pool(0)
    assert (signals.send(), signals.send()) == (("d", 1), None)


def one_thread_message(signals: str) -> Workload:
    """A pool of one thread slot and one task process; one thread message at 100 ms.

    The task process began waiting at 0; the dispatcher at 1, after its first (empty)
    claim. Its consumer backoff ends its wait after 50 ms, then 100 ms, ...
    """
    return Workload(
        tasks=[
            TaskKind(name="t", mechanism="thread", duration=Fixed(10)),
            TaskKind(name="p", mechanism="process", duration=Fixed(10)),
        ],
        arrivals=[Arrival(task="t", pattern=Times(times_ms=[100]))],
        pool=PoolSpec(max_threads=1, max_processes=1),
        overheads=Overheads(
            claim_rtt_ms=1, wake_latency_ms=1, dispatch_ms={"thread": 0}, signals=signals
        ),
    )


def start_of_the_message(signals: str, seed: int) -> int:
    report = simulate(one_thread_message(signals), seed=seed)
    (start,) = [detail[1] for _, event, _, _, detail in report.trace or () if event == "end"]
    return int(start)


def test_with_every_dispatcher_hearing_it_the_message_starts_at_once() -> None:
    # Signal at 100, awake at 101, the claim answers at 102.
    assert start_of_the_message("pools", seed=1) == 102


def test_on_redis_the_signal_goes_to_the_task_process_that_waited_longest() -> None:
    # It claims process work only and finds none; the dispatcher sleeps on until its
    # backoff runs out: it looked at 51 (empty, so its next wait is 100 ms), then at 152.
    assert start_of_the_message("fifo", seed=1) == 153


def test_on_diskcache_whoever_drains_the_pipe_first_wakes() -> None:
    starts = {start_of_the_message("any", seed) for seed in range(12)}
    assert starts == {102, 153}


def test_a_signal_nobody_waited_for_is_kept_for_the_next_wait() -> None:
    # One task process, no dispatcher work: it runs the first message 3 to 13 and records
    # it until 16 (its claim with the ack finds nothing). The second message, at 15,
    # signals nobody; the backend keeps the signal, and the wait that begins at 16 ends
    # at once: the claim answers at 19.
    workload = Workload(
        tasks=[TaskKind(name="p", mechanism="process", duration=Fixed(10))],
        arrivals=[Arrival(task="p", pattern=Times(times_ms=[0, 15]))],
        pool=PoolSpec(max_threads=0, max_processes=1),
        overheads=Overheads(
            claim_rtt_ms=3, wake_latency_ms=0, dispatch_ms={"process": 0}, signals="fifo"
        ),
    )
    report = simulate(workload, seed=1)
    starts = [detail[1] for _, event, _, _, detail in report.trace or () if event == "end"]
    assert starts == [3, 19]
