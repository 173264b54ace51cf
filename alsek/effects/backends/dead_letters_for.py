"""Which dead-letter store a backend gets: indexed for Redis and DiskCache, a scan otherwise."""

from __future__ import annotations

from alsek.effects.backends.base import Backend
from alsek.effects.backends.dead_letters import DeadLetterStore
from alsek.effects.backends.disk import DiskCacheBackend
from alsek.effects.backends.disk_dead_letters import DiskDeadLetters
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.backends.redis_dead_letters import RedisDeadLetters


def dead_letters_for(backend: Backend) -> DeadLetterStore:
    """The dead-letter store of ``backend``."""
    if isinstance(backend, RedisBackend):
        return RedisDeadLetters(backend)
    if isinstance(backend, DiskCacheBackend):
        return DiskDeadLetters(backend)
    return DeadLetterStore(backend)
