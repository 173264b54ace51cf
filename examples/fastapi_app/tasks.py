"""The tasks, and the store they use, chosen by the environment.

Workers run them with ``alsek fastapi_app.tasks``; the web app imports them to
submit work. ``APP_BACKEND=memory`` gives tests an in-memory store.
"""

from __future__ import annotations

import os
from datetime import timedelta

from alsek.core import Broker, task
from alsek.storage.backends import Backend
from alsek.storage.result import ResultStore


def make_backend() -> Backend:
    """Redis when ``ALSEK_REDIS_URL`` is set, memory for tests, else DiskCache."""
    if os.environ.get("APP_BACKEND") == "memory":
        from alsek.testing import MemoryBackend

        return MemoryBackend()
    if os.environ.get("ALSEK_REDIS_URL"):
        from alsek.storage.backends.redis import RedisBackend

        return RedisBackend()
    from alsek.storage.backends.disk import DiskCacheBackend

    return DiskCacheBackend()


backend = make_backend()
broker = Broker(backend)
results = ResultStore(backend, ttl=timedelta(hours=1))  # unread reports expire


@task(broker, result_store=results, mechanism="thread", timeout=timedelta(minutes=5))
def build_report(customer: str, days: int) -> dict[str, object]:
    """Pretend to crunch numbers for ``customer`` over ``days`` days."""
    return {"customer": customer, "days": days, "total": 42 * days}
