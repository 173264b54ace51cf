"""``DiskCacheStore``: values in a ``diskcache.Cache``; the schema of the queue index.

The queue operations are ``DiskCacheBackend``'s, in ``disk.py``.

Every queue operation runs inside ``Cache.transact()`` (``BEGIN IMMEDIATE``),
so it is atomic across threads and processes on one machine. The index is
one table next to DiskCache's own, written through the cache's connection so
that a message and its index row change in the same transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import diskcache

from alsek import defaults
from alsek.effects.backends import disk_dead_index as dead_index
from alsek.effects.backends.base import (
    Backend,
    is_glob,
)
from alsek.effects.backends.doorbell import Doorbell
from alsek.effects.backends.lazy import LazyClient
from alsek.effects.backends.payloads import decode_stored, encode_compact, is_message_name
from alsek.effects.serialization import Serializer
from alsek.exceptions import (
    BackendUnavailableError,
    KeyExistsError,
    NotFoundError,
    ValidationError,
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alsek_index (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        queue TEXT NOT NULL,
        mechanism TEXT NOT NULL,
        priority INTEGER NOT NULL,
        ready_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        tiebreak TEXT NOT NULL,
        state INTEGER NOT NULL,
        token TEXT,
        deadline INTEGER,
        deliveries INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (namespace, name))""",
    # The mechanism is part of the claim order's index: a claim for one mechanism
    # does not walk the ready rows of the other (an older file's index is replaced).
    "DROP INDEX IF EXISTS alsek_index_order",
    """CREATE INDEX IF NOT EXISTS alsek_index_claim ON alsek_index
        (namespace, queue, state, mechanism, priority, ready_at, created_at, tiebreak, name)""",
    """CREATE INDEX IF NOT EXISTS alsek_index_due ON alsek_index
        (namespace, queue, state, ready_at)""",
    """CREATE INDEX IF NOT EXISTS alsek_index_lease ON alsek_index
        (namespace, queue, state, deadline)""",
    *dead_index.SCHEMA,
)
READY, LEASED, DELAYED = 0, 1, 2

_doorbells: dict[str, Doorbell] = {}
_doorbells_lock = threading.Lock()


def _doorbell(path: str) -> Doorbell:
    """One doorbell per pipe path in this process (shared by its backends)."""
    with _doorbells_lock:
        bell = _doorbells.get(path)
        if bell is None:
            bell = _doorbells[path] = Doorbell(path)
        return bell


def default_directory() -> str:
    """``$ALSEK_DISKCACHE_DIR``, else ``$XDG_CACHE_HOME/alsek``, else ``~/.cache/alsek``."""
    explicit = os.environ.get("ALSEK_DISKCACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "alsek")


class DiskCacheStore(Backend):
    """The store half of ``DiskCacheBackend``: the cache, primitives, values and waiting."""

    def __init__(
        self,
        conn: str | os.PathLike[str] | diskcache.Cache | LazyClient | None = None,
        namespace: str = defaults.DEFAULT_NAMESPACE,
        serializer: Serializer | None = None,
    ) -> None:
        super().__init__(namespace=namespace, serializer=serializer)
        self._where: str | None = None
        if conn is None or isinstance(conn, (str, os.PathLike)):
            directory = str(conn) if conn is not None else default_directory()
            self._where = directory
            conn = LazyClient(lambda: self._open(directory))
        elif not isinstance(conn, (diskcache.Cache, LazyClient)):
            raise ValidationError(
                "DiskCacheBackend conn must be a directory, a diskcache.Cache or a LazyClient, "
                f"got {conn!r}"
            )
        self._conn: diskcache.Cache | LazyClient = conn
        self._schema_done = False
        self._schema_lock = threading.Lock()

    @staticmethod
    def _now(now: int, virtual: bool) -> int:
        """The time a lease is taken or renewed, read once the write lock is held: a
        claim that waited for the lock must not be granted a lease already spent."""
        return now if virtual else max(now, time.time_ns() // 1_000_000)

    def _timeout(self) -> float | None:
        """The cache's lock timeout in seconds (None before it is opened)."""
        if isinstance(self._conn, LazyClient):
            return None
        return float(self._conn.timeout)

    @staticmethod
    def _open(directory: str) -> diskcache.Cache:
        # No eviction: a queue must never silently drop a message.
        return diskcache.Cache(directory, eviction_policy="none", timeout=60)

    @property
    def conn(self) -> diskcache.Cache:
        """The cache (opened on first use when lazy)."""
        if isinstance(self._conn, LazyClient):
            try:
                self._conn = self._conn.get()
            except (OSError, sqlite3.Error) as error:
                raise BackendUnavailableError(
                    f"DiskCache cannot be opened ({error}); check the directory exists and is "
                    "writable"
                ) from error
        return self._conn

    @property
    def directory(self) -> str:
        """Where the SQLite file lives."""
        return str(self.conn.directory)

    def describe(self) -> str:
        """Where this backend stores data, for error messages."""
        if self._where is None and isinstance(self._conn, diskcache.Cache):
            self._where = str(self._conn.directory)
        return self._where or "(a lazy client, not yet opened)"

    def check(self) -> None:
        """Open the cache and its index: raises ``BackendUnavailableError`` when the
        directory cannot be opened or written, or the database stays locked."""
        with self._transact():
            pass

    def identity(self) -> tuple[Any, ...]:
        return ("diskcache", os.path.realpath(self.directory), self.namespace)

    def _sql(self, statement: str, *params: Any) -> sqlite3.Cursor:
        cursor: sqlite3.Cursor = self.conn._sql(statement, params)  # the cache's connection
        return cursor

    def _transact(self) -> Any:
        cache = self.conn
        with self._schema_lock:
            if not self._schema_done:
                with cache.transact():
                    for statement in _SCHEMA:
                        cache._sql(statement)
                self._schema_done = True
        return cache.transact()

    # -- queued messages: the compact form (payloads) -------------------------------

    def encode_message(self, name: str, data: Any) -> str | bytes:
        """A queued message's value: its compact form."""
        return encode_compact(self.encode, name, data)

    def decode(self, name: str | None, raw: str | bytes) -> Any:
        """Deserialize what is stored at ``name``; a queued message in its full form."""
        if is_message_name(name):
            return decode_stored(super().decode, str(name), raw)
        return super().decode(name, raw)

    # -- primitives --------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self.full_name(name) in self.conn

    def set(self, name: str, value: Any, nx: bool = False, ttl: int | None = None) -> None:
        encoded = self.encode(name, value)
        expire = None if ttl is None else ttl / 1000
        if nx:
            if not self.conn.add(self.full_name(name), encoded, expire=expire):
                raise KeyExistsError(name)
        else:
            self.conn.set(self.full_name(name), encoded, expire=expire)

    def get(self, name: str) -> Any:
        raw = self.conn.get(self.full_name(name), default=None)
        if raw is None:
            raise NotFoundError(f"no value stored at {name!r}")
        return self.decode(name, raw)

    def delete(self, name: str, missing_ok: bool = False) -> None:
        deleted = self.conn.delete(self.full_name(name))
        if not deleted and not missing_ok:
            raise NotFoundError(f"no value stored at {name!r}")

    def scan(self, pattern: str | None = None) -> Iterator[str]:
        now = time.time()
        if pattern is None or is_glob(pattern):
            glob = self.full_name(pattern or "*")
            rows = self._sql(
                "SELECT key FROM Cache WHERE key GLOB ? "
                "AND (expire_time IS NULL OR expire_time > ?)",
                glob,
                now,
            ).fetchall()
        else:
            rows = self._sql(
                "SELECT key FROM Cache WHERE (key = ? OR key GLOB ?) "
                "AND (expire_time IS NULL OR expire_time > ?)",
                self.full_name(pattern),
                self.full_name(pattern) + ":*",
                now,
            ).fetchall()
        return iter([self.short_name(row[0]) for row in rows if isinstance(row[0], str)])

    def clear_namespace(self) -> int:
        names = list(self.scan())
        with self._transact():
            for name in names:
                self.conn.delete(self.full_name(name))
            self._sql("DELETE FROM alsek_index WHERE namespace = ?", self.namespace)
            dead_index.clear(self._sql, self.namespace)
        return len(names)

    def compare_and_delete(self, name: str, value: Any) -> bool:
        with self._transact():
            raw = self.conn.get(self.full_name(name), default=None)
            if raw is None or self.decode(name, raw) != value:
                return False
            self.conn.delete(self.full_name(name))
            return True

    def compare_and_expire(self, name: str, value: Any, ttl: int) -> bool:
        with self._transact():
            raw = self.conn.get(self.full_name(name), default=None)
            if raw is None or self.decode(name, raw) != value:
                return False
            return bool(self.conn.touch(self.full_name(name), expire=ttl / 1000))

    # -- waiting -------------------------------------------------------------------

    def _bell(self, kind: str) -> Doorbell:
        return _doorbell(os.path.join(self.directory, f"alsek-{self.namespace}-{kind}.fifo"))

    def wait_for_work(
        self, queues: Sequence[str] | None, timeout_ms: int, wake_key: str | None = None
    ) -> None:
        if timeout_ms > 0:
            self._bell("work").wait(timeout_ms / 1000)

    def wake(self, wake_key: str) -> None:
        self._bell("work").ring()

    def _wake(self) -> None:
        self._bell("work").ring()

    def notify_value(self, name: str) -> None:
        self._bell("results").ring()

    def wait_for_value(self, name: str, timeout_ms: int, delete: bool = False) -> Any:
        deadline = time.monotonic() + timeout_ms / 1000
        bell = self._bell("results")
        while True:
            value = self.get_or_none(name)
            if value is not None:
                if delete:
                    self.delete(name, missing_ok=True)
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            bell.wait(min(remaining, 0.5))
