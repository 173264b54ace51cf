"""Slot time left idle while ready work of that mechanism waited: real against simulated.

A dispatcher that reacts at once to a freed slot keeps this near the claim
round trips; a missed wake-up, or a wait the simulator models differently
from the backend, shows up here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alsek.calibration.attempts import Attempt
from alsek.pure.backoff import backoff_duration
from alsek.sim import Report, Workload
from benchmarks.calibration.stats import idle_slot_seconds


def real_slot_events(
    attempts: Sequence[Attempt],
    submitted: Mapping[str, float],
    workload: Workload,
    tasks: Mapping[str, str],
    mechanism: str,
) -> list[tuple[float, int, int]]:
    """Readiness, claim and end (outcome in hand) of every real attempt of ``mechanism``
    (seconds); a retry is ready its backoff after the failure. A claim sent before its
    message was ready (it was in flight) took it when it was ready."""
    kinds = workload.kinds
    by_key: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        if attempt.mechanism == mechanism:
            by_key.setdefault(attempt.key, []).append(attempt)
    events: list[tuple[float, int, int]] = []
    for key, runs in by_key.items():
        settings = kinds[tasks[key]].backoff
        ready = submitted[key]
        for number, run in enumerate(sorted(runs, key=lambda a: a.claim_start), 1):
            taken = max(run.claim_start, ready)
            events += [(ready, 1, 0), (taken, -1, 1), (max(run.decided, taken), 0, -1)]
            ready = run.decided + backoff_duration(settings, number) / 1000
    return events


def sim_slot_events(report: Report, mechanism: str) -> list[tuple[float, int, int]]:
    """The same events from the simulator's trace (seconds)."""
    mechanisms: dict[str, str] = {}
    events: list[tuple[float, int, int]] = []
    for at, event, _pool, uuid, detail in report.trace or ():
        if event == "submit":
            mechanisms[uuid] = str(detail[3])
        if mechanisms.get(uuid) != mechanism:
            continue
        if event == "submit":
            events.append((max(at, int(detail[4])) / 1000, 1, 0))
        elif event == "retry":
            events.append((int(detail[0]) / 1000, 1, 0))
        elif event == "claim":
            events.append((at / 1000, -1, 1))
        elif event == "end":
            events.append((at / 1000, 0, -1))
    return events


def idle_slots(
    attempts: Sequence[Attempt],
    submitted: Mapping[str, float],
    workload: Workload,
    report: Report,
    tasks: Mapping[str, str],
) -> dict[str, tuple[float, float]]:
    """Per mechanism with slots: idle slot seconds (measured, predicted)."""
    rows = {}
    for mechanism in ("thread", "process"):
        slots = workload.pool.capacity.limit(mechanism)
        if not slots:
            continue
        events = real_slot_events(attempts, submitted, workload, tasks, mechanism)
        real = idle_slot_seconds(events, slots)
        rows[mechanism] = (real, idle_slot_seconds(sim_slot_events(report, mechanism), slots))
    return rows
