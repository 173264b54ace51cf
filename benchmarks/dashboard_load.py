"""Load times of the dashboard's pages and JSON API over a big system, on Redis and
DiskCache.

Fills 10,000 queued messages (three tasks in four queues, one in ten delayed) and
1,000 dead letters (each with its last error and traceback), and writes the registry
records of two worker pools with an hour of minute-by-minute activity (synthetic
records, read like real ones: no pool runs, so the queues stay full). Then loads
each page and API through Starlette's TestClient (in process, no network) and
prints the median and the slowest of ``--loads`` loads. The forecast is timed
twice: computed (its cache emptied before each load) and cached.

    python benchmarks/dashboard_load.py [--queued 10000] [--dead 1000] [--loads 5]
                                        [--backend redis|disk|both]

It starts its own redis-server on a free loopback port.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TASKS = (("resize", "images", "process"), ("send", "emails", "thread"),
         ("sync", "default", "thread"))  # fmt: skip
QUEUES = ("images", "emails", "default", "reports")


def fill(broker: Any, queued: int, dead: int) -> tuple[str, str]:
    """Submit ``queued`` messages and ``dead`` dead letters; returns a queued uuid and a
    dead one."""
    from alsek.core import Message
    from alsek.effects.failures import write_failure
    from alsek.pure.failure import FailureRecord

    now = int(time.time() * 1000)
    first = ""
    for i in range(queued):
        task, queue, mechanism = TASKS[i % len(TASKS)]
        queue = QUEUES[3] if i % 7 == 0 else queue
        message = Message(task_name=task, queue=queue, uuid=f"q-{i:06d}", created_at=now,
                          args=[i, "payload"], mechanism=mechanism,  # type: ignore[arg-type]
                          delay=600_000 if i % 10 == 0 else 0)  # fmt: skip
        broker.submit(message)
        first = first or message.uuid
    last_dead = ""
    traceback = "Traceback (most recent call last):\n  ...\nValueError: bad input\n"
    for i in range(dead):
        task, queue, mechanism = TASKS[i % len(TASKS)]
        message = Message(task_name=task, queue=queue, uuid=f"d-{i:06d}", created_at=now,
                          args=[i], mechanism=mechanism)  # type: ignore[arg-type]  # fmt: skip
        broker.submit(message)
        broker.fail(message, "ValueError: bad input after 3 retries")
        record = FailureRecord(message.uuid, task, queue, "failed", "ValueError", "bad input",
                               traceback, 4, 1, True, now)  # fmt: skip
        write_failure(broker.backend, record)
        last_dead = message.uuid
    return first, last_dead


def register_pools(broker: Any, pools: int = 2) -> None:
    """Registry records of ``pools`` pools that ran the tasks for the last hour."""
    from alsek.effects.backends.operations_for import operations_for
    from alsek.pure import codec
    from alsek.pure.activity import TaskActivity, minute_of, minute_row
    from alsek.pure.workers import TaskStats, WorkerRecord

    now = int(time.time() * 1000)
    minutes = range(minute_of(now) - 59, minute_of(now) + 1)
    for pool in range(pools):
        activity = {
            task: TaskActivity(queue, mechanism, tuple(
                minute_row(m, 600, 590, 10, 600 * 40, {3: 400, 4: 200}) for m in minutes))
            for task, queue, mechanism in TASKS
        }  # fmt: skip
        stats = {task: TaskStats(36_000, 36_000, 35_400, 600) for task, _, _ in TASKS}
        record = WorkerRecord(f"bench-{pool}", "bench", 1000 + pool, now - 3_600_000, now,
                              QUEUES, {"thread": 8, "process": 2}, {"thread": 8, "process": 2},
                              tasks_per_s=30.0, tasks=stats, activity=activity)  # fmt: skip
        operations_for(broker.backend).put_worker(record.id, codec.unstructure(record), 600_000)


def timed(client: Any, path: str, loads: int, before: Any = None) -> tuple[float, float]:
    """Median and max ms of ``loads`` GETs of ``path`` (``before()`` runs untimed first)."""
    times = []
    for _ in range(loads):
        if before is not None:
            before()
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:200]}")
    return statistics.median(times), max(times)


def run(kind: str, broker: Any, queued: int, dead: int, loads: int) -> None:
    from starlette.testclient import TestClient

    from alsek.dashboard.app import create_app
    from alsek.dashboard.data import Source

    start = time.perf_counter()
    waiting, gone = fill(broker, queued, dead)
    register_pools(broker)
    print(f"\n{kind}: {queued:,} queued and {dead:,} dead filled in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    app = create_app(Source(broker, queues=QUEUES))
    client = TestClient(app, base_url="http://127.0.0.1")
    forecasts = app.state.dashboard.forecasts
    paths = [
        ("overview", "/"), ("workers", "/workers"), ("message (queued)", f"/messages/{waiting}"),
        ("message (dead)", f"/messages/{gone}"), ("dead letters, page 1", "/dead-letters"),
        ("dead letters, page 10", "/dead-letters?page=10"),
        ("dead letters, by task", "/dead-letters?task=send"),
        ("forecast (cached)", "/forecast"),
    ]  # fmt: skip
    print(f"{'what':<28}{'page p50':>10}{'max':>8}{'API p50':>10}{'max':>8}   (ms)")
    client.get("/forecast")  # fills the cache for the cached rows
    for label, path in paths:
        api = "/api/overview" if path == "/" else "/api" + path
        page = timed(client, path, loads)
        data = timed(client, api, loads)
        print(f"{label:<28}{page[0]:>10.1f}{page[1]:>8.1f}{data[0]:>10.1f}{data[1]:>8.1f}")
    computed = timed(client, "/forecast", loads, before=forecasts.kept.clear)
    computed_api = timed(client, "/api/forecast", loads, before=forecasts.kept.clear)
    print(f"{'forecast (computed)':<28}{computed[0]:>10.1f}{computed[1]:>8.1f}"
          f"{computed_api[0]:>10.1f}{computed_api[1]:>8.1f}")  # fmt: skip
    csrf = client.get("/api/csrf").json()["csrf"]
    start = time.perf_counter()
    answer = client.post("/api/dead-letters/resubmit", json={"uuids": [gone]},
                         headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert answer.json()["done"] == [gone], answer.text
    print(f"{'resubmit one dead letter':<28}{(time.perf_counter() - start) * 1000:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--dead", type=int, default=1_000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    args = parser.parse_args()
    from alsek.core import Broker
    from alsek.storage.backends.disk import DiskCacheBackend
    from alsek.storage.backends.redis import RedisBackend

    if args.backend in ("redis", "both"):
        from tests.support.redis_server import RedisServer

        server = RedisServer().start()
        try:
            broker = Broker(RedisBackend(server.url))
            run("Redis", broker, args.queued, args.dead, args.loads)
        finally:
            server.close()
    if args.backend in ("disk", "both"):
        with tempfile.TemporaryDirectory(prefix="alsek-dashboard-") as directory:
            broker = Broker(DiskCacheBackend(directory))
            run("DiskCache", broker, args.queued, args.dead, args.loads)


if __name__ == "__main__":
    main()
