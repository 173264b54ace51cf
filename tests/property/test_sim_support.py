"""Shared helpers of the simulator tests: workload strategies and a trace replayer.

The replayer is an independent oracle: it rebuilds, from the trace alone,
which messages were waiting (and since when they were ready) and which slots
each pool held, and checks every claim against the rules a real pool obeys.
This module holds no tests itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from alsek.sim import (
    Arrival,
    Bursts,
    Exponential,
    Fixed,
    Kill,
    Overheads,
    Poisson,
    PoolSpec,
    Report,
    TaskKind,
    Times,
    Uniform,
    Workload,
)
from alsek.sim.distributions import Burst

BACKOFFS = (
    None,
    {"algorithm": "ConstantBackoff", "parameters": {"constant": 50, "floor": 50, "ceiling": 50}},
    {"algorithm": "LinearBackoff", "parameters": {"factor": 20, "floor": 10, "ceiling": 500}},
    {
        "algorithm": "ExponentialBackoff",
        "parameters": {"base": 2, "factor": 10, "floor": 5, "ceiling": 400},
    },
)
POLLS = (
    None,
    {
        "algorithm": "LinearBackoff",
        "parameters": {"factor": 50, "floor": 50, "ceiling": 500, "zero_override": False},
    },
)

durations = st.one_of(
    st.builds(Fixed, ms=st.integers(0, 60)),
    st.builds(Uniform, low_ms=st.integers(0, 20), high_ms=st.integers(20, 80)),
    st.builds(Exponential, mean_ms=st.integers(1, 40)),
)


@st.composite
def workloads(draw: Any, faults: bool = True, max_messages: int = 40) -> Workload:
    """Small valid workloads; with ``faults``, failures, crashes, timeouts and pool kills."""
    threads = draw(st.integers(0, 3))
    coroutines = draw(st.sampled_from([0, 0, 2, 5]))
    processes = draw(st.integers(0 if threads or coroutines else 1, 3))
    # (mechanism, is_async) of the kinds that have slots: an async process task takes a
    # process slot, an async thread task an async one.
    usable = [
        (m, a)
        for m, a, n in (
            ("thread", False, threads),
            ("process", False, processes),
            ("process", True, processes),
            ("thread", True, coroutines),
        )
        if n
    ]
    queues = draw(
        st.lists(st.sampled_from(["qa", "qb", "qc"]), min_size=1, max_size=3, unique=True)
    )
    count = draw(st.integers(1, 4))
    tasks = []
    for index in range(count):
        callback = None
        if faults and index + 1 < count and draw(st.booleans()):
            callback = f"k{draw(st.integers(index + 1, count - 1))}"
        mechanism, is_async = draw(st.sampled_from(usable))
        tasks.append(
            TaskKind(
                name=f"k{index}",
                queue=draw(st.sampled_from(queues)),
                priority=draw(st.integers(0, 3)),
                mechanism=mechanism,
                is_async=is_async,
                timeout_ms=draw(st.integers(30, 200)) if faults else 10_000,
                max_retries=draw(st.integers(0, 3)),
                max_redeliveries=draw(st.integers(0, 3)),
                backoff=draw(st.sampled_from(BACKOFFS)),
                duration=draw(durations),
                p_fail=draw(st.sampled_from([0.0, 0.1, 0.5])) if faults else 0.0,
                p_crash=draw(st.sampled_from([0.0, 0.05, 0.3])) if faults else 0.0,
                callback=callback,
            )
        )
    arrivals = [
        draw(_arrival(f"k{i}", max_messages)) for i in range(count) if i == 0 or draw(st.booleans())
    ]
    pools = draw(st.integers(1, 3))
    kills = []
    if faults:
        for _ in range(draw(st.integers(0, 2))):
            kills.append(
                Kill(
                    pool=draw(st.integers(0, pools - 1)),
                    at_ms=draw(st.integers(0, 400)),
                    restart_after_ms=draw(st.sampled_from([None, 0, 50, 300])),
                )
            )
    backoff = draw(st.sampled_from(POLLS))
    return Workload(
        tasks=tasks,
        arrivals=arrivals,
        queues=queues if draw(st.booleans()) else None,
        pool=PoolSpec(
            max_threads=threads,
            max_processes=processes,
            max_async=coroutines,
            pools=pools,
            batch=draw(st.integers(1, 4)),
        ),
        overheads=Overheads(
            claim_rtt_ms=draw(st.sampled_from([0, 1, 2, 3, 0.4, 1.6])),
            claim_ms_per_item=draw(st.sampled_from([0, 0, 0.3, 1.25])),
            wake_latency_ms=draw(st.sampled_from([0, 1, 3, 0.7])),
            dispatch_ms={
                "thread": draw(st.integers(0, 2)),
                "process": draw(st.integers(0, 4)),
                "async": draw(st.integers(0, 2)),
            },
            timer_ms=draw(st.sampled_from([0, 0, 7, 100])),
            signals=draw(st.sampled_from(["pools", "fifo", "any"] if backoff else ["pools"])),
        ),
        lease_ms=draw(st.integers(30, 600)),
        consumer_backoff=backoff,
        kills=kills,
        sample_ms=draw(st.integers(1, 50)),
    )


@st.composite
def _arrival(draw: Any, task: str, max_messages: int) -> Arrival:
    kind = draw(st.sampled_from(["poisson", "bursts", "times"]))
    if kind == "poisson":
        pattern: Any = Poisson(
            rate=draw(st.integers(20, 400)), count=draw(st.integers(1, max_messages))
        )
    elif kind == "bursts":
        pattern = Bursts(
            bursts=[
                Burst(
                    at_ms=draw(st.integers(0, 300)), count=draw(st.integers(1, max_messages // 2))
                )
                for _ in range(draw(st.integers(1, 2)))
            ]
        )
    else:
        pattern = Times(
            times_ms=draw(st.lists(st.integers(0, 500), min_size=1, max_size=max_messages))
        )
    return Arrival(task=task, pattern=pattern)


class Replay:
    """Rebuilds waiting sets and slot usage from a trace, checking each claim."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.order = workload.queue_order
        self.meta: dict[str, tuple[str, str, int, str]] = {}  # uuid -> task, queue, prio, mech
        self.waiting: dict[str, int] = {}  # uuid -> ready_at
        self.held: dict[str, tuple[int, str]] = {}  # uuid -> (pool, mechanism)
        self.slots: dict[tuple[int, str], int] = {}
        self.ready_at: dict[str, int] = {}
        self.finals: dict[str, str] = {}

    def run(self, trace: Iterable[tuple[Any, ...]]) -> None:
        """Check every event in order (AssertionError on the first violation)."""
        for t, event, pool, uuid, detail in trace:
            getattr(self, f"_{event}")(t, pool, uuid, detail)

    def _enqueue(self, uuid: str, at: int) -> None:
        assert uuid not in self.waiting and uuid not in self.finals, uuid
        self.waiting[uuid] = at
        self.ready_at[uuid] = at

    def _submit(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        task, queue, priority, mechanism, at, _ = detail
        self.meta[uuid] = (task, queue, priority, mechanism)
        self._enqueue(uuid, at)

    def _retry(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        self._enqueue(uuid, detail[0])

    _redeliver = _retry

    def _expire(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        self._enqueue(uuid, self.ready_at[uuid])

    def _claim(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        allowed = detail[1].split("+")
        _, queue, priority, mechanism = self.meta[uuid]
        assert uuid in self.waiting, f"{uuid} claimed while not waiting"
        assert self.waiting[uuid] <= t, f"{uuid} claimed at {t} before ready {self.waiting[uuid]}"
        assert mechanism in allowed
        del self.waiting[uuid]
        mine = (priority, self.ready_at[uuid])
        for other, at in self.waiting.items():
            _, other_queue, other_priority, other_mech = self.meta[other]
            if at > t or other_mech not in allowed:
                continue
            assert self.order.index(other_queue) >= self.order.index(queue), (
                f"{uuid} of {queue} claimed while {other} of earlier {other_queue} was ready"
            )
            if other_queue == queue:
                assert (other_priority, at) >= mine, (
                    f"{uuid} {mine} claimed at {t} while {other} {(other_priority, at)} was ready"
                )
        key = (pool, mechanism)
        self.slots[key] = self.slots.get(key, 0) + 1
        limit = self.workload.pool.capacity.limit(mechanism)  # type: ignore[arg-type]
        assert self.slots[key] <= limit, f"pool {pool} runs {self.slots[key]} {mechanism} > {limit}"
        self.held[uuid] = key

    def _free(self, uuid: str) -> None:
        key = self.held.pop(uuid, None)
        if key is not None:
            self.slots[key] -= 1

    def _end(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        started = detail[1]
        assert started >= self.ready_at[uuid], f"{uuid} started {started} before ready"
        assert started <= t
        self._free(uuid)

    def _ack(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        assert uuid not in self.finals
        self.finals[uuid] = "ack"

    def _dead(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        assert uuid not in self.finals
        self._free(uuid)  # dead-lettered on claim: its slot is given back
        self.finals[uuid] = "dead"

    def _kill(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        for other, key in list(self.held.items()):
            if key[0] == pool:
                self._free(other)

    def _restart(self, t: int, pool: int, uuid: str, detail: Any) -> None:
        pass


def check_trace(workload: Workload, report: Report) -> Replay:
    """Replay ``report.trace`` against the rules; return the replay for more checks."""
    assert report.trace is not None
    replay = Replay(workload)
    replay.run(report.trace)
    return replay
