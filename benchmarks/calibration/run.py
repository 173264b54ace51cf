"""One backend's calibration, in a child process of its own.

Start the backend and a pool shaped like the workload's with a
``Recorder`` observing it, warm it up, probe the overheads, simulate the
workload with them, replay the simulated inputs for real, and summarise.
A child per backend gives each its own forkserver, so the pool's task
processes import ``benchmarks.calibration.tasks`` with that backend.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import attrs

from alsek.calibration.attempts import attempts_of, plain_claim_rtt_s, read_ledger
from alsek.calibration.probe import Measured, probe, warm_up
from alsek.calibration.recorder import Recorder
from alsek.core.worker import WorkerPool
from alsek.pure.backoff import backoff_from_settings
from alsek.sim import Overheads, Report, Workload, simulate
from benchmarks.calibration import REPO
from benchmarks.calibration import report as show
from benchmarks.calibration.idle import idle_slots
from benchmarks.calibration.replay import Planned, check_replayable, plan_from_trace, replay
from benchmarks.calibration.stats import Stats, run_stats


@dataclass(frozen=True)
class Options:
    """What one child run does."""

    backend: str
    workload: Path
    seed: int


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


def load_tasks(workload_path: Path) -> ModuleType:
    """Import the task module for the backend now in the environment."""
    os.environ["ALSEK_CALIBRATION_WORKLOAD"] = str(workload_path)
    import benchmarks.calibration.tasks as module

    return module


def make_pool(workload: Workload, tasks: Sequence[Any], recorder: Recorder) -> WorkerPool:
    """A pool shaped like the workload's, observed by ``recorder``."""
    spec = workload.pool
    return WorkerPool(
        tasks,
        queues=list(workload.queue_order),
        max_threads=spec.max_threads,
        max_processes=spec.max_processes,
        backoff=backoff_from_settings(workload.consumer_backoff),
        lease_ms=workload.lease_ms,
        batch=spec.batch,
        idle_ms=3_600_000,  # no worker retires mid-run (the simulator has no start-up cost)
        observers=[recorder],
    )


def probe_tasks(workload: Workload, tasks: dict[str, Any]) -> dict[str, Any]:
    """The first task kind of each mechanism, to probe that mechanism with."""
    return {kind.mechanism: tasks[kind.name] for kind in reversed(workload.tasks)}


def run_backend(options: Options, scratch: Path) -> BackendRun:
    """Measure overheads, simulate with them, replay the simulated inputs for real."""
    ledger = scratch / "ledger.txt"
    os.environ["ALSEK_CALIBRATION_LEDGER"] = str(ledger)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    with backend_environment(options.backend, scratch) as where:
        print(f"== {options.backend}: {where} ==", flush=True)
        module = load_tasks(options.workload)
        workload: Workload = module.WORKLOAD
        check_replayable(workload)
        recorder = Recorder()
        pool = make_pool(workload, list(module.TASKS.values()), recorder)
        pool.start()
        try:
            probing = probe_tasks(workload, module.TASKS)
            slots = {"thread": workload.pool.max_threads, "process": workload.pool.max_processes}
            warm_up(slots, probing, recorder)
            measured = probe(probing, recorder, ledger)
            used = measured.overheads()
            show.print_overheads(measured, used)
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
    show.print_counts(plan, recorder, report, run.finished)
    show.print_in_run(show.in_run_overheads(recorder, attempts, since))
    tasks = {item.key: item.task for item in plan}
    show.print_idle_slots(idle_slots(attempts, recorder.submitted, run.workload, report, tasks))
    show.print_by_task(show.by_task(plan, recorder, report))
    finals = recorder.final_times()
    real = run_stats(recorder.submitted, finals, keys)
    latency = report.latency
    predicted = Stats(
        report.submitted, float(report.makespan_ms), float(latency.p50_ms), float(latency.p95_ms)
    )
    return {
        "backend": options.backend,
        "measured": asdict(real),
        "predicted": asdict(predicted),
        "overheads_measured": run.measured.as_dict(),
        "overheads_used": attrs.asdict(run.used),
        "finished": run.finished,
        "messages": per_message(plan, recorder.submitted, finals, report),
    }


def per_message(
    plan: Sequence[Planned],
    submitted: dict[str, float],
    finals: dict[str, float],
    report: Report,
) -> dict[str, dict[str, Any]]:
    """Each message's latency, measured and predicted (ms), to see where they part."""
    simulated: dict[str, int] = {}
    for at, event, _pool, uuid, _detail in report.trace or ():
        if event in ("ack", "dead"):
            simulated[uuid] = at
    rows = {}
    for item in plan:
        real = finals.get(item.key)
        rows[item.key] = {
            "task": item.task,
            "at_ms": item.at_ms,
            "attempts": len(item.attempts),
            "measured_ms": None if real is None else (real - submitted[item.key]) * 1000,
            "predicted_ms": simulated[item.key] - item.at_ms,
        }
    return rows


def child_main(options: Options, out: Path) -> None:
    """Entry point of the per-backend child: run it and write the summary as JSON."""
    import json

    logging.basicConfig(level=logging.ERROR, format="  [%(name)s] %(message)s")
    signal.signal(signal.SIGTERM, exit_on_signal)  # run the clean-ups on SIGTERM
    scratch = Path(tempfile.mkdtemp(prefix=f"alsek-calibrate-{options.backend}-"))
    try:
        summary = summarise(options, run_backend(options, scratch))
        out.write_text(json.dumps(summary))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        sys.stdout.flush()


def exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """Turn a signal into ``SystemExit``, so the ``finally`` clean-ups run."""
    raise SystemExit(f"stopped by signal {signum}")
