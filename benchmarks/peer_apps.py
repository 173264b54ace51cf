"""No-op tasks for Dramatiq, Huey and Alsek, on the Redis named by $BENCH_REDIS_URL.

Used by benchmarks/peers.py; Dramatiq and Huey are not Alsek dependencies
(install them to run the comparison: ``pip install 'dramatiq[redis]' huey``).
"""

from __future__ import annotations

import os

URL = os.environ["BENCH_REDIS_URL"]
KIND = os.environ.get("BENCH_PEER", "")

if KIND == "dramatiq":
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=URL))

    @dramatiq.actor(max_retries=0)
    def noop() -> None:
        return None

elif KIND == "huey":
    import redis
    from huey import RedisHuey

    huey = RedisHuey(
        "bench",
        connection_pool=redis.ConnectionPool.from_url(URL),
        blocking=True,
        notify_result=True,
    )

    @huey.task()
    def echo(value: int) -> int:
        return value

else:
    from alsek.core import Broker, task
    from alsek.storage.backends.redis import RedisBackend
    from alsek.storage.result import ResultStore

    backend = RedisBackend(URL)
    broker = Broker(backend)
    results = ResultStore(backend)

    @task(broker, mechanism="thread", queue="peers", max_retries=0)
    def noop() -> None:
        return None

    @task(broker, mechanism="thread", queue="peers", result_store=results, max_retries=0)
    def echo(value: int) -> int:
        return value
