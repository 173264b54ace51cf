"""Which operations a backend gets: indexed ones for Redis and DiskCache, generic otherwise.

A backend's own module is imported whenever one of its objects exists, so each is
looked at only when loaded: a Redis worker does not import DiskCache, nor the other way.
"""

from __future__ import annotations

import sys

from alsek.effects.backends.base import Backend
from alsek.effects.backends.operations import Operations


def operations_for(backend: Backend) -> Operations:
    """The operations of ``backend``: indexed for Redis and DiskCache, generic otherwise."""
    if "alsek.effects.backends.redis" in sys.modules:
        from alsek.effects.backends.redis import RedisBackend

        if isinstance(backend, RedisBackend):
            from alsek.effects.backends.redis_operations import RedisOperations

            return RedisOperations(backend)
    if "alsek.effects.backends.disk" in sys.modules:
        from alsek.effects.backends.disk import DiskCacheBackend

        if isinstance(backend, DiskCacheBackend):
            from alsek.effects.backends.disk_operations import DiskOperations

            return DiskOperations(backend)
    return Operations(backend)
