"""DiskCache backend: values in a ``diskcache.Cache``, the queue index in the same SQLite file.

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
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import diskcache

from alsek import defaults
from alsek.effects.backends.base import (
    Backend,
    ClaimBatch,
    CorruptPayload,
    Encoded,
    ResultWrite,
    Submission,
    is_glob,
)
from alsek.effects.backends.disk_errors import translate_public_methods
from alsek.effects.backends.doorbell import Doorbell
from alsek.effects.backends.lazy import LazyClient
from alsek.effects.serialization import Serializer
from alsek.exceptions import (
    BackendUnavailableError,
    DeserializationError,
    KeyExistsError,
    NotFoundError,
    ValidationError,
)
from alsek.pure.ordering import name_tail
from alsek.pure.queue_model import Claim, DeliveryChange, IndexEntry, open_kinds

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
    """CREATE INDEX IF NOT EXISTS alsek_index_order ON alsek_index
        (namespace, queue, state, priority, ready_at, created_at, tiebreak, name)""",
    """CREATE INDEX IF NOT EXISTS alsek_index_due ON alsek_index
        (namespace, queue, state, ready_at)""",
    """CREATE INDEX IF NOT EXISTS alsek_index_lease ON alsek_index
        (namespace, queue, state, deadline)""",
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


@translate_public_methods
class DiskCacheBackend(Backend):
    """SQLite storage on one machine, through DiskCache.

    Args:
        conn: a directory, a ``diskcache.Cache``, a ``LazyClient`` returning
            one, or None for ``default_directory()`` (shared by every process
            of the user, so producers and the CLI worker meet there).
        namespace: prefix of every key.
        serializer: value encoding (JSON by default).
    """

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
        self._schema_ready: weakref.WeakSet[Any] = weakref.WeakSet()
        self._schema_lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its directory (for task processes), not as open files."""
        where = self._where or (
            self._conn.directory if isinstance(self._conn, diskcache.Cache) else None
        )
        conn = self._conn if where is None else str(where)
        return DiskCacheBackend, (conn, self.namespace, self.serializer)

    @staticmethod
    def _now(now: int, virtual: bool) -> int:
        """The time a lease is taken or renewed, read once the write lock is held: a
        claim that waited for the lock must not be granted a lease already spent."""
        return now if virtual else max(now, time.time_ns() // 1_000_000)

    def _timeout(self) -> float | None:
        timeout = getattr(self._conn, "_timeout", None)
        return None if timeout is None else float(timeout)

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
            if not getattr(self, "_schema_done", False):
                with cache.transact():
                    for statement in _SCHEMA:
                        cache._sql(statement)
                self._schema_done = True
        return cache.transact()

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

    # -- queue operations --------------------------------------------------------

    def known_queues(self) -> list[str]:
        with self._transact():
            rows = self._sql(
                "SELECT DISTINCT queue FROM alsek_index WHERE namespace = ?", self.namespace
            ).fetchall()
        return sorted(row[0] for row in rows)

    def _place(self, entry: IndexEntry, now: int, deliveries: int) -> None:
        self._sql(
            "INSERT OR REPLACE INTO alsek_index (namespace, name, queue, mechanism, priority, "
            "ready_at, created_at, tiebreak, state, token, deadline, deliveries) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
            self.namespace,
            entry.name,
            entry.queue,
            entry.mechanism,
            entry.priority,
            entry.ready_at,
            entry.created_at,
            name_tail(entry.name),
            READY if entry.ready_at <= now else DELAYED,
            deliveries,
        )

    def enqueue(
        self, entry: IndexEntry, value: Any, now: int, nx: bool = True, virtual: bool = False
    ) -> bool:
        encoded = self.encode(entry.name, value)
        with self._transact():
            written = self._enqueue_locked(entry, encoded, now, nx)
        if written:
            self._wake()
        return written

    def _enqueue_locked(self, entry: IndexEntry, encoded: Any, now: int, nx: bool) -> bool:
        key = self.full_name(entry.name)
        if nx:
            if not self.conn.add(key, encoded):
                return False
        else:
            self.conn.set(key, encoded)
        row = self._row(entry.name)
        self._place(entry, now, row[2] if row else 0)
        return True

    def _row(self, name: str) -> tuple[str, str | None, int] | None:
        row = self._sql(
            "SELECT queue, token, deliveries FROM alsek_index WHERE namespace = ? AND name = ?",
            self.namespace,
            name,
        ).fetchone()
        return None if row is None else (row[0], row[1], int(row[2]))

    def _prepare(self, queue: str, now: int) -> None:
        self._sql(
            "UPDATE alsek_index SET state = ? WHERE namespace = ? AND queue = ? AND state = ? "
            "AND ready_at <= ?",
            READY,
            self.namespace,
            queue,
            DELAYED,
            now,
        )
        self._sql(
            "UPDATE alsek_index SET state = ?, token = NULL, deadline = NULL "
            "WHERE namespace = ? AND queue = ? AND state = ? AND deadline <= ?",
            READY,
            self.namespace,
            queue,
            LEASED,
            now,
        )

    def _take(
        self,
        queue: str,
        mechanisms: Sequence[str],
        now: int,
        lease_ms: int,
        token: str,
        decode: bool = True,
    ) -> Claim | None:
        marks = ",".join("?" for _ in mechanisms)
        while True:
            row = self._sql(
                "SELECT name, mechanism FROM alsek_index "
                "WHERE namespace = ? AND queue = ? AND state = ? "
                f"AND mechanism IN ({marks}) "
                "ORDER BY priority, ready_at, created_at, tiebreak, name LIMIT 1",
                self.namespace,
                queue,
                READY,
                *mechanisms,
            ).fetchone()
            if row is None:
                return None
            name, mechanism = row
            raw = self.conn.get(self.full_name(name), default=None)
            if raw is None:  # vanished behind the index's back
                self._sql(
                    "DELETE FROM alsek_index WHERE namespace = ? AND name = ?", self.namespace, name
                )
                continue
            self._sql(
                "UPDATE alsek_index SET state = ?, token = ?, deadline = ?, "
                "deliveries = deliveries + 1 WHERE namespace = ? AND name = ?",
                LEASED,
                token,
                now + lease_ms,
                self.namespace,
                name,
            )
            deliveries = self._row(name)[2]  # type: ignore[index]
            payload: Any = Encoded(raw)
            if decode:
                try:
                    payload = self.decode(name, raw)
                except DeserializationError as error:
                    payload = CorruptPayload(raw, str(error))
            return Claim(name, queue, payload, token, deliveries, now + lease_ms, mechanism)

    def claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        now: int,
        lease_ms: int,
        tokens: Sequence[str],
        acks: Sequence[tuple[str, str, str]] = (),
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        order = list(queues) if queues is not None else self.known_queues()
        claims: list[Claim] = []
        taken: dict[str, int] = {}
        prepared: set[str] = set()
        acked = []
        with self._transact():
            now = self._now(now, virtual)
            for _queue, name, ack_token in acks:
                holds = self._holds(name, ack_token)
                if holds:
                    self._forget(name)
                acked.append(holds)
            for token in tokens:
                claim = None
                kinds = open_kinds(mechanisms, caps, taken)
                for queue in order if kinds else ():
                    if queue not in prepared:
                        self._prepare(queue, now)
                        prepared.add(queue)
                    claim = self._take(queue, kinds, now, lease_ms, token, decode)
                    if claim is not None:
                        break
                if claim is None:
                    break
                taken[claim.mechanism] = taken.get(claim.mechanism, 0) + 1
                claims.append(claim)
            wake = None
            if len(claims) < len(tokens) and order:
                marks = ",".join("?" for _ in order)
                row = self._sql(
                    "SELECT MIN(CASE WHEN state = ? THEN deadline ELSE ready_at END) "
                    f"FROM alsek_index WHERE namespace = ? AND queue IN ({marks}) "
                    "AND state IN (?, ?)",
                    LEASED,
                    self.namespace,
                    *order,
                    LEASED,
                    DELAYED,
                ).fetchone()
                wake = None if row is None or row[0] is None else int(row[0])
        return ClaimBatch(tuple(claims), wake, tuple(acked))

    def renew(
        self, queue: str, name: str, token: str, now: int, lease_ms: int, virtual: bool = False
    ) -> bool:
        return self.renew_many([(queue, name, token)], now, lease_ms, virtual)[0]

    def renew_many(
        self,
        leases: Sequence[tuple[str, str, str]],
        now: int,
        lease_ms: int,
        virtual: bool = False,
    ) -> list[bool]:
        results = []
        with self._transact():
            now = self._now(now, virtual)
            for _queue, name, token in leases:
                cursor = self._sql(
                    "UPDATE alsek_index SET deadline = ? WHERE namespace = ? AND name = ? "
                    "AND state = ? AND token = ?",
                    now + lease_ms,
                    self.namespace,
                    name,
                    LEASED,
                    token,
                )
                results.append(cursor.rowcount == 1)
        return results

    def _holds(self, name: str, token: str | None) -> bool:
        row = self._row(name)
        if token is None:
            return row is not None or self.full_name(name) in self.conn
        return row is not None and row[1] == token

    def _forget(self, name: str) -> None:
        self._sql("DELETE FROM alsek_index WHERE namespace = ? AND name = ?", self.namespace, name)
        self.conn.delete(self.full_name(name))

    def ack(self, queue: str, name: str, token: str | None) -> bool:
        with self._transact():
            if not self._holds(name, token):
                return False
            self._forget(name)
            return True

    def release(
        self,
        queue: str,
        name: str,
        token: str | None,
        entry: IndexEntry,
        value: Any,
        deliveries: DeliveryChange = "keep",
        now: int = 0,
        virtual: bool = False,
    ) -> bool:
        encoded = self.encode(name, value)
        with self._transact():
            if not self._holds(name, token):
                return False
            row = self._row(name)
            count = row[2] if row else 0
            count = {"keep": count, "reset": 0, "uncount": max(count - 1, 0)}[deliveries]
            self.conn.set(self.full_name(name), encoded)
            self._place(entry, now, count)
        if entry.ready_at <= now:
            self._wake()
        return True

    def dead_letter(
        self,
        queue: str,
        name: str,
        token: str | None,
        dlq_name: str | None,
        dlq_value: Any,
        dlq_ttl: int | None,
    ) -> bool:
        encoded = self.encode(dlq_name, dlq_value) if dlq_name is not None else None
        with self._transact():
            if not self._holds(name, token):
                return False
            if dlq_name is not None:
                expire = None if dlq_ttl is None else dlq_ttl / 1000
                self.conn.set(self.full_name(dlq_name), encoded, expire=expire)
            self._forget(name)
            return True

    def settle(
        self,
        queue: str,
        name: str,
        token: str | None,
        result: ResultWrite | None,
        callback: Submission | None,
        now: int,
        virtual: bool = False,
    ) -> bool:
        """Write a result (once), submit a callback and ack, in one transaction."""
        encoded = None if result is None else self.encode(result.name, result.value)
        extras = [] if result is None else [(n, self.encode(n, v)) for n, v in result.extra]
        submitted = None if callback is None else self.encode(callback.entry.name, callback.value)
        with self._transact():
            if not self._holds(name, token):
                return False
            if result is not None:
                expire = None if result.ttl is None else result.ttl / 1000
                if self.conn.add(self.full_name(result.name), encoded, expire=expire):
                    for extra_name, extra_encoded in extras:
                        self.conn.set(self.full_name(extra_name), extra_encoded, expire=expire)
            if callback is not None:
                self._enqueue_locked(callback.entry, submitted, now, nx=True)
            self._forget(name)
        if result is not None:
            self.notify_value(result.name)
        if callback is not None:
            self._wake()
        return True

    def queue_counts(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        with self._transact():
            rows = self._sql(
                "SELECT CASE WHEN state = ? THEN 'leased' WHEN ready_at <= ? THEN 'ready' "
                "ELSE 'delayed' END AS s, COUNT(*) FROM alsek_index "
                "WHERE namespace = ? AND queue = ? GROUP BY s",
                LEASED,
                now,
                self.namespace,
                queue,
            ).fetchall()
        tally = {"ready": 0, "delayed": 0, "leased": 0}
        tally.update({row[0]: int(row[1]) for row in rows})
        return tally
