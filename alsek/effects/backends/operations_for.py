"""Which operations a backend gets: indexed ones for Redis and DiskCache, generic otherwise."""

from __future__ import annotations

from alsek.effects.backends.base import Backend
from alsek.effects.backends.disk import DiskCacheBackend
from alsek.effects.backends.disk_operations import DiskOperations
from alsek.effects.backends.operations import Operations
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.backends.redis_operations import RedisOperations


def operations_for(backend: Backend) -> Operations:
    """The operations of ``backend``: indexed for Redis and DiskCache, generic otherwise."""
    if isinstance(backend, RedisBackend):
        return RedisOperations(backend)
    if isinstance(backend, DiskCacheBackend):
        return DiskOperations(backend)
    return Operations(backend)
