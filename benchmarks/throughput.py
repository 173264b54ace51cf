"""Throughput and latency of Alsek on Redis and on DiskCache.

Prints, per backend: enqueue tasks/s; processing tasks/s of one pool with
the thread mechanism (8 threads) and with the process mechanism (2
processes); end-to-end latency p50/p95 of single tasks with a result store
(pool in another process, as deployed); and, on Redis, commands and round
trips per task from ``INFO commandstats``.

    python benchmarks/throughput.py [--tasks 10000] [--backend redis|disk|both]

It starts its own redis-server on a free loopback port.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def commandstats(url: str | None) -> dict[str, int]:
    if url is None:
        return {}
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)
    }


class RoundTrips:
    """Counts requests this process sends to Redis (a pipeline counts once)."""

    count = 0

    @classmethod
    def install(cls) -> None:
        from redis.connection import AbstractConnection

        original = AbstractConnection.send_packed_command

        def counted(self: Any, command: Any, check_health: bool = True) -> None:
            cls.count += 1
            original(self, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def per_task(stats: dict[str, int], trips: int, n: int) -> str:
    if not stats:
        return ""
    calls = {k: v for k, v in stats.items() if k not in ("info", "config|get", "config")}
    return f"{sum(calls.values()) / n:5.2f} Redis commands/task, {trips / n:4.2f} round trips/task"


def fill(task: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        task.generate()
    return n / (time.perf_counter() - started)


def drain(tasks: list[Any], n: int, **pool_options: Any) -> float:
    from alsek.core.worker import WorkerPool

    pool = WorkerPool(tasks, **pool_options)
    started = time.perf_counter()
    pool.start()
    while pool.completed < n:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    pool.stop()
    return n / elapsed


def claim_cost_by_depth(url: str, depths: tuple[int, ...] = (1_000, 100_000)) -> str:
    """Mean time of one claim + ack of a single message with the queue ``depth`` deep."""
    from alsek.core import Broker, Message
    from alsek.effects.backends import redis_lua as lua
    from alsek.effects.backends.redis import RedisBackend
    from alsek.effects.backends.redis import _entry_args as entry_args
    from alsek.pure.keys import get_message_name
    from alsek.pure.queue_model import entry_for

    figures = []
    backend = RedisBackend(url, namespace="depth")
    broker = Broker(backend)
    lua.load(backend.conn, "enqueue")
    for depth in depths:
        backend.clear_namespace()
        pipe = backend.conn.pipeline(transaction=False)
        for i in range(depth):
            message = Message(task_name="noop", queue="depth", mechanism="thread")
            name = get_message_name(message)
            entry = entry_for(message, name)
            args = [backend.namespace, "depth", name, backend.encode(name, message.data),
                    *entry_args(entry), entry.ready_at, "0", 1, f"s{i}"]
            lua.queue(pipe, "enqueue", args)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        rounds = min(2000, depth // 2)
        started = time.perf_counter()
        for i in range(rounds):
            batch = broker.claim(["depth"], ["thread"], 60_000, [f"t{i}"], decode=False)
            claim = batch.claims[0]
            backend.ack("depth", claim.name, claim.token)
        took = (time.perf_counter() - started) / rounds * 1e6
        figures.append(f"{took:.0f} us with {depth:,} queued")
    backend.clear_namespace()
    return ", ".join(figures)


def latency(env: dict[str, str], samples: int) -> tuple[float, float]:
    import bench_tasks  # type: ignore[import-not-found]

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alsek",
            "worker",
            "bench_tasks",
            "-q",
            "latency",
            "--max_threads",
            "8",
            "--max_processes",
            "0",
            "--log-level",
            "WARNING",
        ],
        cwd=REPO / "benchmarks",
        env=env,
    )
    try:
        for i in range(50):  # warm up (also waits for the pool to start)
            bench_tasks.results.get(bench_tasks.echo.generate(args=(i,)), timeout=30_000)
        times = []
        for i in range(samples):
            started = time.perf_counter()
            message = bench_tasks.echo.generate(args=(i,))
            assert bench_tasks.results.get(message, timeout=10_000) == i
            times.append((time.perf_counter() - started) * 1000)
    finally:
        worker.terminate()
        worker.wait(30)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def run(kind: str, n: int, samples: int) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "benchmarks")])
    server = None
    url = None
    if kind == "redis":
        from tests.support.redis_server import RedisServer

        server = RedisServer().start()
        url = server.url
        env["ALSEK_REDIS_URL"] = url
        os.environ["ALSEK_REDIS_URL"] = url
    else:
        directory = tempfile.mkdtemp(prefix="alsek-bench-")
        env.pop("ALSEK_REDIS_URL", None)
        os.environ.pop("ALSEK_REDIS_URL", None)
        env["ALSEK_DISKCACHE_DIR"] = directory
        os.environ["ALSEK_DISKCACHE_DIR"] = directory
    sys.path.insert(0, str(REPO / "benchmarks"))
    sys.modules.pop("bench_tasks", None)
    import bench_tasks

    try:
        print(f"== {kind} ({n} no-op tasks) ==")
        phases = [
            ("enqueue", lambda: fill(bench_tasks.noop_thread, n)),
            (
                "threads, 8 threads",
                lambda: drain([bench_tasks.noop_thread], n, max_threads=8, max_processes=0),
            ),
            ("(refill)", lambda: fill(bench_tasks.noop_process, n)),
            (
                "process, 2 processes",
                lambda: drain([bench_tasks.noop_process], n, max_threads=0, max_processes=2),
            ),
        ]
        for label, phase in phases:
            before, trips = commandstats(url), RoundTrips.count
            rate = phase()
            if label.startswith("("):
                continue
            stats = delta(before, commandstats(url))
            print(
                f"{label + ':':24s}{rate:8.0f} tasks/s   "
                f"{per_task(stats, RoundTrips.count - trips, n)}"
            )
        if url is not None:
            print(f"claim + ack of one message: {claim_cost_by_depth(url)}")
        p50, p95 = latency(env, samples)
        print(
            f"end-to-end latency:     p50 {p50:.2f} ms   p95 {p95:.2f} ms   "
            f"({samples} single tasks, result store, pool in another process)"
        )
    finally:
        if server is not None:
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    args = parser.parse_args()
    kinds = ["redis", "disk"] if args.backend == "both" else [args.backend]
    RoundTrips.install()
    for kind in kinds:
        run(kind, args.tasks, args.samples)


if __name__ == "__main__":
    main()
