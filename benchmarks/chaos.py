"""Full-size fault-injection runs; prints lost / duplicated / early counts per scenario.

    python benchmarks/chaos.py [--only NAME ...]

Scenarios (see tests/support/chaos.py): task process kills every 2 s during
10,000 tasks, whole-pool kills and restarts, a pool paused past its lease,
redis-server killed and restarted with AOF (fsync always) under load, delayed
tasks, poison payloads, SIGTERM with grace, and saturation (200 x 200 ms tasks
on 2 pools x 2 slots). Each needs redis-server on PATH; it starts its own.

Fault classes (see tests/support/fault_chaos.py), on Redis and on DiskCache:
the pool-under-faults state machine at full size (many examples, longer
runs), 5,000 tasks with every injected fault class at random (OOM,
NOREPLICAS, READONLY, MISCONF, BUSY, timeouts and resets, lost replies;
SQLite locked, full, I/O errors), and 2,000 tasks while each real-server
fault is applied three times (maxmemory, min-replicas-to-write, CLIENT PAUSE,
DEBUG SLEEP, a demotion to replica, a busy script, kill -9 and restart; a
locked database file). Each prints faults injected, tasks, lost, duplicated
(runs beyond 1 + the faults that hit the message), leaked slots, dead pool
threads and the time taken, then every broken invariant.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import chaos, fault_chaos

SCENARIOS: dict[str, tuple[Any, dict[str, Any]]] = {
    "kill-task-processes": (
        chaos.kill_task_processes,
        {"tasks": 10_000, "sleep_ms": 5, "every_s": 2.0},
    ),
    "kill-whole-pools": (chaos.kill_whole_pools, {"tasks": 3_000, "rounds": 8, "every_s": 2.0}),
    "pause-past-lease": (chaos.pause_past_lease, {"tasks": 8}),
    "restart-redis": (chaos.restart_redis, {"tasks": 5_000, "restarts": 4, "every_s": 2.0}),
    "delayed": (chaos.delayed_tasks, {"tasks": 1_000, "max_delay_ms": 5_000}),
    "poison": (chaos.poison, {"good": 1_000}),
    "sigterm-grace": (chaos.sigterm_with_grace, {}),
    "saturation": (chaos.saturation, {"tasks": 200, "sleep_ms": 200, "pools": 2, "slots": 2}),
    "fault-machine-redis": (fault_chaos.fault_machine, {"kind": "redis"}),
    "fault-machine-disk": (fault_chaos.fault_machine, {"kind": "disk"}),
    "random-faults-redis": (fault_chaos.random_faults, {"kind": "redis", "tasks": 5_000}),
    "random-faults-disk": (fault_chaos.random_faults, {"kind": "disk", "tasks": 5_000}),
    "real-faults-redis": (fault_chaos.real_faults, {"kind": "redis", "tasks": 2_000}),
    "real-faults-disk": (fault_chaos.real_faults, {"kind": "disk", "tasks": 2_000}),
}


def describe(figures: dict[str, Any]) -> str:
    parts = []
    for key, value in figures.items():
        if key in ("reasons", "first_problems"):
            continue
        text = value.summary() if hasattr(value, "summary") else value
        if isinstance(text, float):
            text = f"{text:.2f}"
        parts.append(f"{key}={text}")
    return "  ".join(str(p) for p in parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    args = parser.parse_args()
    for name in args.only or list(SCENARIOS):
        function, options = SCENARIOS[name]
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"alsek-chaos-{name}-") as root:
            figures = function(Path(root), **options)
        print(f"{name:22s} {time.monotonic() - started:6.1f}s  {describe(figures)}", flush=True)
        verdict = figures.get("verdict")
        for problem in getattr(verdict, "problems", list)():
            print(f"{'':30s}! {problem}", flush=True)
        if figures.get("first_problems"):
            print(f"{'':30s}first failing example:", flush=True)
        for line in figures.get("first_problems", []):
            print(f"{'':32s}{line}", flush=True)


if __name__ == "__main__":
    main()
