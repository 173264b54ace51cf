"""How many concurrent ``await asyncio.sleep(0.1)`` tasks one worker pool sustains.

    python benchmarks/asyncio_tasks.py [--tasks 5000] [--max-async 100,500,1000]
        [--backend redis|disk|both] [--arq-python PATH]

For each backend and ``max_async``: ``--tasks`` messages of an ``async def``
task that sleeps 0.1 s are queued, then one pool (``max_threads=1``,
``max_processes=0``) starts in this process, and the rate is the number of
tasks over the time from the pool's start to the last recorded outcome. The
ceiling is ``max_async / 0.1 s`` (every coroutine slot always busy).

arq is the reference, measured in the same run on its own fresh redis-server
with the same task, ``max_jobs`` equal to ``max_async`` and ``burst=True``
(the worker stops when the queue is empty; the rate is over the worker's
run). arq pins ``redis<6``, so it lives in its own environment: pass its
interpreter with ``--arq-python`` (``python -m venv /tmp/arq && /tmp/arq/bin/pip
install arq``), or install it here if the versions agree.

Each Alsek run gets a fresh redis-server (or DiskCache directory).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alsek.core import Broker, task  # noqa: E402
from alsek.core.worker import WorkerPool  # noqa: E402
from alsek.effects.backends.base import Backend  # noqa: E402
from alsek.effects.events import Finished, Observer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

SLEEP_S = 0.1


class Done(Observer):
    """Counts recorded outcomes; notes when the last one came."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.count = 0
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def on_outcome(self, event: Finished) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.wanted:
                self.finished.set()


def alsek_rate(backend: Backend, tasks: int, max_async: int) -> float:
    broker = Broker(backend)

    @task(broker, name=f"bench_nap_{max_async}", timeout=60_000)
    async def nap() -> None:
        await asyncio.sleep(SLEEP_S)

    for _ in range(tasks):
        nap.delay()
    done = Done(tasks)
    pool = WorkerPool([nap], max_threads=1, max_processes=0, max_async=max_async, observers=[done])
    started = time.perf_counter()
    pool.start()
    try:
        if not done.finished.wait(600):
            raise TimeoutError(f"only {done.count} of {tasks} tasks finished")
        elapsed = time.perf_counter() - started
    finally:
        pool.stop(grace_ms=0, timeout=60)
    return tasks / elapsed


ARQ_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import Worker

    url, tasks, max_jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sleep_s = float(sys.argv[4])

    async def nap(ctx):
        await asyncio.sleep(sleep_s)

    async def main():
        settings = RedisSettings.from_dsn(url)
        redis = await create_pool(settings)
        for _ in range(tasks):
            await redis.enqueue_job("nap")
        worker = Worker(functions=[nap], redis_settings=settings, max_jobs=max_jobs,
                        burst=True, keep_result=0, poll_delay=0.05, handle_signals=False)
        started = time.perf_counter()
        await worker.main()
        elapsed = time.perf_counter() - started
        assert worker.jobs_complete == tasks, (worker.jobs_complete, worker.jobs_failed)
        await worker.close()
        print(tasks / elapsed)

    asyncio.run(main())
    """
)


def arq_python(given: str | None) -> str | None:
    """An interpreter with arq installed: ``given``, else this one if it has arq."""
    if given:
        return given
    try:
        import arq  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def arq_rate(python: str, tasks: int, max_jobs: int) -> float:
    with RedisServer() as server:
        done = subprocess.run(
            [python, "-c", ARQ_SCRIPT, server.url, str(tasks), str(max_jobs), str(SLEEP_S)],
            capture_output=True,
            text=True,
            timeout=900,
        )
    if done.returncode != 0:
        raise RuntimeError(f"arq run failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure(kind: str, tasks: int, max_async: int) -> float:
    from alsek.storage.backends.disk import DiskCacheBackend
    from alsek.storage.backends.redis import RedisBackend

    if kind == "redis":
        with RedisServer() as server:
            return alsek_rate(RedisBackend(server.url), tasks, max_async)
    with tempfile.TemporaryDirectory(prefix="alsek-bench-") as folder:
        return alsek_rate(DiskCacheBackend(folder), tasks, max_async)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--max-async", default="100,500,1000")
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    parser.add_argument("--arq-python", default=None, help="an interpreter with arq installed")
    args = parser.parse_args()
    logging.getLogger("alsek").setLevel(logging.ERROR)  # (Redis persistence warnings)
    limits = [int(part) for part in args.max_async.split(",")]
    python = arq_python(args.arq_python)
    print(f"{args.tasks} tasks of `await asyncio.sleep({SLEEP_S})`, one pool, tasks/s")
    print(f"{'system':<14}{'max_async':>10}{'tasks/s':>10}{'ceiling':>10}")
    kinds = ["redis", "disk"] if args.backend == "both" else [args.backend]
    for kind in kinds:
        for limit in limits:
            rate = measure(kind, args.tasks, limit)
            print(f"{'alsek ' + kind:<14}{limit:>10}{rate:>10.0f}{limit / SLEEP_S:>10.0f}")
    if python is None:
        print("arq: not measured (install it, or pass --arq-python; it pins redis<6)")
        return
    for limit in limits:
        rate = arq_rate(python, args.tasks, limit)
        print(f"{'arq redis':<14}{limit:>10}{rate:>10.0f}{limit / SLEEP_S:>10.0f}")


if __name__ == "__main__":
    main()
