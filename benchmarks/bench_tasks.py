"""No-op tasks for the benchmarks; the backend comes from the environment."""

from __future__ import annotations

import os

from alsek.core import Broker, task
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

backend = RedisBackend() if os.environ.get("ALSEK_REDIS_URL") else DiskCacheBackend()
broker = Broker(backend)
results = ResultStore(backend)


@task(broker, mechanism="thread", queue="bench", max_retries=0)
def noop_thread() -> None:
    return None


@task(broker, mechanism="process", queue="bench", max_retries=0)
def noop_process() -> None:
    return None


@task(broker, mechanism="thread", queue="latency", result_store=results, max_retries=0)
def echo(value: int) -> int:
    return value
