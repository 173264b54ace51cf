"""The simulated run's inputs, message by message, and their replay on a real pool.

The simulator samples durations and failures as it runs, so taking them
from its trace is the only way to give the real run the very same inputs:
every message's submit time and each attempt's duration and failure. A
producer thread then submits each message at its time; the task sleeps
each attempt's duration and fails when the plan says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alsek.calibration.recorder import Recorder
from alsek.sim import Report, Workload


@dataclass(frozen=True)
class Planned:
    """One message of the simulated run: when it arrived and how each attempt went."""

    key: str
    task: str
    at_ms: int
    attempts: tuple[tuple[int, bool], ...]  # (duration_ms, fails) per attempt


def check_replayable(workload: Workload) -> None:
    """Refuse what the real replay cannot reproduce from the trace alone."""
    problems = []
    if workload.pool.pools != 1:
        problems.append("pool.pools must be 1 (the script runs one real pool)")
    if workload.kills:
        problems.append("kills are not replayed")
    if workload.horizon_ms is not None:
        problems.append("horizon_ms must be unset (the real run drains every message)")
    for kind in workload.tasks:
        if kind.callback is not None:
            problems.append(f"task {kind.name!r}: callbacks are not replayed")
        if kind.p_crash:
            problems.append(f"task {kind.name!r}: crashes are not replayed")
    if problems:
        raise SystemExit("calibration workload not replayable: " + "; ".join(problems))


def plan_from_trace(report: Report) -> list[Planned]:
    """Every message's submit time and its attempts' durations and failures, in submit order."""
    if report.trace is None:
        raise ValueError("the simulation was run without a trace")
    submitted: dict[str, tuple[int, str]] = {}
    attempts: dict[str, list[tuple[int, bool]]] = {}
    for at, event, _pool, uuid, detail in report.trace:
        if event == "submit":
            submitted[uuid] = (at, str(detail[0]))
            attempts[uuid] = []
        elif event == "end":
            outcome, started_at = detail
            if outcome not in ("succeeded", "failed"):
                raise ValueError(f"{uuid}: a {outcome!r} attempt cannot be replayed")
            attempts[uuid].append((at - int(started_at), outcome == "failed"))
    plan = [
        Planned(uuid, task, at, tuple(attempts[uuid])) for uuid, (at, task) in submitted.items()
    ]
    unfinished = [p.key for p in plan if not p.attempts]
    if unfinished:
        raise ValueError(f"{len(unfinished)} messages never ran in the simulation")
    return sorted(plan, key=lambda p: p.at_ms)


def produce(
    plan: Sequence[Planned], tasks: Mapping[str, Any], recorder: Recorder, origin: float
) -> None:
    """Submit every planned message at ``origin`` + its simulated submit time."""
    for item in plan:
        target = origin + item.at_ms / 1000
        while (left := target - time.monotonic()) > 0:
            time.sleep(left)
        at = time.monotonic()
        message = tasks[item.task].generate(args=(item.key, [list(s) for s in item.attempts]))
        recorder.submit(item.key, message.uuid, at, scheduled=target)


def replay(
    plan: Sequence[Planned], tasks: Mapping[str, Any], recorder: Recorder, timeout: float
) -> bool:
    """Run the plan for real: a producer thread submits, the pool runs; wait for the end."""
    origin = time.monotonic() + 0.2
    producer = threading.Thread(
        target=produce, args=(plan, tasks, recorder, origin), daemon=True, name="producer"
    )
    producer.start()
    finished = recorder.wait_finals([item.key for item in plan], timeout)
    producer.join(5)
    return finished
