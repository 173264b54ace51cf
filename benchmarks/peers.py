"""Alsek next to Dramatiq, Huey and Celery on this machine, measured the same way.

    pip install 'dramatiq[redis]' huey celery      # the peers; not Alsek dependencies
    python benchmarks/peers.py [--reps 3] [--tasks 10000] [--memory 20000] [--samples 300]
                               [--only alsek-threads,dramatiq-1,...]

Systems: Alsek with 1 pool x 8 threads, 2 task processes (the process mechanism),
2 pools x 8 threads and DiskCache; Dramatiq with 1 and 2 processes x 8 threads; Huey
with 8 threads, 2 processes (both on Redis with blocking pops and result
notification) and on SQLite; Celery prefork with 2 processes. Each run of each system
has its own fresh redis-server and measures, with no-op tasks (``peer_runs.py`` says
exactly how): throughput (first to last completion, counted outside the store),
enqueue rate of one producer thread, end-to-end latency p50/p95 of a single task and
its result, Redis commands per task (enqueue + processing, those run inside Lua
scripts included; ``INFO commandstats``), Redis server CPU per task (``INFO cpu``)
and Redis bytes per queued message (``INFO memory``, over ``--memory`` messages).

Repetitions are interleaved (every system once, then again), so that a machine
whose speed drifts affects all of them alike. Figures are medians over repetitions
with their range; each ratio against a target is taken within one repetition
(paired), and its median decides PASS or MISS.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

import attrs
from peer_runs import SYSTEMS, Figures, System, run  # type: ignore[import-not-found]


@attrs.frozen
class Target:
    """A ratio Alsek must reach against a peer: ``ours / theirs`` compared to ``bound``."""

    what: str
    ours: str
    theirs: tuple[str, ...]  # several: the peer's best of them
    metric: str
    at_least: bool
    bound: float


TARGETS = (
    Target("process mechanism, 2 processes: tasks/s vs Huey -w 2 -k process",
           "alsek-processes", ("huey-processes",), "tasks_per_s", True, 1.2),
    Target("thread mechanism, 1 pool: tasks/s vs Dramatiq 1 process",
           "alsek-threads", ("dramatiq-1",), "tasks_per_s", True, 2.0),
    Target("2 pools x 8 threads: tasks/s vs Dramatiq 2 processes",
           "alsek-2pools", ("dramatiq-2",), "tasks_per_s", True, 2.0),
    Target("enqueue, one producer thread vs Huey",
           "alsek-threads", ("huey-threads",), "enqueue_per_s", True, 1.2),
    Target("Redis CPU per task vs Dramatiq (thread mechanism)",
           "alsek-threads", ("dramatiq-1",), "cpu_us", False, 0.6),
    Target("Redis CPU per task vs Dramatiq (process mechanism)",
           "alsek-processes", ("dramatiq-1",), "cpu_us", False, 0.6),
    Target("Redis commands per task vs Dramatiq (thread mechanism)",
           "alsek-threads", ("dramatiq-1",), "commands", False, 1.5),
    Target("Redis commands per task vs Dramatiq (process mechanism)",
           "alsek-processes", ("dramatiq-1",), "commands", False, 1.5),
    Target("Redis bytes per queued message vs Dramatiq",
           "alsek-threads", ("dramatiq-1",), "bytes_per_message", False, 1.0),
    Target("DiskCache: tasks/s vs Huey on SQLite",
           "alsek-disk", ("huey-sqlite",), "tasks_per_s", True, 2.0),
    Target("end-to-end p50 vs Huey's best (blocking + notify_result)",
           "alsek-threads", ("huey-threads", "huey-processes"), "p50_ms", False, 0.9),
)

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("tasks/s", "tasks_per_s", "{:,.0f}"),
    ("enqueue/s", "enqueue_per_s", "{:,.0f}"),
    ("p50 ms", "p50_ms", "{:.2f}"),
    ("p95 ms", "p95_ms", "{:.2f}"),
    ("Redis cmds/task (enq+proc)", "commands", "{:.1f}"),
    ("Redis CPU us/task", "cpu_us", "{:.0f}"),
    ("Redis bytes/msg", "bytes_per_message", "{:.0f}"),
)


def value(figures: Figures, metric: str) -> float | None:
    got = getattr(figures, metric)
    return None if got is None else float(got)


def spread(values: Sequence[float], fmt: str) -> str:
    if not values:
        return "-"
    mid = fmt.format(statistics.median(values))
    if len(values) == 1:
        return mid
    return f"{mid} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def detail(figures: Figures) -> str:
    parts = []
    if figures.commands is not None:
        parts.append(f"cmds {figures.commands_enqueue:.1f}+{figures.commands_processing:.1f}")
    if figures.cpu_us is not None:
        parts.append(f"CPU us {figures.cpu_us_enqueue:.0f}+{figures.cpu_us_processing:.0f}")
    return ", ".join(parts)


def best(figures: dict[str, Figures], keys: Sequence[str], metric: str, high: bool) -> float | None:
    got = [v for key in keys if key in figures and (v := value(figures[key], metric)) is not None]
    if not got:
        return None
    return max(got) if high else min(got)


def target_line(target: Target, reps: list[dict[str, Figures]]) -> str:
    ratios = []
    for figures in reps:
        ours = value(figures[target.ours], target.metric) if target.ours in figures else None
        theirs = best(figures, target.theirs, target.metric, high=target.at_least)
        if ours is not None and theirs:
            ratios.append(ours / theirs)
    sign = ">=" if target.at_least else "<="
    if not ratios:
        return f"  {target.what:62s} {sign} {target.bound:<4} not measured"
    mid = statistics.median(ratios)
    met = mid >= target.bound if target.at_least else mid <= target.bound
    verdict = "PASS" if met else "MISS"
    shown = spread(ratios, "{:.2f}")
    return f"  {target.what:62s} {sign} {target.bound:<4} {shown:22s} {verdict}"


def report(systems: Sequence[System], reps: list[dict[str, Figures]]) -> None:
    print()
    header = f"{'system':34s}" + "".join(f"{title:>26s}" for title, _, _ in COLUMNS)
    print(header)
    for system in systems:
        runs = [rep[system.key] for rep in reps if system.key in rep]
        cells = []
        for _, metric, fmt in COLUMNS:
            values = [v for f in runs if (v := value(f, metric)) is not None]
            cells.append(f"{spread(values, fmt):>26s}")
        print(f"{system.label:34s}" + "".join(cells))
    print()
    print("Redis commands and CPU per task, enqueue + processing (each repetition):")
    for system in systems:
        runs = [rep[system.key] for rep in reps if system.key in rep]
        if runs and runs[0].commands is not None:
            print(f"  {system.label:34s} " + "; ".join(detail(f) for f in runs))
    print()
    print("Targets (ours / peer's, per repetition: median [range]; PASS when the median meets it):")
    for target in TARGETS:
        print(target_line(target, reps))


def versions() -> str:
    found = []
    for package in ("dramatiq", "huey", "celery", "redis"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} missing")
    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    found.append(server.stdout.split(" sha=")[0].strip())
    return ", ".join(found)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--tasks", type=int, default=10_000, help="no-op tasks per throughput run")
    parser.add_argument("--memory", type=int, default=20_000, help="messages for bytes/message")
    parser.add_argument("--samples", type=int, default=300, help="single tasks for latency")
    parser.add_argument("--only", default="", help="comma-separated system keys: "
                        + ", ".join(s.key for s in SYSTEMS))
    args = parser.parse_args(argv)
    wanted = [k for k in args.only.split(",") if k]
    systems = [s for s in SYSTEMS if not wanted or s.key in wanted]
    print(f"python {' '.join([os.path.relpath(sys.argv[0]), *(argv or sys.argv[1:])])}")
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{versions()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    reps: list[dict[str, Figures]] = []
    for rep in range(args.reps):
        figures: dict[str, Figures] = {}
        for system in systems:
            began = time.monotonic()
            figures[system.key] = run(system, args.tasks, args.memory, args.samples)
            took = time.monotonic() - began
            print(f"  rep {rep + 1}/{args.reps} {system.label:34s} "
                  f"{figures[system.key].tasks_per_s:8,.0f} tasks/s  ({took:.0f} s)", flush=True)
        reps.append(figures)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    report(systems, reps)


if __name__ == "__main__":
    main()
