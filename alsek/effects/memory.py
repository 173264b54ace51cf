"""An in-memory backend for tests: a dict behind the five primitives.

Values are serialized on the way in, exactly as on Redis or DiskCache, so a
task argument or a result that a real backend would refuse is refused here
too. Queue operations are the generic ones of ``Backend`` (the same code a
custom backend runs, held to the queue model by the integration tests):
every claim scans the namespace, which is quick at the size of a unit test.
ttls are read against ``clock``, so a test with a ``ManualClock`` can move
time forward and watch results and locks expire.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable
from typing import Any

from alsek import defaults
from alsek.effects.backends.base import Backend, is_glob
from alsek.effects.clock import Clock, system_clock
from alsek.effects.serialization import Serializer
from alsek.exceptions import KeyExistsError, NotFoundError


class MemoryBackend(Backend):
    """A backend that lives in this process's memory (nothing is shared or kept).

    Args:
        namespace: prefix of every name.
        serializer: encodes values; ``JsonSerializer()`` by default.
        clock: reads the time for ttls (ms).
    """

    def __init__(
        self,
        namespace: str = defaults.DEFAULT_NAMESPACE,
        serializer: Serializer | None = None,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(namespace, serializer)
        self.clock = clock
        self._data: dict[str, tuple[Any, int | None]] = {}
        self._lock = threading.RLock()

    def _live(self, full: str) -> Any:
        """The encoded value at ``full``, dropping it if it expired (call under the lock)."""
        item = self._data.get(full)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self.clock.now():
            del self._data[full]
            return None
        return value

    def exists(self, name: str) -> bool:
        with self._lock:
            return self._live(self.full_name(name)) is not None

    def set(self, name: str, value: Any, nx: bool = False, ttl: int | None = None) -> None:
        encoded = self.encode(name, value)
        with self._lock:
            full = self.full_name(name)
            if nx and self._live(full) is not None:
                raise KeyExistsError(name)
            self._data[full] = (encoded, None if ttl is None else self.clock.now() + ttl)

    def get(self, name: str) -> Any:
        with self._lock:
            raw = self._live(self.full_name(name))
        if raw is None:
            raise NotFoundError(f"no value stored at {name!r}")
        return self.decode(name, raw)

    def delete(self, name: str, missing_ok: bool = False) -> None:
        with self._lock:
            full = self.full_name(name)
            if self._live(full) is None:
                if not missing_ok:
                    raise NotFoundError(f"no value stored at {name!r}")
                return
            del self._data[full]

    def scan(self, pattern: str | None = None) -> Iterable[str]:
        prefix = self.full_name("")
        with self._lock:
            names = [
                self.short_name(full)
                for full in list(self._data)
                if full.startswith(prefix) and self._live(full) is not None
            ]
        if pattern is None:
            return names
        if is_glob(pattern):
            return [name for name in names if fnmatch.fnmatchcase(name, pattern)]
        return [name for name in names if name == pattern or name.startswith(pattern + ":")]

    def compare_and_delete(self, name: str, value: Any) -> bool:
        """Delete ``name`` if it holds ``value`` (atomic here: one lock)."""
        with self._lock:
            return super().compare_and_delete(name, value)

    def compare_and_expire(self, name: str, value: Any, ttl: int) -> bool:
        """Reset the ttl of ``name`` if it holds ``value`` (atomic here: one lock)."""
        with self._lock:
            return super().compare_and_expire(name, value, ttl)
