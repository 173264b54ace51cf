"""One backend's calibration: a standard probe workload on a real pool, turned into a profile.

The probe pool has the standard shape (``SHAPE``: 8 threads, 4 task
processes, 16 async slots, batches of 16, the default consumer backoff) and
consumes one queue of its own (``tasks.PROBE_QUEUE``). After a warm-up that
starts every worker:

1. **Idle probes**, one message at a time (``probe.probe``), while the slots
   of the other waiters are kept busy: thread and async probes while every
   task process runs a long blocker (only the dispatcher waits for work),
   process probes while every thread and async slot does (only the task
   processes wait). A signal then always reaches a waiter that can take the
   message: what is timed is the wake-up itself.
2. **Saturated bursts** (``burst.loaded``): 12 messages of 100 ms per slot,
   all ready at once, of threads and task processes together, then of
   coroutines; ``BURSTS`` runs of each, and the median of their figures.

``overheads_from`` turns the figures into the simulator's ``Overheads``:
the claim round trip (a fixed part and a part per item carried) and each
slot kind's cost per task as seen in the bursts (what saturation and
queueing depend on), the wake-up latency from the idle probes, the
backend's timer tick and how its signals reach waiters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alsek.calibration import tasks
from alsek.calibration.burst import Burst, loaded, median_burst
from alsek.calibration.probe import (
    PROBES_PER_MECHANISM,
    Measured,
    backend_timer_ms,
    probe,
    submit,
    warm_up,
)
from alsek.calibration.recorder import Recorder
from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.pure.backoff import DEFAULT_CONSUMER_BACKOFF
from alsek.sim.profile import BackendProfile
from alsek.sim.workload import Overheads
from alsek.storage.backends.redis import RedisBackend

#: The probe pool's slots per kind.
SHAPE = {"thread": 8, "process": 4, "async": 16}
BATCH = 16
LEASE_MS = 30_000
#: Runs of each saturated burst (the figures are their medians: robust to two runs a
#: hiccup of a shared machine spoiled).
BURSTS = 5
#: How long a probe (its gap, its run and its recording) takes at most, in s.
PROBE_SPAN_S = 0.06


def backend_name(broker: Broker) -> str:
    """``"redis"`` or ``"disk"``: the profile's name for the broker's backend."""
    return "redis" if isinstance(broker.backend, RedisBackend) else "disk"


def probe_pool(recorder: Recorder) -> WorkerPool:
    """The standard probe pool, observed by ``recorder``."""
    return WorkerPool(
        list(tasks.PROBES.values()),
        queues=[tasks.PROBE_QUEUE],
        max_threads=SHAPE["thread"],
        max_processes=SHAPE["process"],
        max_async=SHAPE["async"],
        backoff=DEFAULT_CONSUMER_BACKOFF,
        lease_ms=LEASE_MS,
        batch=BATCH,
        idle_ms=3_600_000,  # no worker retires during the probes
        observers=[recorder],
    )


def probe_alone(
    recorder: Recorder, probed: Mapping[str, Any], busy: Mapping[str, int], probes: int
) -> Measured:
    """Probe the slot kinds of ``probed`` one message at a time while ``busy`` slots (per
    kind) run blockers, so that only the waiters of the probed kinds wait for work."""
    seconds = 1.0 + probes * len(probed) * PROBE_SPAN_S
    blockers = []
    for kind, count in busy.items():
        for index in range(count):
            key = f"block-{kind}-{index}-{time.monotonic_ns()}"
            submit(recorder, tasks.PROBES[kind], key, [[int(seconds * 1000), False]])
            blockers.append(key)
    time.sleep(0.5)  # every blocker claimed and started
    measured = probe(probed, recorder, None, probes)
    if not recorder.wait_finals(blockers, seconds + 60):
        raise SystemExit("the blockers of the idle probes did not finish in time")
    return measured


def measure(
    broker: Broker,
    probes: int = PROBES_PER_MECHANISM,
    bursts: int = BURSTS,
    log: Callable[[str], None] = print,
) -> tuple[Measured, Measured, Burst, Burst]:
    """Run the probe workload against ``broker``: (idle figures of the dispatcher's slot
    kinds, idle figures of the task processes, the burst of thread and process tasks,
    the burst of coroutines)."""
    tasks.bind(broker)
    recorder = Recorder()
    pool = probe_pool(recorder)
    pool.start()
    try:
        warm_up(SHAPE, tasks.PROBES, recorder)
        log("  idle probes: thread and async slots (task processes busy)")
        dispatched = {kind: tasks.PROBES[kind] for kind in ("thread", "async")}
        by_dispatcher = probe_alone(recorder, dispatched, {"process": SHAPE["process"]}, probes)
        log("  idle probes: process slots (thread and async slots busy)")
        busy = {kind: SHAPE[kind] for kind in ("thread", "async")}
        by_children = probe_alone(recorder, {"process": tasks.PROBES["process"]}, busy, probes)
        log(f"  saturated bursts, {bursts} of each: threads and processes, then async")
        sync_kinds = {kind: tasks.PROBES[kind] for kind in ("thread", "process")}
        sync = median_burst([loaded(sync_kinds, SHAPE, recorder) for _ in range(bursts)])
        async_kind = {"async": tasks.PROBES["async"]}
        coroutines = median_burst([loaded(async_kind, SHAPE, recorder) for _ in range(bursts)])
    finally:
        pool.stop(grace_ms=2_000, timeout=30)
    return by_dispatcher, by_children, sync, coroutines


def overheads_from(
    by_dispatcher: Measured,
    by_children: Measured,
    bursts: Sequence[Burst],
    timer_ms: int,
    backend: str,
) -> Overheads:
    """The simulator's overheads from the probe figures (ms, to a hundredth).

    From the saturated burst: the claim round trip and its cost per item
    (``Burst``), and what a task costs its slot beyond its duration: for a
    thread or a coroutine, claim answered -> outcome in hand (its slot frees
    then: its ack rides on the dispatcher's next claim); for a task process,
    until its outcome is recorded, less the round trip the simulator adds
    (its ack rides on its own next claim, with that message). From the idle
    probes: the wake-up latency (submit -> claim answered, less a round trip;
    the mean of the dispatcher's and the task processes'). And the backend's
    timer tick and how its signals reach waiters (``alsek.sim.signals``).
    """
    rtt, per_item = bursts[0].claim_rtt_ms, bursts[0].claim_ms_per_item
    dispatch = {}
    for kind, figures in [item for burst in bursts for item in burst.kinds.items()]:
        cost = figures.slot_cost_ms
        if kind == "process":
            cost += figures.settle_ms - (rtt + 2 * per_item)
        dispatch[kind] = round(max(cost, 0.0), 2)
    wake = (by_dispatcher.wake_latency_ms + by_children.wake_latency_ms) / 2
    return Overheads(
        claim_rtt_ms=round(max(rtt, 0.0), 2),
        claim_ms_per_item=round(per_item, 3),
        wake_latency_ms=round(max(wake, 0.0), 2),
        dispatch_ms=dispatch,
        timer_ms=timer_ms,
        signals="fifo" if backend == "redis" else "any",
    )


def calibrate_backend(
    broker: Broker,
    probes: int = PROBES_PER_MECHANISM,
    bursts: int = BURSTS,
    log: Callable[[str], None] = print,
) -> BackendProfile:
    """Measure ``broker``'s backend with the probe workload: its profile entry (``probes``
    idle probes per slot kind, ``bursts`` runs of each saturated burst)."""
    by_dispatcher, by_children, sync, coroutines = measure(broker, probes, bursts, log)
    timer_ms = backend_timer_ms(broker.backend)
    both = (sync, coroutines)
    overheads = overheads_from(by_dispatcher, by_children, both, timer_ms, backend_name(broker))
    measured = {
        "idle_dispatcher": by_dispatcher.as_dict(),
        "idle_task_processes": by_children.as_dict(),
        "burst": sync.as_dict(),
        "burst_async": coroutines.as_dict(),
        "timer_ms": timer_ms,
    }
    return BackendProfile(overheads, measured)
