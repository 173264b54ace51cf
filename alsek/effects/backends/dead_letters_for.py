"""Which dead-letter store a backend gets: indexed for Redis and DiskCache, a scan otherwise.

As in ``operations_for``, a backend's module is looked at only when loaded.
"""

from __future__ import annotations

import sys

from alsek.effects.backends.base import Backend
from alsek.effects.backends.dead_letters import DeadLetterStore


def dead_letters_for(backend: Backend) -> DeadLetterStore:
    """The dead-letter store of ``backend``."""
    if "alsek.effects.backends.redis" in sys.modules:
        from alsek.effects.backends.redis import RedisBackend

        if isinstance(backend, RedisBackend):
            from alsek.effects.backends.redis_dead_letters import RedisDeadLetters

            return RedisDeadLetters(backend)
    if "alsek.effects.backends.disk" in sys.modules:
        from alsek.effects.backends.disk import DiskCacheBackend

        if isinstance(backend, DiskCacheBackend):
            from alsek.effects.backends.disk_dead_letters import DiskDeadLetters

            return DiskDeadLetters(backend)
    return DeadLetterStore(backend)
