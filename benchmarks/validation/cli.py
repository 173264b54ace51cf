"""The command line: measure the profile once, then predict and run every workload."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import attrs

import benchmarks.validation as package
from alsek.sim import Report, load_workload, simulate
from alsek.sim.profile import Profile, load_profile
from benchmarks.calibration.replay import Planned, plan_from_trace
from benchmarks.calibration.stats import error_pct, run_stats
from benchmarks.validation import REPO, WORKLOADS
from benchmarks.validation.real import Backend, RealRun, run_real

#: (workload file stem, pools, how the producer submits)
RUNS = (
    ("burst", 1, "burst"),
    ("burst", 2, "burst"),
    ("steady", 1, "replay"),
    ("storm", 1, "replay"),
)
METRICS = ("makespan", "p50", "p95", "p99")


@dataclass(frozen=True)
class Row:
    """One run's figures, measured and predicted (ms)."""

    backend: str
    workload: str
    pools: int
    measured: dict[str, float]
    predicted: dict[str, float]

    def errors(self) -> dict[str, float]:
        """Relative error of each figure, in %."""
        return {m: error_pct(self.measured[m], self.predicted[m]) for m in METRICS}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/validate_sim.py",
        description=package.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", type=Path, help="use this profile instead of measuring one")
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis", help="a Redis URL to use (its database is flushed)")
    parser.add_argument("--only", nargs="*", help="run only these workloads (burst, steady, storm)")
    parser.add_argument(
        "--keep", type=Path, help="keep every run's files (plans, events, per-message JSON) here"
    )
    return parser.parse_args(argv)


@contextmanager
def redis_url(given: str | None, needed: bool) -> Iterator[str | None]:
    """The Redis to use: the one given, or a redis-server of our own on a free port."""
    if given or not needed:
        yield given
        return
    from tests.support.redis_server import RedisServer

    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.close()


def measure_profile(backends: Sequence[str], url: str | None, scratch: Path) -> Path:
    """Run ``alsek calibrate`` in a process of its own: the profile every prediction uses."""
    out = scratch / "profile.json"
    command = [sys.executable, "-m", "alsek", "calibrate", "--out", str(out)]
    if "redis" in backends:
        command += ["--redis", str(url)]
    if "disk" in backends:
        command += ["--disk", str(scratch / "calibration-disk")]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    print("$ python -m alsek calibrate ...", flush=True)
    subprocess.run(command, cwd=REPO, env=env, check=True, timeout=600)
    return out


def figures(report: Report) -> dict[str, float]:
    """The predicted makespan and latency percentiles (ms)."""
    latency = report.latency
    return {
        "makespan": float(report.makespan_ms),
        "p50": float(latency.p50_ms),
        "p95": float(latency.p95_ms),
        "p99": float(latency.p99_ms),
    }


def measured_figures(real: RealRun, keys: Sequence[str]) -> dict[str, float]:
    """The measured makespan and latency percentiles (ms)."""
    stats = run_stats(real.submitted, real.finals, keys)
    if stats.count < len(keys):
        print(f"    ** {len(keys) - stats.count} of {len(keys)} messages never finished **")
        return dict.fromkeys(METRICS, math.nan)
    return {
        "makespan": stats.makespan_ms,
        "p50": stats.p50_ms,
        "p95": stats.p95_ms,
        "p99": stats.p99_ms,
    }


def run_one(
    backend: Backend, profile: Profile, name: str, pools: int, mode: str, seed: int, scratch: Path
) -> Row:
    """Predict one workload on ``pools`` pools, then run it for real."""
    path = WORKLOADS / f"{name}.toml"
    workload = load_workload(path)
    workload = attrs.evolve(workload, pool=attrs.evolve(workload.pool, pools=pools))
    workload = profile.apply(workload, backend.kind)
    report = simulate(workload, seed=seed)
    plan = plan_from_trace(report)
    use = ", ".join(f"{k} {v:.0%}" for k, v in report.utilisation.items() if v is not None)
    print(
        f"  {backend.kind} {name} on {pools} pool{'s' * (pools > 1)}: {report.submitted} "
        f"messages, {report.attempts} attempts; predicted utilisation {use}",
        flush=True,
    )
    started = time.monotonic()
    cpu = _cpu_seconds()
    timeout = 3 * report.makespan_ms / 1000 + 60
    real = run_real(backend, path, pools, plan, mode, scratch, timeout)
    keys = [item.key for item in plan]
    measured = measured_figures(real, keys)
    print(
        f"    ran in {time.monotonic() - started:.0f} s, {_cpu_seconds() - cpu:.1f} CPU s "
        "(pools, task processes, producer)",
        flush=True,
    )
    write_messages(scratch / "messages.json", plan, real, report)
    return Row(backend.kind, name, pools, measured, figures(report))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_messages(path: Path, plan: Sequence[Planned], real: RealRun, report: Report) -> None:
    """Each message's latency, measured and predicted (ms), to see where they part."""
    predicted: dict[str, int] = {}
    for at, event, _pool, uuid, _detail in report.trace or ():
        if event in ("ack", "dead"):
            predicted[uuid] = at
    rows = {
        item.key: {
            "task": item.task,
            "at_ms": item.at_ms,
            "attempts": len(item.attempts),
            "measured_ms": (real.finals[item.key] - real.submitted[item.key]) * 1000
            if item.key in real.finals
            else None,
            "predicted_ms": predicted[item.key] - item.at_ms,
        }
        for item in plan
    }
    path.write_text(json.dumps(rows), encoding="utf-8")


def print_table(rows: Sequence[Row]) -> float:
    """The comparison, one line per figure; returns the largest absolute error (%)."""
    header = ["backend", "workload", "pools", "figure", "measured", "predicted", "error"]
    lines = [header]
    for row in rows:
        errors = row.errors()
        for index, metric in enumerate(METRICS):
            first = index == 0
            lines.append(
                [
                    row.backend if first else "",
                    row.workload if first else "",
                    str(row.pools) if first else "",
                    metric,
                    f"{row.measured[metric]:.0f} ms",
                    f"{row.predicted[metric]:.0f} ms",
                    f"{errors[metric]:+.1f}%",
                ]
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for index, line in enumerate(lines):
        print("  ".join(cell.rjust(w) if i >= 4 else cell.ljust(w) for i, (cell, w) in
                        enumerate(zip(line, widths, strict=True))).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))
    print("error = (predicted - measured) / measured; latency: submit to final outcome recorded")
    worst = [abs(e) for row in rows for e in row.errors().values()]
    return math.inf if any(math.isnan(e) for e in worst) else max(worst, default=math.nan)


def main(argv: Sequence[str] | None = None) -> None:
    """Measure (or read) the profile, then predict and run every workload on each backend."""
    args = parse_args(argv)
    kinds = ["redis", "disk"] if args.backend == "both" else [args.backend]
    runs = [run for run in RUNS if not args.only or run[0] in args.only]
    print(
        f"validation of the simulator: {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}, seed {args.seed}",
        flush=True,
    )
    started = time.monotonic()
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="alsek-validate-") as tmp,
        redis_url(args.redis, "redis" in kinds) as url,
    ):
        scratch = args.keep or Path(tmp)
        path = args.profile or measure_profile(kinds, url, scratch)
        profile = load_profile(path)
        print(f"profile: {path} (measured {profile.measured_at})", flush=True)
        for kind in kinds:
            where = url if kind == "redis" else str(scratch)
            backend = Backend(kind, str(where))
            for number, (name, pools, mode) in enumerate(runs):
                run_scratch = scratch / f"{kind}-{number}-{name}"
                rows.append(run_one(backend, profile, name, pools, mode, args.seed, run_scratch))
    worst = print_table(rows)
    print(f"({time.monotonic() - started:.0f} s in all)")
    print(f"max abs error: {worst:.1f}%")
