"""Calibration: the simulator's predictions against a real worker pool.

Runs ONE workload (``benchmarks/calibration_workload.toml``) for real, on
DiskCache and on Redis, and in the simulator, and prints predicted against
measured makespan and p50/p95 latency (submit to final outcome).

For each backend, in a child process of its own (a fresh forkserver, so the
pool's task processes import ``benchmarks.calibration_tasks`` with that
backend), the script

1. starts a worker pool shaped like the workload's (threads, processes,
   batch, lease, consumer backoff) and warms it up until every thread and
   process slot has a live worker;
2. measures the simulator's overheads with probes, one message at a time
   into the idle pool: claim round trip, wake latency (submit to the claim
   that takes it) and, per mechanism, the slot cost the simulator calls
   ``dispatch_ms`` (hand-off to the worker + sleep overshoot + recording the
   outcome: the real slot is busy for all three, the simulated one for
   ``dispatch_ms`` plus the duration);
3. simulates the workload with those overheads and takes, from the trace,
   every message's submit time and every attempt's duration and failure;
4. replays exactly those inputs for real: a producer thread submits each
   message at its time, the task sleeps each attempt's duration and fails
   when the trace says so; the pool stamps each outcome when it is recorded
   (a success, or a dead letter after the last retry).

    python benchmarks/calibrate.py [--backend redis|disk|both] [--seed N] [--workload PATH]
                                   [--wake-on-free]

Redis runs on its own redis-server on a free loopback port; DiskCache in a
temporary directory. Both are removed at the end.

Besides the table, each backend prints the overheads seen during the run
and, per mechanism, the slot time left idle while ready messages of that
mechanism waited, real against simulated. The simulator's dispatcher claims
as soon as a slot frees; the real pool's dispatcher, once it waits on the
backend for new work (e.g. process slots full, no thread work ready), does
not hear a freed slot until the next submission or consumer backoff.
``--wake-on-free`` adds a run per backend with the pool patched (in this
script only) to wake the waiting dispatcher when a slot frees, to show how
much of the error that accounts for.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import attrs

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from alsek.core.worker import WorkerPool  # noqa: E402
from alsek.pure.backoff import backoff_duration, backoff_from_settings  # noqa: E402
from alsek.pure.outcome import Failed, Outcome, Succeeded  # noqa: E402
from alsek.sim import Overheads, Report, Workload, load_workload, simulate  # noqa: E402

DEFAULT_WORKLOAD = REPO / "benchmarks" / "calibration_workload.toml"
BACKENDS = ("disk", "redis")
PROBES_PER_MECHANISM = 25
PROBE_MS = 5
PROBE_GAP_S = 0.03
WARM_UP_MS = 200
CHILD_TIMEOUT_S = 300


# -- the plan: what the simulator ran, message by message -------------------------


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
    """Every message's submit time and its attempts' durations and failures, in submit order.

    The simulator samples durations and failures as it runs, so taking them
    from its trace is the only way to give the real run the very same inputs.
    """
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


# -- recording the real run ---------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRecord:
    """One claim round trip: when it was issued and answered, what it returned."""

    start: float
    end: float
    limit: int
    messages: tuple[tuple[str, int], ...]  # (uuid, retries)


@dataclass(frozen=True)
class OutcomeRecord:
    """An attempt's outcome, stamped when the pool had recorded it and freed the slot."""

    key: str
    attempt: int
    at: float
    final: bool
    retried: bool


class Recorder:
    """Thread-safe stamps (``time.monotonic``) of submissions, claims and outcomes."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.submitted: dict[str, float] = {}
        self.scheduled: dict[str, float] = {}
        self.uuid_key: dict[str, str] = {}
        self.claims: list[ClaimRecord] = []
        self.outcomes: list[OutcomeRecord] = []
        self.finals: dict[str, float] = {}

    def submit(self, key: str, uuid: str, at: float, scheduled: float | None = None) -> None:
        """``key`` was submitted as message ``uuid`` at ``at`` (the call's start)."""
        with self.cond:
            self.submitted[key] = at
            self.uuid_key[uuid] = key
            if scheduled is not None:
                self.scheduled[key] = scheduled

    def claim(self, start: float, end: float, limit: int, messages: Sequence[Any]) -> None:
        """A claim round trip returned ``messages``."""
        got = tuple((m.uuid, m.retries) for m in messages)
        with self.cond:
            self.claims.append(ClaimRecord(start, end, limit, got))

    def outcome(self, key: str, attempt: int, outcome: Outcome, at: float) -> None:
        """The pool recorded ``outcome``; a success or an unretried failure is final."""
        retried = isinstance(outcome, Failed) and outcome.retry_approved
        final = isinstance(outcome, Succeeded) or not retried
        with self.cond:
            self.outcomes.append(OutcomeRecord(key, attempt, at, final, retried))
            if final:
                self.finals[key] = at
                self.cond.notify_all()

    def wait_finals(self, keys: Sequence[str], timeout: float) -> bool:
        """Wait until every key in ``keys`` has a final outcome (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while any(key not in self.finals for key in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


class RecordingPool(WorkerPool):
    """A ``WorkerPool`` that stamps each outcome once it is recorded and its slot freed.

    That is the moment the simulator's ``end`` event stands for: the
    decision is carried out (or its ack queued to ride on the next claim)
    and the slot can take the next message.
    """

    recorder: Recorder
    wake_on_free = False

    def complete(self, job: Any, outcome: Outcome, duration_ms: int | None = None) -> None:
        """Record ``outcome`` as the pool does, then stamp it."""
        first = not (job.finished or job.abandoned)
        super().complete(job, outcome, duration_ms)
        if first and job.message.args:
            key = str(job.message.args[0])
            self.recorder.outcome(key, job.message.retries, outcome, time.monotonic())

    def _free(self, job: Any, worker_lost: bool = False) -> None:
        """Free the slot; with ``wake_on_free``, also wake a dispatcher waiting on the backend.

        The real pool only notifies its ``slots`` condition, which a dispatcher
        blocked in ``consumer.wait`` (Redis BLPOP, DiskCache condition) does
        not hear: a freed slot then waits for the next submission or the
        consumer backoff. The simulator assumes the dispatcher reacts at once.
        """
        super()._free(job, worker_lost)
        if self.wake_on_free and self.dispatcher_idle:
            wake_backend_waiters(self)


def wake_backend_waiters(pool: WorkerPool) -> None:
    """Wake whoever waits for work on ``pool``'s queues (what a submission does)."""
    backend: Any = pool.broker.backend
    wake = getattr(backend, "_wake", None)
    if wake is not None:  # DiskCache: an in-process condition
        wake()
        return
    for queue in pool.queues:  # Redis: the signal list its consumers BLPOP on
        backend.conn.rpush(backend.full_name(f"index:{queue}:signal"), b"1")


def instrument_claims(pool: WorkerPool, recorder: Recorder) -> None:
    """Time every claim round trip of ``pool`` (wrapping its consumer's ``claim``)."""
    original = pool.consumer.claim

    def timed(mechanisms: Any = ("thread", "process"), limit: int = 1, acks: Any = ()) -> Any:
        start = time.monotonic()
        found = original(mechanisms, limit, acks)
        recorder.claim(start, time.monotonic(), limit, found.messages)
        return found

    pool.consumer.claim = timed  # type: ignore[method-assign]


def read_ledger(path: Path) -> dict[tuple[str, int], tuple[float, float]]:
    """(key, attempt) -> (start, end) of the task body, as the tasks wrote them."""
    spans: dict[tuple[str, int], tuple[float, float]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, attempt, start, end = line.split()
            spans[(key, int(attempt))] = (float(start), float(end))
    return spans


# -- attempts: the timeline of one run of one message ------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One real attempt, stamped at each step (``time.monotonic`` seconds)."""

    key: str
    mechanism: str
    duration_ms: int
    claim_start: float
    claim_end: float
    start: float
    end: float
    outcome: float

    @property
    def handoff_ms(self) -> float:
        """Claim answered -> task body starts (pool hand-off, process pipe)."""
        return (self.start - self.claim_end) * 1000

    @property
    def overshoot_ms(self) -> float:
        """How much longer the body took than its planned sleep."""
        return (self.end - self.start) * 1000 - self.duration_ms

    @property
    def completion_ms(self) -> float:
        """Task body ends -> outcome recorded and slot freed."""
        return (self.outcome - self.end) * 1000

    @property
    def slot_cost_ms(self) -> float:
        """What the simulator's ``dispatch_ms`` must stand for: slot time beyond the duration."""
        return (self.outcome - self.claim_end) * 1000 - self.duration_ms

    @property
    def claim_ms(self) -> float:
        """The round trip of the claim that returned this attempt."""
        return (self.claim_end - self.claim_start) * 1000


def attempts_of(
    recorder: Recorder,
    ledger: dict[tuple[str, int], tuple[float, float]],
    plans: Mapping[str, tuple[str, tuple[tuple[int, bool], ...]]],
) -> list[Attempt]:
    """Join claims, ledger lines and outcomes into one ``Attempt`` per real run."""
    claimed: dict[tuple[str, int], ClaimRecord] = {}
    for claim in recorder.claims:
        for uuid, retries in claim.messages:
            key = recorder.uuid_key.get(uuid)
            if key is not None:
                claimed.setdefault((key, retries), claim)
    found = []
    for record in recorder.outcomes:
        ident = (record.key, record.attempt)
        if ident not in claimed or ident not in ledger or record.key not in plans:
            continue
        mechanism, steps = plans[record.key]
        duration = steps[min(record.attempt, len(steps) - 1)][0]
        claim, (start, end) = claimed[ident], ledger[ident]
        found.append(
            Attempt(record.key, mechanism, duration, claim.start, claim.end, start, end, record.at)
        )
    return found


# -- statistics ---------------------------------------------------------------------------------


def nearest_rank(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank ``p``-th percentile (the simulator's definition)."""
    if not ordered:
        return math.nan
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def trimmed_mean(values: Sequence[float], cut: float = 0.1) -> float:
    """The mean without the lowest and highest ``cut`` of the values (NaN when empty).

    The simulator's overheads are constants standing for a random cost; the
    mean is what slot occupancy and queueing depend on, and trimming keeps
    one scheduler hiccup among a few dozen probes from dominating it.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    drop = int(len(ordered) * cut)
    kept = ordered[drop : len(ordered) - drop] or ordered
    return statistics.fmean(kept)


@dataclass(frozen=True)
class Stats:
    """Makespan and latency percentiles of a run, in ms."""

    count: int
    makespan_ms: float
    p50_ms: float
    p95_ms: float


def measured_stats(recorder: Recorder, keys: Sequence[str]) -> Stats:
    """Makespan (first submit to last outcome) and latency of the finished ``keys``."""
    done = [key for key in keys if key in recorder.finals]
    if not done:
        return Stats(0, math.nan, math.nan, math.nan)
    latencies = sorted((recorder.finals[k] - recorder.submitted[k]) * 1000 for k in done)
    first = min(recorder.submitted[k] for k in keys if k in recorder.submitted)
    makespan = (max(recorder.finals[k] for k in done) - first) * 1000
    return Stats(len(done), makespan, nearest_rank(latencies, 50), nearest_rank(latencies, 95))


def idle_slot_seconds(events: list[tuple[float, int, int]], slots: int) -> float:
    """Slot time left idle while messages that could use the slot were ready and waiting.

    ``events`` are (time, change in ready messages, change in busy slots). A
    dispatcher that reacts at once to a freed slot keeps this near the
    claim round trips; a missed wake-up shows up here.
    """
    events.sort(key=lambda e: (e[0], -e[2]))
    waiting = busy = 0
    last = events[0][0] if events else 0.0
    idle = 0.0
    for at, ready, taken in events:
        idle += (at - last) * min(max(slots - busy, 0), waiting)
        waiting, busy, last = waiting + ready, busy + taken, at
    return idle


def real_slot_events(
    attempts: Sequence[Attempt],
    recorder: Recorder,
    workload: Workload,
    tasks: dict[str, str],
    mechanism: str,
) -> list[tuple[float, int, int]]:
    """Readiness, claim and outcome of every real attempt of ``mechanism`` (seconds)."""
    kinds = workload.kinds
    by_key: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        if attempt.mechanism == mechanism:
            by_key.setdefault(attempt.key, []).append(attempt)
    events: list[tuple[float, int, int]] = []
    for key, runs in by_key.items():
        settings = kinds[tasks[key]].backoff
        ready = recorder.submitted[key]
        for number, run in enumerate(sorted(runs, key=lambda a: a.claim_start), 1):
            events += [(ready, 1, 0), (run.claim_start, -1, 1), (run.outcome, 0, -1)]
            ready = run.outcome + backoff_duration(settings, number) / 1000
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


def print_idle_slots(
    attempts: Sequence[Attempt],
    recorder: Recorder,
    workload: Workload,
    report: Report,
    tasks: dict[str, str],
) -> None:
    """Idle slot time while work of that mechanism waited: real against simulated."""
    print("  slot time idle while ready messages of its mechanism waited (s): measured / predicted")
    for mechanism in ("thread", "process"):
        slots = workload.pool.capacity.limit(mechanism)  # type: ignore[arg-type]
        if not slots:
            continue
        events = real_slot_events(attempts, recorder, workload, tasks, mechanism)
        real = idle_slot_seconds(events, slots)
        sim = idle_slot_seconds(sim_slot_events(report, mechanism), slots)
        print(f"    {mechanism:<8} {real:6.3f} / {sim:6.3f}")


# -- the backend and the pool ------------------------------------------------------------------


@contextmanager
def backend_environment(kind: str, scratch: Path) -> Iterator[str]:
    """Start the backend (a redis-server, or a DiskCache directory) and name it in the
    environment the task module reads; stop and remove it afterwards."""
    server = None
    os.environ.pop("ALSEK_REDIS_URL", None)
    os.environ.pop("ALSEK_DISKCACHE_DIR", None)
    try:
        if kind == "redis":
            from tests.support.redis_server import RedisServer

            server = RedisServer().start()
            os.environ["ALSEK_REDIS_URL"] = server.url
            yield f"Redis ({server.url})"
        else:
            directory = scratch / "diskcache"
            directory.mkdir()
            os.environ["ALSEK_DISKCACHE_DIR"] = str(directory)
            yield f"DiskCache ({directory})"
    finally:
        if server is not None:
            server.close()


def make_pool(workload: Workload, tasks: Sequence[Any], recorder: Recorder) -> RecordingPool:
    """A pool shaped like the workload's, its claims and outcomes stamped."""
    spec = workload.pool
    pool = RecordingPool(
        tasks,
        queues=list(workload.queue_order),
        max_threads=spec.max_threads,
        max_processes=spec.max_processes,
        backoff=backoff_from_settings(workload.consumer_backoff),
        lease_ms=workload.lease_ms,
        batch=spec.batch,
        idle_ms=3_600_000,  # no worker retires mid-run (the simulator has no start-up cost)
    )
    pool.recorder = recorder
    instrument_claims(pool, recorder)
    return pool


def submit(recorder: Recorder, task: Any, key: str, steps: Sequence[Sequence[Any]]) -> None:
    """Submit one planned message now, stamping the call's start."""
    at = time.monotonic()
    message = task.generate(args=(key, [list(step) for step in steps]))
    recorder.submit(key, message.uuid, at)


def warm_up(workload: Workload, tasks: dict[str, Any], recorder: Recorder) -> None:
    """Fill every slot at once, so every thread worker and task process exists."""
    keys = []
    for mechanism, slots in (
        ("thread", workload.pool.max_threads),
        ("process", workload.pool.max_processes),
    ):
        names = [kind.name for kind in workload.tasks if kind.mechanism == mechanism]
        for index in range(slots if names else 0):
            key = f"warm-{mechanism}-{index}"
            submit(recorder, tasks[names[0]], key, [[WARM_UP_MS, False]])
            keys.append(key)
    if not recorder.wait_finals(keys, 120):
        raise SystemExit("warm-up did not finish within 120 s")


# -- measuring the overheads -------------------------------------------------------------------


@dataclass
class Measured:
    """Overheads in ms (10%-trimmed means of the probes) and the integers for the simulator."""

    claim_rtt_ms: float
    wake_latency_ms: float
    handoff_ms: dict[str, float] = field(default_factory=dict)
    overshoot_ms: dict[str, float] = field(default_factory=dict)
    completion_ms: dict[str, float] = field(default_factory=dict)
    slot_cost_ms: dict[str, float] = field(default_factory=dict)

    def overheads(self) -> Overheads:
        """The simulator's overheads: each measured mean rounded to whole ms."""
        return Overheads(
            claim_rtt_ms=max(round(self.claim_rtt_ms), 0),
            wake_latency_ms=max(round(self.wake_latency_ms), 0),
            dispatch_ms={m: max(round(v), 0) for m, v in self.slot_cost_ms.items()},
        )


def probe(workload: Workload, tasks: dict[str, Any], recorder: Recorder, ledger: Path) -> Measured:
    """Send probe messages one at a time into the idle pool and time every step."""
    kinds = {kind.mechanism: kind for kind in reversed(workload.tasks)}
    plans: dict[str, tuple[str, tuple[tuple[int, bool], ...]]] = {}
    for index in range(PROBES_PER_MECHANISM):
        for mechanism, kind in sorted(kinds.items()):
            key = f"probe-{mechanism}-{index}"
            plans[key] = (mechanism, ((PROBE_MS, False),))
            time.sleep(PROBE_GAP_S)  # let the dispatcher finish its empty pass and wait
            submit(recorder, tasks[kind.name], key, [[PROBE_MS, False]])
            if not recorder.wait_finals([key], 30):
                raise SystemExit(f"probe {key} did not finish within 30 s")
    attempts = attempts_of(recorder, read_ledger(ledger), plans)
    wakes = [(a.claim_start - recorder.submitted[a.key]) * 1000 for a in attempts]
    measured = Measured(
        claim_rtt_ms=trimmed_mean([a.claim_ms for a in attempts]),
        wake_latency_ms=max(trimmed_mean(wakes), 0.0),
    )
    for mechanism in kinds:
        mine = [a for a in attempts if a.mechanism == mechanism]
        measured.handoff_ms[mechanism] = trimmed_mean([a.handoff_ms for a in mine])
        measured.overshoot_ms[mechanism] = trimmed_mean([a.overshoot_ms for a in mine])
        measured.completion_ms[mechanism] = trimmed_mean([a.completion_ms for a in mine])
        measured.slot_cost_ms[mechanism] = trimmed_mean([a.slot_cost_ms for a in mine])
    return measured


# -- the real run --------------------------------------------------------------------------------


def produce(
    plan: Sequence[Planned], tasks: dict[str, Any], recorder: Recorder, origin: float
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
    plan: Sequence[Planned], tasks: dict[str, Any], recorder: Recorder, timeout: float
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


# -- one backend, in a child process ----------------------------------------------------------


def fmt(value: float, digits: int = 2) -> str:
    """A number for the tables (``-`` for NaN)."""
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def print_overheads(measured: Measured, used: Overheads) -> None:
    """Show the measured overheads and what the simulator gets."""
    print(
        f"  overheads measured with {PROBES_PER_MECHANISM} probes per mechanism "
        f"({PROBE_MS} ms sleep, idle pool),\n  10%-trimmed means in ms -> simulator (whole ms):"
    )
    print(
        f"    claim round trip  {fmt(measured.claim_rtt_ms):>6}  -> claim_rtt_ms = "
        f"{used.claim_rtt_ms}"
    )
    print(
        f"    wake latency      {fmt(measured.wake_latency_ms):>6}  -> wake_latency_ms = "
        f"{used.wake_latency_ms}   (submit call start -> claim issued)"
    )
    for mechanism in sorted(measured.slot_cost_ms):
        print(
            f"    {mechanism:<7} slot cost {fmt(measured.slot_cost_ms[mechanism]):>6}  -> "
            f"dispatch_ms.{mechanism} = {used.dispatch_ms[mechanism]}   (hand-off "
            f"{fmt(measured.handoff_ms[mechanism])} + sleep overshoot "
            f"{fmt(measured.overshoot_ms[mechanism])} + recording the outcome "
            f"{fmt(measured.completion_ms[mechanism])})"
        )


def in_run_overheads(
    recorder: Recorder, attempts: Sequence[Attempt], since: float
) -> dict[str, dict[str, float]]:
    """The same overheads as seen during the real run (median and p95, ms)."""
    claims = sorted(
        (c.end - c.start) * 1000 for c in recorder.claims if c.limit > 0 and c.start >= since
    )
    rows = {"claim round trip": claims}
    for mechanism in ("thread", "process"):
        mine = [a for a in attempts if a.mechanism == mechanism]
        if mine:
            rows[f"{mechanism} hand-off"] = sorted(a.handoff_ms for a in mine)
            rows[f"{mechanism} overshoot"] = sorted(a.overshoot_ms for a in mine)
            rows[f"{mechanism} recording"] = sorted(a.completion_ms for a in mine)
            rows[f"{mechanism} slot cost"] = sorted(a.slot_cost_ms for a in mine)
    lags = sorted((recorder.submitted[k] - t) * 1000 for k, t in recorder.scheduled.items())
    rows["producer lag"] = lags
    return {
        name: {"p50": nearest_rank(v, 50), "p95": nearest_rank(v, 95), "n": float(len(v))}
        for name, v in rows.items()
    }


def print_in_run(rows: dict[str, dict[str, float]]) -> None:
    """Show the in-run overheads next to the probes' (load changes them)."""
    print("  overheads during the real run (ms, p50 / p95):")
    for name, row in rows.items():
        print(f"    {name:<20} {fmt(row['p50']):>7} / {fmt(row['p95']):>7}   (n={int(row['n'])})")


def by_task(
    plan: Sequence[Planned], recorder: Recorder, report: Report
) -> dict[str, dict[str, float]]:
    """Measured and predicted p50/p95 latency per task kind."""
    rows = {}
    for name, stats in sorted(report.by_task.items()):
        keys = [item.key for item in plan if item.task == name]
        real = measured_stats(recorder, keys)
        rows[name] = {
            "n": float(real.count),
            "p50": real.p50_ms,
            "p50_sim": float(stats.latency.p50_ms),
            "p95": real.p95_ms,
            "p95_sim": float(stats.latency.p95_ms),
        }
    return rows


def print_by_task(rows: dict[str, dict[str, float]]) -> None:
    """Per task kind: measured vs predicted latency."""
    print("  latency by task kind (ms): measured / predicted")
    for name, row in rows.items():
        print(
            f"    {name:<8} n={int(row['n']):<4} p50 {fmt(row['p50'], 1):>6} / "
            f"{fmt(row['p50_sim'], 0):>4}   p95 {fmt(row['p95'], 1):>6} / "
            f"{fmt(row['p95_sim'], 0):>4}"
        )


def load_tasks(workload_path: Path) -> ModuleType:
    """Import the task module for the backend now in the environment."""
    os.environ["ALSEK_CALIBRATION_WORKLOAD"] = str(workload_path)
    import benchmarks.calibration_tasks as module

    return module


@dataclass(frozen=True)
class Options:
    """What one child run does."""

    backend: str
    workload: Path
    seed: int
    wake_on_free: bool

    @property
    def label(self) -> str:
        """The backend's name in the tables."""
        return f"{self.backend}+wake" if self.wake_on_free else self.backend


@dataclass(frozen=True)
class BackendRun:
    """Everything one backend's run produced, for the summary."""

    plan: list[Planned]
    recorder: Recorder
    report: Report
    measured: Measured
    used: Overheads
    spans: dict[tuple[str, int], tuple[float, float]]
    finished: bool
    workload: Workload


def run_backend(options: Options, scratch: Path) -> BackendRun:
    """Measure overheads, simulate with them, replay the simulated inputs for real."""
    ledger = scratch / "ledger.txt"
    os.environ["ALSEK_CALIBRATION_LEDGER"] = str(ledger)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    with backend_environment(options.backend, scratch) as where:
        patched = ", pool patched to wake its dispatcher when a slot frees" * options.wake_on_free
        print(f"== {options.label}: {where}{patched} ==", flush=True)
        module = load_tasks(options.workload)
        workload: Workload = module.WORKLOAD
        check_replayable(workload)
        recorder = Recorder()
        pool = make_pool(workload, list(module.TASKS.values()), recorder)
        pool.wake_on_free = options.wake_on_free
        pool.start()
        try:
            warm_up(workload, module.TASKS, recorder)
            measured = probe(workload, module.TASKS, recorder, ledger)
            used = measured.overheads()
            print_overheads(measured, used)
            report = simulate(attrs.evolve(workload, overheads=used), seed=options.seed)
            plan = plan_from_trace(report)
            finished = replay(plan, module.TASKS, recorder, 3 * report.makespan_ms / 1000 + 30)
        finally:
            pool.stop(grace_ms=2_000, timeout=30)
    spans = read_ledger(ledger)
    return BackendRun(plan, recorder, report, measured, used, spans, finished, workload)


def summarise(options: Options, run: BackendRun) -> dict[str, Any]:
    """Print this backend's details and return what the summary table needs."""
    plan, recorder, report = run.plan, run.recorder, run.report
    keys = [item.key for item in plan]
    kinds = run.workload.kinds
    plans = {item.key: (kinds[item.task].mechanism, item.attempts) for item in plan}
    attempts = attempts_of(recorder, run.spans, plans)
    print_counts(plan, recorder, report, run.finished)
    since = min(recorder.submitted[key] for key in keys)
    print_in_run(in_run_overheads(recorder, attempts, since))
    tasks = {item.key: item.task for item in plan}
    print_idle_slots(attempts, recorder, run.workload, report, tasks)
    print_by_task(by_task(plan, recorder, report))
    real = measured_stats(recorder, keys)
    latency = report.latency
    predicted = Stats(
        report.submitted, float(report.makespan_ms), float(latency.p50_ms), float(latency.p95_ms)
    )
    return {
        "backend": options.label,
        "measured": asdict(real),
        "predicted": asdict(predicted),
        "overheads_measured": asdict(run.measured),
        "overheads_used": attrs.asdict(run.used),
        "finished": run.finished,
    }


def print_counts(
    plan: Sequence[Planned], recorder: Recorder, report: Report, finished: bool
) -> None:
    """Messages, retries, dead letters and claims of both runs (the first three must agree)."""
    planned = {item.key: item for item in plan}
    outcomes = [o for o in recorder.outcomes if o.key in planned]
    retries = sum(1 for o in outcomes if o.retried)
    dead = sum(1 for o in outcomes if o.final and planned[o.key].attempts[o.attempt][1])
    first = min(recorder.submitted[key] for key in planned)
    claims = [c for c in recorder.claims if c.limit > 0 and c.start >= first]
    empty = sum(1 for c in claims if not c.messages)
    done = sum(1 for key in planned if key in recorder.finals)
    print(
        f"  simulated (seed {report.seed}): {report.submitted} messages, {report.retries} "
        f"retries, {report.dead_lettered} dead letters, {report.claims} claims "
        f"({report.empty_claims} empty)"
    )
    print(
        f"  real run: {done} of {len(planned)} messages finished, {retries} retries, "
        f"{dead} dead letters, {len(claims)} claims ({empty} empty)"
        + ("" if finished else "  ** TIMED OUT **")
    )


def child_main(options: Options, out: Path) -> None:
    """Entry point of the per-backend child: run it and write the summary as JSON."""
    logging.basicConfig(level=logging.ERROR, format="  [%(name)s] %(message)s")
    signal.signal(signal.SIGTERM, _exit_on_signal)  # run the clean-ups on SIGTERM
    scratch = Path(tempfile.mkdtemp(prefix=f"alsek-calibrate-{options.backend}-"))
    try:
        summary = summarise(options, run_backend(options, scratch))
        out.write_text(json.dumps(summary))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


# -- the parent: one child per backend, then the table ----------------------------------------


def run_child(options: Options, out: Path) -> dict[str, Any] | None:
    """Run one backend in a child process (its own forkserver and task module)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        options.backend,
        "--seed",
        str(options.seed),
        "--workload",
        str(options.workload),
        "--out",
        str(out),
    ] + ["--wake-on-free"] * options.wake_on_free
    child = subprocess.Popen(command, cwd=REPO)
    try:
        code = child.wait(CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop_child(child)
        print(f"  {options.label}: stopped after {CHILD_TIMEOUT_S} s")
        return None
    except (KeyboardInterrupt, SystemExit):
        stop_child(child)
        raise
    if code != 0 or not out.exists():
        print(f"  {options.label}: the run failed (exit code {code})")
        return None
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child (it stops its pool and backend and removes its files), then SIGKILL."""
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def error_pct(measured: float, predicted: float) -> float:
    """Relative error of the prediction, in % of the measurement."""
    if math.isnan(measured) or measured == 0:
        return math.nan
    return (predicted - measured) / measured * 100


def print_table(results: Sequence[dict[str, Any]]) -> None:
    """The summary: measured vs predicted makespan, p50 and p95 per backend."""
    header = ["backend"]
    for what in ("makespan", "p50", "p95"):
        header += [f"measured {what}", "predicted", "error%"]
    rows = [header]
    for result in results:
        real, sim = result["measured"], result["predicted"]
        row = [result["backend"]]
        for what in ("makespan_ms", "p50_ms", "p95_ms"):
            row += [
                f"{real[what]:.1f} ms",
                f"{sim[what]:.0f} ms",
                f"{error_pct(real[what], sim[what]):+.1f}%",
            ]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for index, row in enumerate(rows):
        print(" | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))
    print("error% = (predicted - measured) / measured; latency is submit to final outcome")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workload", type=Path, default=DEFAULT_WORKLOAD)
    parser.add_argument(
        "--wake-on-free",
        action="store_true",
        help="also run each backend with the pool patched so a freed slot wakes a dispatcher "
        "waiting on the backend (what the simulator assumes); diagnostic only",
    )
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen backends and print the comparison."""
    args = parse_args(argv)
    workload = args.workload.resolve()
    if args.child:
        child_main(Options(args.child, workload, args.seed, args.wake_on_free), args.out)
        return
    check_replayable(load_workload(workload))
    signal.signal(signal.SIGTERM, _exit_on_signal)  # stop the running child cleanly
    kinds = list(BACKENDS) if args.backend == "both" else [args.backend]
    runs = [Options(kind, workload, args.seed, False) for kind in kinds]
    if args.wake_on_free:
        runs += [Options(kind, workload, args.seed, True) for kind in kinds]
    print(
        f"calibration of the simulator: {workload.name}, seed {args.seed}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="alsek-calibrate-") as scratch:
        for options in runs:
            result = run_child(options, Path(scratch) / f"{options.label}.json")
            if result is not None:
                results.append(result)
    if results:
        print_table(results)


if __name__ == "__main__":
    main()
