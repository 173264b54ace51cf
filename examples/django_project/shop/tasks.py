"""The shop's tasks. Workers start them with ``alsek shop.tasks`` (Django is set up
on import, so tasks may use the ORM and settings like any view)."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
django.setup()

from django.conf import settings  # noqa: E402 - after django.setup()

from alsek.core import Broker, task  # noqa: E402
from alsek.storage.backends import Backend  # noqa: E402
from alsek.storage.result import ResultStore  # noqa: E402


def make_backend() -> Backend:
    """The store named by the settings."""
    if settings.ALSEK_BACKEND == "memory":
        from alsek.testing import MemoryBackend

        return MemoryBackend()
    if settings.ALSEK_BACKEND == "redis":
        from alsek.storage.backends.redis import RedisBackend

        return RedisBackend(settings.ALSEK_REDIS_URL)
    from alsek.storage.backends.disk import DiskCacheBackend

    return DiskCacheBackend()


backend = make_backend()
broker = Broker(backend)
results = ResultStore(backend, ttl=24 * 3600 * 1000)


@task(broker, result_store=results, mechanism="thread", max_retries=5)
def send_receipt(order_id: int, email: str) -> str:
    """Pretend to email a receipt; retried with backoff if the mail server fails."""
    return f"receipt for order {order_id} sent to {email}"
