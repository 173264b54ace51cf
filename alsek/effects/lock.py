"""A distributed lock (a semaphore with ``limit`` slots) on any backend.

Each holder owns its slot by a random token (never the host name, so two
threads or processes on one machine can never both hold it); only the
token's owner releases it, and a ttl frees the slot of a holder that died.
Redis and DiskCache compare-and-delete atomically.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from alsek import defaults
from alsek.effects.backends.base import Backend
from alsek.effects.clock import new_token
from alsek.exceptions import ValidationError
from alsek.pure.durations import Duration, to_ms
from alsek.pure.keys import lock_slot_name
from alsek.pure.validate import DURATION_UNIT, check_int, check_optional_int

DEFAULT_LOCK_TTL = 60_000


class Lock:
    """Distributed mutual exclusion.

    Args:
        name: what is being locked.
        backend: where the lock lives.
        ttl: milliseconds (or a ``timedelta``) after which an unreleased slot
            frees itself (None: never; a crashed holder then blocks it for good).
        limit: how many holders at once (1: a mutex).

    ``with Lock(...) as lock:`` does not acquire by itself: call
    ``lock.acquire()`` inside and check its answer; leaving the block
    releases what this holder acquired.
    """

    def __init__(
        self,
        name: str,
        backend: Backend,
        ttl: Duration | None = DEFAULT_LOCK_TTL,
        limit: int = 1,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationError(f"Lock name must be a non-empty string, got {name!r}")
        check_int("Lock limit", limit, 1)
        ttl = check_optional_int(
            "Lock ttl", to_ms("Lock ttl", ttl), 1, defaults.MAX_TTL_MS, DURATION_UNIT
        )
        self.name = name
        self.backend = backend
        self.ttl = ttl
        self.limit = limit
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Lock(name={self.name!r}, limit={self.limit}, ttl={self.ttl})"

    @property
    def _holding(self) -> tuple[str, str] | None:
        return getattr(self._local, "holding", None)

    @property
    def held(self) -> bool:
        """Whether this thread holds a slot right now (the ttl may have lapsed)."""
        holding = self._holding
        if holding is None:
            return False
        slot, token = holding
        return bool(self.backend.get_or_none(slot) == token)

    def acquire(self, blocking: bool = False, timeout: Duration | None = None) -> bool:
        """Take a free slot. Returns True if this thread now holds the lock.

        With ``blocking``, retry until a slot frees or ``timeout`` (ms or a
        ``timedelta``) passes.
        """
        timeout = to_ms("Lock timeout", timeout)
        if self.held:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout / 1000
        pause = 0.005
        while True:
            token = new_token()
            for index in range(self.limit):
                slot = lock_slot_name(self.name, index)
                if self.backend.set_if_absent(slot, token, ttl=self.ttl):
                    self._local.holding = (slot, token)
                    return True
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def release(self) -> bool:
        """Release this thread's slot. False if it was not (or no longer) held."""
        holding = self._holding
        if holding is None:
            return False
        self._local.holding = None
        slot, token = holding
        return self.backend.compare_and_delete(slot, token)

    def extend(self, ttl: Duration | None = None) -> bool:
        """Push the expiry of this thread's slot ``ttl`` (ms or a ``timedelta``; default:
        the lock's ttl) out."""
        ttl = to_ms("Lock ttl", ttl)
        holding = self._holding
        if holding is None:
            return False
        slot, token = holding
        return self.backend.compare_and_expire(slot, token, ttl or self.ttl or DEFAULT_LOCK_TTL)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
