"""Calibration: the simulator's predictions against a real worker pool.

Runs ONE workload (``benchmarks/calibration_workload.toml``) for real, on
DiskCache and on Redis, and in the simulator, and prints predicted against
measured makespan and p50/p95 latency (submit to final outcome recorded).

For each backend, in a child process of its own (a fresh forkserver, so the
pool's task processes import ``benchmarks.calibration_tasks`` with that
backend), the script

1. starts a worker pool shaped like the workload's (threads, processes,
   batch, lease, consumer backoff) and warms it up until every thread and
   process slot has a live worker;
2. measures the simulator's overheads with probes, one message at a time
   into the idle pool, timing every claim round trip
   (``Consumer.claim_raw``: the dispatcher's claims and a process runner's
   own next claim; ``Consumer.wait_and_claim_raw``: an idle dispatcher's
   wait-and-claim, one round trip on Redis): the claim round trip, the wake
   latency (submit to the claim answered, less a round trip) and, per
   mechanism, the slot cost (claim answered -> outcome back in the pool,
   beyond the duration: hand-off and decoding, sleep overshoot, the
   outcome's way back) and the recording (outcome in the pool -> recorded:
   an ack riding on the next claim, or a round trip of its own). The
   simulator gets them in whole ms, each path (submit -> claim answered,
   claim answered -> outcome recorded) rounded as a whole;
3. simulates the workload with those overheads and takes, from the trace,
   every message's submit time and every attempt's duration and failure;
4. replays exactly those inputs for real: a producer thread submits each
   message at its time, the task sleeps each attempt's duration and fails
   when the trace says so. An outcome counts as recorded when the round
   trip carrying it answered: for a success whose only effect is an ack,
   the claim it rode along with (the dispatcher's next claim for a thread
   task, the runner's own next claim for a process task); otherwise its
   own round trip. That is when the simulator records it too
   (``alsek.sim.completion``).

    python benchmarks/calibrate.py [--backend redis|disk|both] [--seed N] [--workload PATH]

Redis runs on its own redis-server on a free loopback port; DiskCache in a
temporary directory. Both are removed at the end.

Besides the table, each backend prints the overheads seen during the run
(they grow under load: two cores shared by the pool, its task processes,
the producer and the backend) and, per mechanism, the slot time left idle
while ready messages of that mechanism waited, real against simulated. (An
earlier pool did not wake a dispatcher waiting on the backend when a slot
freed, and ``--wake-on-free`` patched that in; the pool now does it itself,
so the option is gone.)
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
    """One claim round trip: when it was issued and answered, what it returned and acked.

    ``blocking`` claims (``Consumer.wait_and_claim_raw``) wait for work first:
    their ``start`` is when the wait began, so only ``end`` says when the
    claim ran (one round trip before it, on Redis the claim is queued behind
    the blocking pop).
    """

    start: float
    end: float
    limit: int
    messages: tuple[str, ...]  # uuids claimed
    acks: tuple[tuple[str, int], ...]  # (uuid, retries) acked on the way
    blocking: bool

    def issued(self, rtt_s: float) -> float:
        """When the claim took its messages (for a blocking one: ``end`` - one round trip)."""
        return max(self.start, self.end - rtt_s) if self.blocking else self.start


@dataclass(frozen=True)
class OutcomeRecord:
    """An attempt's outcome as the pool handled it (``time.monotonic`` seconds).

    ``decided``: ``complete()`` was called (the runner had the outcome);
    ``done``: ``complete()`` returned (slot freed, or the runner's next
    message claimed); ``settled``: the outcome's own round trip answered,
    when ``complete()`` could see it (a retry or dead letter carried out
    before a process runner's next claim), else None.
    """

    key: str
    attempt: int
    decided: float
    done: float
    settled: float | None
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
        self.finals: dict[str, float] = {}  # provisional: when complete() returned

    def submit(self, key: str, uuid: str, at: float, scheduled: float | None = None) -> None:
        """``key`` was submitted as message ``uuid`` at ``at`` (the call's start)."""
        with self.cond:
            self.submitted[key] = at
            self.uuid_key[uuid] = key
            if scheduled is not None:
                self.scheduled[key] = scheduled

    def claim(
        self,
        start: float,
        end: float,
        limit: int,
        batch: Any,
        acks: Sequence[Any] = (),
        blocking: bool = False,
    ) -> None:
        """A claim round trip (``ClaimBatch`` ``batch``) answered, having acked ``acks``."""
        got = tuple(c.name.rsplit(":", 1)[-1] for c in batch.claims)  # no decoding here
        acked = tuple((m.uuid, m.retries) for m in acks)
        with self.cond:
            self.claims.append(ClaimRecord(start, end, limit, got, acked, blocking))

    def outcome(self, key: str, attempt: int, outcome: Outcome, stamps: Sequence[Any]) -> None:
        """The pool handled ``outcome`` (``stamps``: decided, done, settled or None)."""
        retried = isinstance(outcome, Failed) and outcome.retry_approved
        final = isinstance(outcome, Succeeded) or not retried
        decided, done, settled = stamps
        record = OutcomeRecord(key, attempt, decided, done, settled, final, retried)
        with self.cond:
            self.outcomes.append(record)
            if final:
                self.finals[key] = done
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

    def claimed(self) -> dict[tuple[str, int], ClaimRecord]:
        """(key, attempt) -> the claim that returned it: a message's n-th claim is its
        n-th attempt (the workload has no redeliveries)."""
        found: dict[tuple[str, int], ClaimRecord] = {}
        counts: dict[str, int] = {}
        with self.cond:
            claims = sorted(self.claims, key=lambda c: c.end)
        for claim in claims:
            for uuid in claim.messages:
                key = self.uuid_key.get(uuid)
                if key is not None:
                    attempt = counts[key] = counts.get(key, -1) + 1
                    found[(key, attempt)] = claim
        return found

    def ack_times(self) -> dict[tuple[str, int], float]:
        """(key, attempt) -> when the claim its ack rode along with answered."""
        acked: dict[tuple[str, int], float] = {}
        with self.cond:
            for claim in self.claims:
                for uuid, retries in claim.acks:
                    key = self.uuid_key.get(uuid)
                    if key is not None:
                        acked.setdefault((key, retries), claim.end)
        return acked

    def recorded_times(self) -> dict[tuple[str, int], float]:
        """(key, attempt) -> when its outcome was recorded in the backend (as the pool saw it).

        A success whose only effect is an ack rides along with a claim (the
        dispatcher's next one for a thread, the runner's own next one for a
        process): recorded when that claim answered. An ack sent on its own,
        a retry or a dead letter: when its round trip answered.
        """
        acked = self.ack_times()
        times = {}
        for record in self.outcomes:
            ident = (record.key, record.attempt)
            at = acked.get(ident, record.settled if record.settled is not None else record.done)
            times[ident] = max(at, record.decided)
        return times

    def final_times(self) -> dict[str, float]:
        """key -> when its final outcome (a success, or a dead letter) was recorded."""
        recorded = self.recorded_times()
        return {r.key: recorded[(r.key, r.attempt)] for r in self.outcomes if r.final}


class RecordingPool(WorkerPool):
    """A ``WorkerPool`` that stamps each outcome: when the runner had it, when the pool
    was done with it, and (via its claims) when it was recorded."""

    recorder: Recorder

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._settled: dict[str, float] = {}

    def complete(self, job: Any, outcome: Outcome, duration_ms: int | None = None) -> Any:
        """Record ``outcome`` as the pool does (maybe claiming the runner's next job)."""
        decided = time.monotonic()
        first = not (job.finished or job.abandoned)
        follow = super().complete(job, outcome, duration_ms)
        done = time.monotonic()
        settled = self._settled.pop(job.token, None)
        if first and job.message is not None and job.message.args:
            key = str(job.message.args[0])
            stamps = (decided, done, settled)
            self.recorder.outcome(key, job.message.retries, outcome, stamps)
        return follow

    def _next_job(self, job: Any, ack: Any) -> Any:
        """A process runner claims its next message; without an ack to carry, the outcome
        was already carried out (its own round trip), so it is recorded now."""
        if ack is None:
            self._settled[job.token] = time.monotonic()
        return super()._next_job(job, ack)


def instrument_claims(pool: WorkerPool, recorder: Recorder) -> None:
    """Time every claim round trip of ``pool``: its consumer's ``claim_raw`` (the
    dispatcher's claims, a process runner's next claim, ack flushes) and
    ``wait_and_claim_raw`` (an idle dispatcher's wait and claim)."""
    consumer = pool.consumer
    claim_raw, wait_and_claim_raw = consumer.claim_raw, consumer.wait_and_claim_raw

    def timed_claim(mechanisms: Any = ("thread", "process"), limit: int = 1, acks: Any = ()) -> Any:
        start = time.monotonic()
        batch = claim_raw(mechanisms, limit, acks)
        recorder.claim(start, time.monotonic(), limit, batch, acks)
        return batch

    def timed_wait(mechanisms: Any, limit: int, next_wake: Any, wake_key: Any = None) -> Any:
        start = time.monotonic()
        batch = wait_and_claim_raw(mechanisms, limit, next_wake, wake_key)
        recorder.claim(start, time.monotonic(), limit, batch, blocking=True)
        return batch

    consumer.claim_raw = timed_claim  # type: ignore[method-assign]
    consumer.wait_and_claim_raw = timed_wait  # type: ignore[method-assign]


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
    claim_start: float  # when the claim took it (see ClaimRecord.issued)
    claim_end: float
    start: float
    end: float
    decided: float
    recorded: float

    @property
    def handoff_ms(self) -> float:
        """Claim answered -> task body starts (hand-off to the runner, decoding, pipe)."""
        return (self.start - self.claim_end) * 1000

    @property
    def overshoot_ms(self) -> float:
        """How much longer the body took than its planned sleep."""
        return (self.end - self.start) * 1000 - self.duration_ms

    @property
    def return_ms(self) -> float:
        """Task body ends -> the pool has the outcome (``complete()`` called)."""
        return (self.decided - self.end) * 1000

    @property
    def slot_cost_ms(self) -> float:
        """What the simulator's ``dispatch_ms`` stands for: claim answered -> outcome in
        hand, beyond the duration (the round trips recording it are modelled apart)."""
        return (self.decided - self.claim_end) * 1000 - self.duration_ms

    @property
    def settle_ms(self) -> float:
        """Outcome in hand -> recorded (its round trip, or the claim its ack rode on)."""
        return (self.recorded - self.decided) * 1000

    @property
    def claim_ms(self) -> float:
        """The round trip of the claim that returned this attempt (as issued)."""
        return (self.claim_end - self.claim_start) * 1000


def plain_claim_rtt_s(recorder: Recorder, since: float = 0.0) -> float:
    """The median round trip of the claims that did not wait first (seconds)."""
    trips = sorted(
        c.end - c.start
        for c in recorder.claims
        if not c.blocking and c.limit > 0 and c.start >= since
    )
    return nearest_rank(trips, 50) if trips else 0.0


def attempts_of(
    recorder: Recorder,
    ledger: dict[tuple[str, int], tuple[float, float]],
    plans: Mapping[str, tuple[str, tuple[tuple[int, bool], ...]]],
    rtt_s: float,
) -> list[Attempt]:
    """Join claims, ledger lines and outcomes into one ``Attempt`` per real run."""
    claimed = recorder.claimed()
    recorded = recorder.recorded_times()
    found = []
    for record in recorder.outcomes:
        ident = (record.key, record.attempt)
        if ident not in claimed or ident not in ledger or record.key not in plans:
            continue
        mechanism, steps = plans[record.key]
        duration = steps[min(record.attempt, len(steps) - 1)][0]
        claim, (start, end) = claimed[ident], ledger[ident]
        found.append(
            Attempt(
                record.key,
                mechanism,
                duration,
                claim.issued(rtt_s),
                claim.end,
                start,
                end,
                record.decided,
                recorded[ident],
            )
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
    """Makespan (first submit to last final outcome recorded) and latency of the finished
    ``keys``."""
    finals = recorder.final_times()
    done = [key for key in keys if key in finals]
    if not done:
        return Stats(0, math.nan, math.nan, math.nan)
    latencies = sorted((finals[k] - recorder.submitted[k]) * 1000 for k in done)
    first = min(recorder.submitted[k] for k in keys if k in recorder.submitted)
    makespan = (max(finals[k] for k in done) - first) * 1000
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
    """Readiness, claim and end (outcome in hand) of every real attempt of ``mechanism``
    (seconds); a retry is ready its backoff after the failure."""
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
            events += [(ready, 1, 0), (run.claim_start, -1, 1), (run.decided, 0, -1)]
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
    return_ms: dict[str, float] = field(default_factory=dict)
    slot_cost_ms: dict[str, float] = field(default_factory=dict)
    settle_ms: dict[str, float] = field(default_factory=dict)

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
        return Overheads(claim_rtt_ms=rtt, wake_latency_ms=wake, dispatch_ms=dispatch)


def probe(workload: Workload, tasks: dict[str, Any], recorder: Recorder, ledger: Path) -> Measured:
    """Send probe messages one at a time into the idle pool and time every step.

    The claim round trip is that of the claims that did not wait first (a
    process runner's next claim carrying its ack, a dispatcher's claim after
    a slot freed); the wake latency is what is left of submit -> claim
    answered (the claim is queued behind the wait, so it runs the moment the
    submission signals it) once that round trip is taken off.
    """
    kinds = {kind.mechanism: kind for kind in reversed(workload.tasks)}
    plans: dict[str, tuple[str, tuple[tuple[int, bool], ...]]] = {}
    since = time.monotonic()
    for index in range(PROBES_PER_MECHANISM):
        for mechanism, kind in sorted(kinds.items()):
            key = f"probe-{mechanism}-{index}"
            plans[key] = (mechanism, ((PROBE_MS, False),))
            time.sleep(PROBE_GAP_S)  # let the dispatcher finish its empty pass and wait
            submit(recorder, tasks[kind.name], key, [[PROBE_MS, False]])
            if not recorder.wait_finals([key], 30):
                raise SystemExit(f"probe {key} did not finish within 30 s")
    time.sleep(0.1)  # acks riding on a claim: let them land
    trips = [
        (c.end - c.start) * 1000
        for c in recorder.claims
        if not c.blocking and c.limit > 0 and c.start >= since
    ]
    rtt_ms = trimmed_mean(trips)
    attempts = attempts_of(recorder, read_ledger(ledger), plans, rtt_ms / 1000)
    wakes = [(a.claim_end - recorder.submitted[a.key]) * 1000 - rtt_ms for a in attempts]
    measured = Measured(claim_rtt_ms=rtt_ms, wake_latency_ms=max(trimmed_mean(wakes), 0.0))
    for mechanism in kinds:
        mine = [a for a in attempts if a.mechanism == mechanism]
        measured.handoff_ms[mechanism] = trimmed_mean([a.handoff_ms for a in mine])
        measured.overshoot_ms[mechanism] = trimmed_mean([a.overshoot_ms for a in mine])
        measured.return_ms[mechanism] = trimmed_mean([a.return_ms for a in mine])
        measured.slot_cost_ms[mechanism] = trimmed_mean([a.slot_cost_ms for a in mine])
        measured.settle_ms[mechanism] = trimmed_mean([a.settle_ms for a in mine])
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
        f"{used.wake_latency_ms}   (submit call start -> claim answered, less a round trip)"
    )
    for mechanism in sorted(measured.slot_cost_ms):
        print(
            f"    {mechanism:<7} slot cost {fmt(measured.slot_cost_ms[mechanism]):>6} + "
            f"recording {fmt(measured.settle_ms[mechanism])}  -> dispatch_ms.{mechanism} = "
            f"{used.dispatch_ms[mechanism]}\n      (slot cost: hand-off "
            f"{fmt(measured.handoff_ms[mechanism])} + sleep overshoot "
            f"{fmt(measured.overshoot_ms[mechanism])} + outcome back to the pool "
            f"{fmt(measured.return_ms[mechanism])}; recording: the round trip the simulator "
            "adds after the end)"
        )


def in_run_overheads(
    recorder: Recorder, attempts: Sequence[Attempt], since: float
) -> dict[str, dict[str, float]]:
    """The same overheads as seen during the real run (median and p95, ms)."""
    claims = sorted(
        (c.end - c.start) * 1000
        for c in recorder.claims
        if not c.blocking and c.limit > 0 and c.start >= since
    )
    rows = {"claim round trip": claims}
    for mechanism in ("thread", "process"):
        mine = [a for a in attempts if a.mechanism == mechanism]
        if mine:
            rows[f"{mechanism} hand-off"] = sorted(a.handoff_ms for a in mine)
            rows[f"{mechanism} overshoot"] = sorted(a.overshoot_ms for a in mine)
            rows[f"{mechanism} return"] = sorted(a.return_ms for a in mine)
            rows[f"{mechanism} slot cost"] = sorted(a.slot_cost_ms for a in mine)
            rows[f"{mechanism} recording"] = sorted(a.settle_ms for a in mine)
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

    @property
    def label(self) -> str:
        """The backend's name in the tables."""
        return self.backend


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
        print(f"== {options.label}: {where} ==", flush=True)
        module = load_tasks(options.workload)
        workload: Workload = module.WORKLOAD
        check_replayable(workload)
        recorder = Recorder()
        pool = make_pool(workload, list(module.TASKS.values()), recorder)
        pool.start()
        try:
            warm_up(workload, module.TASKS, recorder)
            measured = probe(workload, module.TASKS, recorder, ledger)
            used = measured.overheads()
            print_overheads(measured, used)
            report = simulate(attrs.evolve(workload, overheads=used), seed=options.seed)
            plan = plan_from_trace(report)
            finished = replay(plan, module.TASKS, recorder, 3 * report.makespan_ms / 1000 + 30)
            time.sleep(0.2)  # the last acks ride on the dispatcher's next claim: let them land
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
    since = min(recorder.submitted[key] for key in keys)
    attempts = attempts_of(recorder, run.spans, plans, plain_claim_rtt_s(recorder, since))
    print_counts(plan, recorder, report, run.finished)
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
    ]
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
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen backends and print the comparison."""
    args = parse_args(argv)
    workload = args.workload.resolve()
    if args.child:
        child_main(Options(args.child, workload, args.seed), args.out)
        return
    check_replayable(load_workload(workload))
    signal.signal(signal.SIGTERM, _exit_on_signal)  # stop the running child cleanly
    kinds = list(BACKENDS) if args.backend == "both" else [args.backend]
    runs = [Options(kind, workload, args.seed) for kind in kinds]
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
