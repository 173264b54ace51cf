"""``alsek calibrate --out`` on a real pool, and ``alsek simulate --profile`` with its file.

Each calibration is the short form (5 idle probes per slot kind, one run of
each saturated burst): a few seconds per backend, in a subprocess, as a
user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alsek.sim.profile import load_profile
from tests.support.harness import REPO, base_env

WORKLOAD = """
name = "small"
[pool]
max_threads = 2
max_processes = 1
[[tasks]]
name = "a"
duration = { kind = "fixed", ms = 20 }
[[arrivals]]
task = "a"
kind = "fixed"
rate = 50
count = 30
"""


def alsek(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alsek", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=base_env(),
        timeout=timeout,
        check=False,
    )


def calibrate(out: Path, *backend: str) -> subprocess.CompletedProcess[str]:
    args = ["calibrate", *backend, "--out", str(out), "--probes", "5", "--bursts", "1"]
    return alsek(*args, timeout=240)


def check_profile(out: Path, backend: str, signals: str, timer_ms: int) -> None:
    profile = load_profile(out)
    overheads = profile.overheads(backend)
    assert (overheads.signals, overheads.timer_ms) == (signals, timer_ms)
    assert overheads.claim_rtt_ms > 0 and overheads.wake_latency_ms >= 0
    assert overheads.claim_ms_per_item >= 0
    assert set(overheads.dispatch_ms) == {"thread", "process", "async"}
    measured = profile.backends[backend].measured
    assert set(measured) >= {"idle_dispatcher", "idle_task_processes", "burst", "burst_async"}
    assert measured["burst"]["kinds"]["thread"]["count"] == 96  # 12 per thread slot
    assert profile.host["cpus"] >= 1 and profile.measured_at.endswith("Z")


def simulate_with(tmp_path: Path, out: Path, *backend: str) -> str:
    workload = tmp_path / "small.toml"
    workload.write_text(WORKLOAD, encoding="utf-8")
    report = tmp_path / "report.json"
    done = alsek("simulate", str(workload), "--profile", str(out), *backend, "--json", str(report))
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text(encoding="utf-8"))["succeeded"] == 30
    return done.stdout


@pytest.mark.slow
def test_calibrate_on_diskcache_writes_a_profile_simulate_uses(tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    done = calibrate(out, "--disk", str(tmp_path / "diskcache"))
    assert done.returncode == 0, done.stderr
    assert f"profile written to {out}" in done.stdout
    check_profile(out, "disk", "any", 0)
    overheads = load_profile(out).overheads("disk")
    text = simulate_with(tmp_path, out)  # one backend in the file: no need to name it
    assert f"overheads of {out} (claim {overheads.claim_rtt_ms} ms" in text
    assert "signals any" in text and "Simulation of 'small'" in text


@pytest.mark.slow
@pytest.mark.redis
def test_calibrate_on_redis_writes_a_profile_simulate_uses(tmp_path: Path, redis_url: str) -> None:
    out = tmp_path / "profile.json"
    done = calibrate(out, "--redis", redis_url)
    assert done.returncode == 0, done.stderr
    check_profile(out, "redis", "fifo", 100)  # the test server runs with the default hz (10)
    text = simulate_with(tmp_path, out, "--backend", "redis")
    assert "signals fifo" in text and "timer 100 ms" in text


def test_calibrate_needs_a_backend(tmp_path: Path) -> None:
    done = alsek("calibrate", "--out", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "name a backend to measure" in done.stderr
    assert not (tmp_path / "p.json").exists()


def test_simulate_names_what_is_wrong_with_a_profile(tmp_path: Path) -> None:
    workload = tmp_path / "small.toml"
    workload.write_text(WORKLOAD, encoding="utf-8")
    missing = alsek("simulate", str(workload), "--profile", str(tmp_path / "absent.json"))
    assert missing.returncode == 2 and "cannot read the profile" in missing.stderr
    two = tmp_path / "two.json"
    entry = {"overheads": {"claim_rtt_ms": 1}}
    two.write_text(
        json.dumps(
            {
                "kind": "alsek-simulator-profile",
                "version": 1,
                "backends": {"redis": entry, "disk": {"overheads": {"claim_rtt_ms": -2}}},
            }
        ),
        encoding="utf-8",
    )
    bad = alsek("simulate", str(workload), "--profile", str(two), "--backend", "redis")
    assert bad.returncode == 2
    assert "backends.disk.overheads.claim_rtt_ms: must be a number >= 0, got -2" in bad.stderr
    alone = alsek("simulate", str(workload), "--backend", "redis")
    assert alone.returncode == 2 and "give --profile" in alone.stderr
    assert "Traceback" not in missing.stderr + bad.stderr + alone.stderr


def test_the_cli_loads_neither_the_simulator_nor_the_calibration_until_asked() -> None:
    script = (
        "import sys\n"
        "import alsek.cli\n"
        "lazy = ('alsek.sim', 'alsek.calibration')\n"
        "print(sorted(m for m in sys.modules if m.startswith(lazy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=base_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
