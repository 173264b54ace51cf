"""The tour's ``CustomBackend``, filled in: a dict behind the five primitives only.

It exercises the generic (scan-based) queue operations of ``Backend``.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Iterable
from typing import Any

from alsek.exceptions import KeyExistsError, NotFoundError
from alsek.storage.backends import Backend, LazyClient


class Client:
    """A toy in-memory database: name -> (encoded value, expiry)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, float | None]] = {}
        self.lock = threading.RLock()


class CustomBackend(Backend):
    def __init__(self, conn: Client | LazyClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._conn = conn

    @property
    def conn(self) -> Client:
        if isinstance(self._conn, LazyClient):  # lazy conn support
            self._conn = self._conn.get()
        return self._conn

    def _live(self, full: str) -> Any:
        item = self.conn.data.get(full)
        if item is None:
            return None
        value, expiry = item
        if expiry is not None and expiry <= time.time():
            del self.conn.data[full]
            return None
        return value

    def exists(self, name: str) -> bool:
        with self.conn.lock:
            return self._live(self.full_name(name)) is not None

    def set(self, name: str, value: Any, nx: bool = False, ttl: int | None = None) -> None:
        encoded = self.encode(name, value)
        with self.conn.lock:
            full = self.full_name(name)
            if nx and self._live(full) is not None:
                raise KeyExistsError(name)
            expiry = None if ttl is None else time.time() + ttl / 1000
            self.conn.data[full] = (encoded, expiry)

    def get(self, name: str) -> Any:
        with self.conn.lock:
            raw = self._live(self.full_name(name))
        if raw is None:
            raise NotFoundError(f"no value stored at {name!r}")
        return self.decode(name, raw)

    def delete(self, name: str, missing_ok: bool = False) -> None:
        with self.conn.lock:
            full = self.full_name(name)
            if self._live(full) is None:
                if not missing_ok:
                    raise NotFoundError(f"no value stored at {name!r}")
                return
            del self.conn.data[full]

    def scan(self, pattern: str | None = None) -> Iterable[str]:
        prefix = self.full_name("")
        with self.conn.lock:
            names = [
                self.short_name(k)
                for k in list(self.conn.data)
                if k.startswith(prefix) and self._live(k) is not None
            ]
        if pattern is None:
            return names
        if any(c in pattern for c in "*?["):
            return [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return [n for n in names if n == pattern or n.startswith(pattern + ":")]
