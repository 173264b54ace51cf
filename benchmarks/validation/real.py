"""One real run of a validation workload: pools and a producer, each in a process of its own.

``run_real`` starts the pools (``pool_main``), waits until each has warmed
up, runs the producer (``produce``) until the queues are empty, stops the
pools and joins what their ``Recorder``\\ s saw with the producer's submit
stamps. Every child is stopped, and killed if it will not stop, whatever
happens.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from alsek.calibration.recorder import Recorder
from benchmarks.calibration.replay import Planned
from benchmarks.validation import REPO

READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class Backend:
    """Where a run's messages live: ``kind`` ``"redis"`` (``where``: a URL) or ``"disk"``
    (``where``: a parent directory; each run gets a fresh one inside)."""

    kind: str
    where: str


@dataclass(frozen=True)
class RealRun:
    """What a real run did: submit and final-outcome times (``time.monotonic`` s) by key."""

    submitted: dict[str, float]
    finals: dict[str, float]
    finished: bool
    recorder: Recorder


def environment(backend: Backend, workload: Path, scratch: Path) -> dict[str, str]:
    """The children's environment: the workload and a clean backend for this run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALSEK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["ALSEK_CALIBRATION_WORKLOAD"] = str(workload)
    if backend.kind == "redis":
        import redis

        redis.Redis.from_url(backend.where).flushdb()
        env["ALSEK_REDIS_URL"] = backend.where
    else:
        directory = scratch / "diskcache"
        directory.mkdir(parents=True)
        env["ALSEK_DISKCACHE_DIR"] = str(directory)
    return env


def _spawn(module: str, args: Sequence[str], env: dict[str, str], log: Path) -> Any:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )


def _wait_ready(pool: Any, deadline: float, log: Path) -> None:
    stdout: IO[bytes] = pool.stdout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or pool.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SystemExit(f"a pool did not start (see {log}):\n{tail}")
        ready, _, _ = select.select([stdout], [], [], left)
        if ready and stdout.readline().strip() == b"ready":
            return


def _stop(child: Any, timeout: float) -> None:
    """Close its stdin (a pool stops on that), wait, then terminate and kill."""
    try:
        if child.stdin and not child.stdin.closed:
            child.stdin.write(b"stop\n")
            child.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def _children() -> Iterator[list[Any]]:
    children: list[Any] = []
    try:
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                _stop(child, 60)


def run_real(
    backend: Backend,
    workload: Path,
    pools: int,
    plan: Sequence[Planned],
    mode: str,
    scratch: Path,
    timeout: float,
) -> RealRun:
    """Run ``plan`` for real on ``pools`` pools shaped like ``workload``'s."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = environment(backend, workload, scratch)
    log = scratch / "children.log"
    plan_file, stamps = scratch / "plan.json", scratch / "stamps.json"
    items = [[p.key, p.task, p.at_ms, [list(a) for a in p.attempts]] for p in plan]
    plan_file.write_text(json.dumps({"mode": mode, "items": items}), encoding="utf-8")
    outs = [scratch / f"pool-{index}.json" for index in range(pools)]
    with _children() as children:
        for index, out in enumerate(outs):
            args = ["--index", str(index), "--out", str(out)]
            children.append(_spawn("benchmarks.validation.pool_main", args, env, log))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for pool in children:
            _wait_ready(pool, deadline, log)
        args = ["--plan", str(plan_file), "--out", str(stamps), "--timeout", f"{timeout:.0f}"]
        producer = _spawn("benchmarks.validation.produce", args, env, log)
        children.append(producer)
        producer.wait(timeout + 120)
        time.sleep(0.3)  # the last acks ride on a claim: let the pools see it answered
        for pool in children[:pools]:
            _stop(pool, 60)
    if not stamps.exists() or not all(out.exists() for out in outs):
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"the run failed (see {log}):\n{tail}")
    recorder = Recorder()
    for out in outs:
        recorder.absorb(json.loads(out.read_text(encoding="utf-8")))
    data = json.loads(stamps.read_text(encoding="utf-8"))
    return RealRun(data["submitted"], recorder.final_times(), data["finished"], recorder)
