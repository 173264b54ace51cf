"""The command line: one child process per backend, then the summary table."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import benchmarks.calibration as package
from alsek.sim import load_workload
from benchmarks.calibration import DEFAULT_WORKLOAD, REPO
from benchmarks.calibration.replay import check_replayable
from benchmarks.calibration.report import print_table
from benchmarks.calibration.run import Options, child_main, exit_on_signal

BACKENDS = ("disk", "redis")
CHILD_TIMEOUT_S = 300


def run_child(options: Options, out: Path) -> dict[str, Any] | None:
    """Run one backend in a child process (its own forkserver and task module)."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.calibration",
        "--child",
        options.backend,
        "--seed",
        str(options.seed),
        "--workload",
        str(options.workload),
        "--out",
        str(out),
    ]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    child = subprocess.Popen(command, cwd=REPO, env=environment)
    try:
        code = child.wait(CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop_child(child)
        print(f"  {options.backend}: stopped after {CHILD_TIMEOUT_S} s")
        return None
    except (KeyboardInterrupt, SystemExit):
        stop_child(child)
        raise
    if code != 0 or not out.exists():
        print(f"  {options.backend}: the run failed (exit code {code})")
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/calibrate.py",
        description=package.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workload", type=Path, default=DEFAULT_WORKLOAD)
    parser.add_argument(
        "--json", type=Path, help="also write every result, message by message, to this file"
    )
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
    signal.signal(signal.SIGTERM, exit_on_signal)  # stop the running child cleanly
    kinds = list(BACKENDS) if args.backend == "both" else [args.backend]
    print(
        f"calibration of the simulator: {workload.name}, seed {args.seed}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="alsek-calibrate-") as scratch:
        for kind in kinds:
            options = Options(kind, workload, args.seed)
            result = run_child(options, Path(scratch) / f"{kind}.json")
            if result is not None:
                results.append(result)
    if results:
        print_table(results)
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "results": results}, indent=1))
