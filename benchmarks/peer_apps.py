"""No-op and echo tasks for Alsek and its peers, configured from the environment.

Used by ``benchmarks/peers.py``. Dramatiq, Huey and Celery are not Alsek
dependencies; install them to run the comparison:
``pip install 'dramatiq[redis]' huey celery``.

- ``BENCH_PEER``: ``alsek`` (Redis), ``alsek-disk`` (DiskCache), ``dramatiq``,
  ``huey`` (Redis, blocking pops and result notification), ``huey-sqlite`` or ``celery``.
- ``BENCH_REDIS_URL``: the Redis to use; ``BENCH_DIR``: where DiskCache and SQLite live.
- ``BENCH_LEDGER``: a file every finished no-op task appends one byte to, so that
  completions are counted outside the store.

Each kind defines ``noop`` and ``echo`` (Alsek also ``noop_process`` and
``echo_process``), ``submit_noop(mechanism)`` and ``round_trip(i, mechanism)``
(submit ``echo(i)`` and wait for its result).
"""

from __future__ import annotations

import os
from typing import Any

URL = os.environ.get("BENCH_REDIS_URL", "")
KIND = os.environ.get("BENCH_PEER", "")
DIR = os.environ.get("BENCH_DIR", "")
LEDGER = os.environ.get("BENCH_LEDGER")
_ledger: list[int] = []


def done() -> None:
    """Count one finished no-op task (one byte appended to the ledger)."""
    if LEDGER is None:
        return
    if not _ledger:
        _ledger.append(os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    os.write(_ledger[0], b"x")


if KIND == "dramatiq":
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.results import Results
    from dramatiq.results.backends import RedisBackend as ResultBackend

    dramatiq_broker = RedisBroker(url=URL)
    dramatiq_broker.add_middleware(Results(backend=ResultBackend(url=URL)))
    dramatiq.set_broker(dramatiq_broker)

    @dramatiq.actor(max_retries=0)
    def noop() -> None:
        done()

    @dramatiq.actor(max_retries=0, store_results=True)
    def echo(value: int) -> int:
        return value

    def submit_noop(mechanism: str = "thread") -> None:
        noop.send()

    def round_trip(i: int, mechanism: str = "thread") -> Any:
        return echo.send(i).get_result(block=True, timeout=10_000)

elif KIND in ("huey", "huey-sqlite"):
    from huey import RedisHuey, SqliteHuey

    if KIND == "huey":
        import redis

        huey: Any = RedisHuey(
            "bench",
            connection_pool=redis.ConnectionPool.from_url(URL),
            blocking=True,
            notify_result=True,
        )
    else:
        huey = SqliteHuey("bench", filename=os.path.join(DIR, "huey.db"))

    @huey.task()
    def noop() -> None:
        done()

    @huey.task()
    def echo(value: int) -> int:
        return value

    def submit_noop(mechanism: str = "thread") -> None:
        noop()

    def round_trip(i: int, mechanism: str = "thread") -> Any:
        return echo(i).get(blocking=True, timeout=10)

elif KIND == "celery":
    from celery import Celery

    app = Celery("peer_apps", broker=URL, backend=URL)
    app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)

    @app.task(ignore_result=True)
    def noop() -> None:
        done()

    @app.task
    def echo(value: int) -> int:
        return value

    def submit_noop(mechanism: str = "thread") -> None:
        noop.delay()

    def round_trip(i: int, mechanism: str = "thread") -> Any:
        return echo.delay(i).get(timeout=10)

else:
    from alsek.core import Broker, task
    from alsek.storage.backends.disk import DiskCacheBackend
    from alsek.storage.backends.redis import RedisBackend
    from alsek.storage.result import ResultStore

    backend: Any = DiskCacheBackend(DIR) if KIND == "alsek-disk" else RedisBackend(URL)
    broker = Broker(backend)
    results = ResultStore(backend)

    @task(broker, mechanism="thread", queue="peers", max_retries=0)
    def noop() -> None:
        done()

    @task(broker, mechanism="process", queue="peers", max_retries=0)
    def noop_process() -> None:
        done()

    @task(broker, mechanism="thread", queue="peers", result_store=results, max_retries=0)
    def echo(value: int) -> int:
        return value

    @task(broker, mechanism="process", queue="peers", result_store=results, max_retries=0)
    def echo_process(value: int) -> int:
        return value

    def submit_noop(mechanism: str = "thread") -> None:
        (noop_process if mechanism == "process" else noop).generate()

    def round_trip(i: int, mechanism: str = "thread") -> Any:
        target = echo_process if mechanism == "process" else echo
        return results.get(target.generate(args=(i,)), timeout=10_000)
