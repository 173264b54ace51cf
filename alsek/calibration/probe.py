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
