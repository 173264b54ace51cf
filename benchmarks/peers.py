"""Alsek next to Dramatiq and Huey on this machine, measured the same way.

    pip install 'dramatiq[redis]' huey      # peers only, not Alsek dependencies
    python benchmarks/peers.py [--tasks 10000] [--samples 500]

Throughput: N no-op messages are queued, one worker process with 8 threads
starts (``dramatiq -p 1 -t 8`` / ``alsek --max_threads 8``), and the rate is
taken from the first to the last acknowledgement, observed by polling the
queue. Latency: one task at a time, submit to result, worker with 8 threads
in another process, blocking pops on both sides (Huey ``blocking=True,
notify_result=True``).
Each system gets its own fresh redis-server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.redis_server import RedisServer  # noqa: E402


def env_for(url: str, peer: str) -> dict[str, str]:
    env = dict(os.environ, BENCH_REDIS_URL=url, BENCH_PEER=peer)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "benchmarks"), str(REPO)])
    return env


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=REPO / "benchmarks",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drain_rate(remaining: Callable[[], int], n: int, timeout: float = 600) -> float:
    """Tasks/s between the first and the last acknowledgement."""
    deadline = time.monotonic() + timeout
    while remaining() >= n:
        if time.monotonic() > deadline:
            raise TimeoutError("the worker never started")
        time.sleep(0.001)
    started = time.perf_counter()
    first = remaining()
    while remaining() > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish")
        time.sleep(0.002)
    return (first - 0) / (time.perf_counter() - started)


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def timed(call: Callable[[int], object], samples: int) -> tuple[float, float]:
    for i in range(50):
        call(i)
    times = []
    for i in range(samples):
        begin = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - begin) * 1000)
    return percentiles(times)


def dramatiq_throughput(n: int) -> float:
    with RedisServer() as server:
        env = env_for(server.url, "dramatiq")
        os.environ.update(BENCH_REDIS_URL=server.url, BENCH_PEER="dramatiq")
        sys.modules.pop("peer_apps", None)
        import peer_apps  # type: ignore[import-not-found]
        import redis

        client = redis.Redis.from_url(server.url)
        for _ in range(n):
            peer_apps.noop.send()
        worker = start([sys.executable, "-m", "dramatiq", "peer_apps", "-p", "1", "-t", "8"], env)
        try:
            return drain_rate(lambda: int(client.hlen("dramatiq:default.msgs")), n)
        finally:
            worker.terminate()
            worker.wait(30)


def alsek_throughput(n: int) -> float:
    with RedisServer() as server:
        env = env_for(server.url, "alsek")
        os.environ.update(BENCH_REDIS_URL=server.url, BENCH_PEER="alsek")
        sys.modules.pop("peer_apps", None)
        import peer_apps

        for _ in range(n):
            peer_apps.noop.generate()
        worker = start([sys.executable, "-m", "alsek", "peer_apps", "--max_threads", "8",
                        "--max_processes", "0", "--log-level", "WARNING"], env)

        def remaining() -> int:
            counts = peer_apps.broker.counts("peers")
            return counts["ready"] + counts["leased"] + counts["delayed"]

        try:
            return drain_rate(remaining, n)
        finally:
            worker.terminate()
            worker.wait(30)


def huey_latency(samples: int) -> tuple[float, float]:
    with RedisServer() as server:
        env = env_for(server.url, "huey")
        os.environ.update(BENCH_REDIS_URL=server.url, BENCH_PEER="huey")
        sys.modules.pop("peer_apps", None)
        import peer_apps

        worker = start([sys.executable, "-m", "huey.bin.huey_consumer", "peer_apps.huey",
                        "-w", "8", "-k", "thread", "-q"], env)
        try:
            return timed(lambda i: peer_apps.echo(i).get(blocking=True, timeout=10), samples)
        finally:
            worker.terminate()
            worker.wait(30)


def alsek_latency(samples: int) -> tuple[float, float]:
    with RedisServer() as server:
        env = env_for(server.url, "alsek")
        os.environ.update(BENCH_REDIS_URL=server.url, BENCH_PEER="alsek")
        sys.modules.pop("peer_apps", None)
        import peer_apps

        worker = start([sys.executable, "-m", "alsek", "peer_apps", "--max_threads", "8",
                        "--max_processes", "0", "--log-level", "WARNING"], env)
        try:
            return timed(lambda i: peer_apps.results.get(peer_apps.echo.generate(args=(i,)),
                                                         timeout=10_000), samples)
        finally:
            worker.terminate()
            worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    print(f"throughput, {args.tasks} no-op tasks, 1 worker process x 8 threads:")
    print(f"  dramatiq {dramatiq_throughput(args.tasks):8.0f} tasks/s")
    print(f"  alsek    {alsek_throughput(args.tasks):8.0f} tasks/s")
    print(f"end-to-end latency, {args.samples} single tasks, result store:")
    p50, p95 = huey_latency(args.samples)
    print(f"  huey     p50 {p50:.2f} ms  p95 {p95:.2f} ms")
    p50, p95 = alsek_latency(args.samples)
    print(f"  alsek    p50 {p50:.2f} ms  p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
