"""The ``simulate`` command, run in a subprocess (click stays out of the test process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "workload.toml"
SMALL = """
name = "cli"
[[tasks]]
name = "a"
duration = { kind = "fixed", ms = 10 }
[[arrivals]]
task = "a"
kind = "fixed"
rate = 100
count = 50
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from alsek.cli.simulate import simulate; simulate(prog_name='simulate')"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_simulate_prints_the_table_and_writes_json_and_trace(tmp_path: Path) -> None:
    workload = tmp_path / "w.toml"
    workload.write_text(SMALL, encoding="utf-8")
    out, trace = tmp_path / "r.json", tmp_path / "t.jsonl"
    done = run(str(workload), "--seed", "3", "--json", str(out), "--trace", str(trace))
    assert done.returncode == 0, done.stderr
    assert "Simulation of 'cli' (seed 3)" in done.stdout and "throughput" in done.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["submitted"] == report["succeeded"] == 50 and report["seed"] == 3
    events = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    assert sum(1 for event in events if event[1] == "submit") == 50


def test_the_example_runs() -> None:
    done = run(str(EXAMPLE), "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "image-service" in done.stdout and "task thumbnail" in done.stdout


def test_a_malformed_workload_exits_2_naming_the_field(tmp_path: Path) -> None:
    workload = tmp_path / "bad.toml"
    workload.write_text('[[tasks]]\nname = "a"\nduration = { kind = "gaussian" }\n', "utf-8")
    done = run(str(workload))
    assert done.returncode == 2
    assert "tasks[0].duration.kind: unknown distribution 'gaussian'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    done = run(str(tmp_path / "absent.toml"))
    assert done.returncode == 2 and "cannot read the workload file" in done.stderr
    assert "Traceback" not in done.stderr
