"""The simulator's overheads, measured on a real, warmed-up worker pool.

``probe`` sends probe messages one at a time into an idle pool that has a
``Recorder`` among its observers and times every step from the pool's
events: the claim round trip, the wake latency (submit -> claim answered,
less a round trip) and, per mechanism, the slot cost (claim answered ->
outcome in the pool, beyond the task's duration) and the recording
(outcome in the pool -> recorded). It returns a plain ``Measured`` record
(``as_dict`` for JSON); ``Measured.overheads`` turns it into the
simulator's whole-millisecond ``Overheads``. It also reads the backend's
timer tick (``backend_timer_ms``): Redis ends a blocked wait that ran out
only when it next serves a request, or on its timer (1000 / hz ms).

What it needs of the caller: the running pool's ``Recorder``, and per
mechanism a task that takes ``(key, [[duration_ms, fail], ...])`` and
sleeps that long (``tasks.planned``). A ledger file written by those tasks
breaks the slot cost down (hand-off, overshoot, way back); without one
those parts are NaN and the overheads are the same.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alsek.calibration.attempts import Plans, attempts_of, read_ledger
from alsek.calibration.recorder import Recorder
from alsek.calibration.stats import trimmed_mean
from alsek.sim import Overheads
from alsek.storage.backends.redis import RedisBackend

PROBES_PER_MECHANISM = 25
PROBE_MS = 5
PROBE_GAP_S = 0.03
WARM_UP_MS = 200


@dataclass
class Measured:
    """Overheads in ms (10%-trimmed means of the probes), per mechanism where they differ."""

    claim_rtt_ms: float
    wake_latency_ms: float
    handoff_ms: dict[str, float] = field(default_factory=dict)
    overshoot_ms: dict[str, float] = field(default_factory=dict)
    return_ms: dict[str, float] = field(default_factory=dict)
    slot_cost_ms: dict[str, float] = field(default_factory=dict)
    settle_ms: dict[str, float] = field(default_factory=dict)
    probes: int = PROBES_PER_MECHANISM
    probe_ms: int = PROBE_MS
    timer_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready copy."""
        return asdict(self)

    def overheads(self) -> Overheads:
        """The simulator's overheads in whole ms, rounded so that each path adds up.

        The simulator charges a claim ``claim_rtt_ms``, a submission to an idle
        pool ``wake_latency_ms + claim_rtt_ms`` until the claim answers, and an
        attempt ``dispatch_ms + claim_rtt_ms`` beyond its duration (the round
        trip recording its outcome). Rounding each part on its own compounds
        (0.4 + 0.4 + 0.4 ms would cost nothing), so the round trip is rounded
        first and the others are what makes each total right to the ms.
        """
        rtt = max(round(self.claim_rtt_ms), 0)
        wake = max(round(self.wake_latency_ms + self.claim_rtt_ms) - rtt, 0)
        dispatch = {
            m: max(round(cost + self.settle_ms[m]) - rtt, 0)
            for m, cost in self.slot_cost_ms.items()
        }
        return Overheads(
            claim_rtt_ms=rtt, wake_latency_ms=wake, dispatch_ms=dispatch, timer_ms=self.timer_ms
        )


def backend_timer_ms(backend: Any) -> int:
    """The backend's timer tick in ms (``Overheads.timer_ms``; 0: waits end on time).

    Redis checks whether a blocked wait has run out when it serves a request,
    and otherwise only on its timer, ``hz`` times a second.
    """
    if isinstance(backend, RedisBackend):
        hz: Any = backend.conn.config_get("hz")["hz"]
        return 1000 // max(int(hz), 1)
    return 0


def submit(
    recorder: Recorder,
    task: Any,
    key: str,
    steps: Sequence[Sequence[Any]],
    queue: str | None = None,
) -> None:
    """Submit one message of ``task`` now (its plan: ``steps``; in ``queue``, default the
    task's), stamping the call's start."""
    at = time.monotonic()
    message = task.generate(args=(key, [list(step) for step in steps]), queue=queue)
    recorder.submit(key, message.uuid, at)


def warm_up(
    slots: Mapping[str, int],
    tasks: Mapping[str, Any],
    recorder: Recorder,
    queue: str | None = None,
) -> None:
    """Fill every slot at once (``slots``: per slot kind, ``tasks``: one per slot kind), so
    every thread worker and task process exists before anything is timed."""
    keys = []
    for mechanism, count in sorted(slots.items()):
        for index in range(count if mechanism in tasks else 0):
            key = f"warm-{mechanism}-{index}"
            submit(recorder, tasks[mechanism], key, [[WARM_UP_MS, False]], queue)
            keys.append(key)
    if not recorder.wait_finals(keys, 120):
        raise SystemExit("warm-up did not finish within 120 s")


def probe(
    tasks: Mapping[str, Any],
    recorder: Recorder,
    ledger: Path | None = None,
    probes: int = PROBES_PER_MECHANISM,
) -> Measured:
    """Send probe messages one at a time into the idle pool and time every step.

    ``tasks``: one probe task per mechanism. The claim round trip is that of
    the claims that did not wait first (a process runner's next claim
    carrying its ack, a dispatcher's claim after a slot freed); the wake
    latency is what is left of submit -> claim answered (the claim is queued
    behind the wait, so it runs the moment the submission signals it) once
    that round trip is taken off.
    """
    plans: dict[str, tuple[str, tuple[tuple[int, bool], ...]]] = {}
    since = time.monotonic()
    for index in range(probes):
        for mechanism, task in sorted(tasks.items()):
            key = f"probe-{mechanism}-{index}"
            plans[key] = (mechanism, ((PROBE_MS, False),))
            time.sleep(PROBE_GAP_S)  # let the dispatcher finish its empty pass and wait
            submit(recorder, task, key, [[PROBE_MS, False]])
            if not recorder.wait_finals([key], 30):
                raise SystemExit(f"probe {key} did not finish within 30 s")
    time.sleep(0.1)  # acks riding on a claim: let them land
    measured = measure(recorder, plans, since, read_ledger(ledger) if ledger else {}, probes)
    measured.timer_ms = backend_timer_ms(next(iter(tasks.values())).broker.backend)
    return measured


def measure(
    recorder: Recorder,
    plans: Plans,
    since: float,
    ledger: dict[tuple[str, int], tuple[float, float]],
    probes: int = PROBES_PER_MECHANISM,
) -> Measured:
    """The overheads of the probe messages ``plans``, sent from ``since`` on."""
    rtt_ms = trimmed_mean([(c.end - c.start) * 1000 for c in recorder.plain_claims(since)])
    attempts = attempts_of(recorder, ledger, plans, rtt_ms / 1000)
    wakes = [(a.claim_end - recorder.submitted[a.key]) * 1000 - rtt_ms for a in attempts]
    measured = Measured(
        claim_rtt_ms=rtt_ms, wake_latency_ms=max(trimmed_mean(wakes), 0.0), probes=probes
    )
    for mechanism in sorted({mechanism for mechanism, _ in plans.values()}):
        mine = [a for a in attempts if a.mechanism == mechanism]
        measured.handoff_ms[mechanism] = trimmed_mean([a.handoff_ms for a in mine])
        measured.overshoot_ms[mechanism] = trimmed_mean([a.overshoot_ms for a in mine])
        measured.return_ms[mechanism] = trimmed_mean([a.return_ms for a in mine])
        measured.slot_cost_ms[mechanism] = trimmed_mean([a.slot_cost_ms for a in mine])
        measured.settle_ms[mechanism] = trimmed_mean([a.settle_ms for a in mine])
    return measured


@dataclass
class Loaded:
    """One slot kind in a saturated burst: ``count`` messages of ``duration_ms``, all ready
    at once, on ``slots`` slots. Means in ms (not trimmed: a slot's throughput is set by
    its mean cost, heavy tail included)."""

    count: int
    duration_ms: int
    slots: int
    makespan_ms: float
    #: Slot time per message beyond its duration, in the steady middle of the burst
    #: (10% to 90% of the messages done): slots / throughput - duration.
    cycle_cost_ms: float
    #: Claim answered -> outcome in hand, beyond the duration.
    slot_cost_ms: float
    #: Outcome in hand -> recorded.
    settle_ms: float

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready copy."""
        return asdict(self)


@dataclass
class Burst:
    """A saturated burst of every slot kind at once: each kind's figures, and the claim
    round trips of the burst fitted as ``claim_rtt_ms + claim_ms_per_item * items``
    (items: the messages a claim took plus the acks it carried), by least squares."""

    kinds: dict[str, Loaded]
    claims: int
    claim_rtt_ms: float
    claim_ms_per_item: float

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready copy."""
        return asdict(self)


def median_burst(bursts: Sequence[Burst]) -> Burst:
    """Figure by figure, the median of several runs of the same burst: one run is a
    second or two, and a hiccup of a shared machine can double its means."""

    def mid(values: Sequence[float]) -> float:
        return statistics.median(values)

    kinds = {}
    for kind, first in bursts[0].kinds.items():
        runs = [burst.kinds[kind] for burst in bursts]
        kinds[kind] = Loaded(
            count=first.count,
            duration_ms=first.duration_ms,
            slots=first.slots,
            makespan_ms=mid([run.makespan_ms for run in runs]),
            cycle_cost_ms=mid([run.cycle_cost_ms for run in runs]),
            slot_cost_ms=mid([run.slot_cost_ms for run in runs]),
            settle_ms=mid([run.settle_ms for run in runs]),
        )
    return Burst(
        kinds,
        sum(burst.claims for burst in bursts),
        mid([burst.claim_rtt_ms for burst in bursts]),
        mid([burst.claim_ms_per_item for burst in bursts]),
    )


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope) of y on x, the slope kept >= 0 (a flat line when
    x does not vary)."""
    n = len(points)
    if not n:
        return math.nan, math.nan
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    slope = 0.0 if sxx == 0 else sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    slope = max(slope, 0.0)
    return mean_y - slope * mean_x, slope


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def submit_burst(
    recorder: Recorder, tasks: Mapping[str, Any], keys: Mapping[str, str], duration_ms: int
) -> float:
    """Submit one message per key (``keys``: key -> slot kind, ``tasks``: one per slot kind)
    in one call, so they are all ready at once; returns when the call started
    (``time.monotonic`` seconds), when each key counts as submitted."""
    messages = [
        tasks[kind].generate(args=(key, [[duration_ms, False]]), submit=False)
        for key, kind in keys.items()
    ]
    broker = next(iter(tasks.values())).broker
    at = time.monotonic()
    broker.submit_many(messages)
    for key, message in zip(keys, messages, strict=True):
        recorder.submit(key, message.uuid, at)
    return at


def loaded(
    tasks: Mapping[str, Any],
    slots: Mapping[str, int],
    recorder: Recorder,
    waves: int = 12,
    duration_ms: int = 100,
) -> Burst:
    """Run a saturated burst: ``waves`` messages of ``duration_ms`` per slot of each kind in
    ``tasks``, all ready at once, and time it."""
    tag = time.monotonic_ns()  # every burst has keys of its own
    keys = {
        f"load-{tag}-{kind}-{index}": kind
        for kind in sorted(tasks)
        for index in range(waves * slots[kind])
    }
    since = time.monotonic()
    ready_at = submit_burst(recorder, tasks, keys, duration_ms)
    timeout = 120 + 5 * waves * duration_ms / 1000
    if not recorder.wait_finals(list(keys), timeout):
        raise SystemExit(f"the saturated burst did not finish within {timeout:.0f} s")
    time.sleep(0.1)  # acks riding on a claim: let them land
    claims = [c for c in recorder.plain_claims(since) if c.tokens or c.acked]
    points = [(len(c.tokens) + len(c.acked), (c.end - c.start) * 1000) for c in claims]
    rtt_ms, per_item_ms = fit_line(points)
    plans: Plans = {key: (kind, ((duration_ms, False),)) for key, kind in keys.items()}
    attempts = attempts_of(recorder, {}, plans, rtt_ms / 1000)
    finals = recorder.final_times()
    figures = {}
    for kind in sorted(tasks):
        mine = sorted(finals[key] for key, of in keys.items() if of == kind)
        count = len(mine)
        low, high = count // 10, count * 9 // 10
        cycle = slots[kind] * (mine[high] - mine[low]) * 1000 / max(high - low, 1)
        runs = [a for a in attempts if a.mechanism == kind]
        figures[kind] = Loaded(
            count=count,
            duration_ms=duration_ms,
            slots=slots[kind],
            makespan_ms=(mine[-1] - ready_at) * 1000,
            cycle_cost_ms=cycle - duration_ms,
            slot_cost_ms=_mean([a.slot_cost_ms for a in runs]),
            settle_ms=_mean([a.settle_ms for a in runs]),
        )
    return Burst(figures, len(points), rtt_ms, per_item_ms)
