"""Dead letters on DiskCache, read from the ``alsek_dead`` table (``disk_dead_index``).

Rows are written in the transaction that writes the record. Records written
before the table existed have no row: the first read in a namespace without
the marker ``deadletters:indexed`` indexes every ``dlq:queues:*`` record once
(a range of the cache's key index) and sets it; ``reindex`` does the same on
demand.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from alsek.effects.backends import disk_dead_index as dead_index
from alsek.effects.backends.dead_letters import DeadLetterStore, Entry, raw_text
from alsek.effects.backends.disk import DiskCacheBackend
from alsek.effects.backends.disk_errors import translate_public_methods
from alsek.exceptions import DeserializationError
from alsek.pure.dead_letter import DeadLetterRecord, read_record, unreadable
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.keys import dead_letter_message_name, dead_letter_name, dead_letters_pattern

MARKER = "deadletters:indexed"


def _now() -> int:
    return time.time_ns() // 1_000_000


@translate_public_methods
class DiskDeadLetters(DeadLetterStore):
    """Dead letters read from the DiskCache index table."""

    indexed = True
    backend: DiskCacheBackend

    def describe(self) -> str:
        """Where the backend is (for errors)."""
        return self.backend.describe()

    def _timeout(self) -> float | None:
        return self.backend._timeout()

    def _ready(self) -> None:
        """Build the index first if this namespace never had it."""
        if self.backend.full_name(MARKER) not in self.backend.conn:
            self.reindex()

    def _select(self, where: str, *params: object) -> list[Entry]:
        backend = self.backend
        self._ready()
        now = _now()
        with backend._transact():
            dead_index.prune(backend._sql, backend.namespace, now)
            rows = backend._sql(
                f"SELECT name, failed_at FROM alsek_dead WHERE namespace = ?{where} "
                "ORDER BY failed_at, name",
                backend.namespace,
                *params,
            ).fetchall()
        return [(str(row[0]), int(row[1])) for row in rows]

    def entries(self, where: DeadLetterFilter) -> list[Entry]:
        clauses, params = "", list[object]()
        if where.queue is not None:
            clauses += " AND queue = ?"
            params.append(where.queue)
        if where.since is not None:
            clauses += " AND failed_at >= ?"
            params.append(where.since)
        found = self._select(clauses, *params)
        return [(name, at) for name, at in found if where.admits_name(name)]

    def lookup(self, uuid: str) -> list[Entry]:
        return self._select(" AND uuid = ?", uuid)

    def counts(self) -> dict[str, int]:
        backend = self.backend
        self._ready()
        with backend._transact():
            dead_index.prune(backend._sql, backend.namespace, _now())
            dead_index.drop_orphans(backend._sql, backend.namespace, backend.full_name("dlq:"))
            rows = backend._sql(
                "SELECT COALESCE(queue, '?'), COUNT(*) FROM alsek_dead WHERE namespace = ? "
                "GROUP BY queue",
                backend.namespace,
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def read(self, entries: Sequence[Entry]) -> list[DeadLetterRecord]:
        backend = self.backend
        records: list[DeadLetterRecord] = []
        gone: list[str] = []
        with backend._transact():
            for name, failed_at in entries:
                raw = backend.conn.get(backend.full_name(dead_letter_name(name)), default=None)
                if raw is None:
                    gone.append(name)
                    continue
                try:
                    value = backend.decode(dead_letter_name(name), raw)
                except DeserializationError as error:
                    problem = f"undecodable: {error}"
                    records.append(unreadable(name, problem, raw_text(raw), failed_at))
                    continue
                records.append(read_record(name, value, failed_at))
            dead_index.unindex(backend._sql, backend.namespace, gone)
        return records

    def drop(self, names: Sequence[str], also: Iterable[str] = ()) -> int:
        backend = self.backend
        dropped = 0
        with backend._transact():
            for name in names:
                dropped += bool(backend.conn.delete(backend.full_name(dead_letter_name(name))))
            dead_index.unindex(backend._sql, backend.namespace, list(names))
            for other in also:
                backend.conn.delete(backend.full_name(other))
        return dropped

    def reindex(self) -> int:
        backend = self.backend
        added = 0
        with backend._transact():
            now = _now()
            for key in backend.scan(dead_letters_pattern()):
                name = dead_letter_message_name(key)
                raw = backend.conn.get(backend.full_name(key), default=None, expire_time=True)
                value, expire_time = raw
                if name is None or value is None:
                    continue
                try:
                    failed_at = read_record(name, backend.decode(key, value)).failed_at
                except DeserializationError:
                    failed_at = 0
                expire_at = None if expire_time is None else int(expire_time * 1000)
                dead_index.index(backend._sql, backend.namespace, name, failed_at, expire_at, now)
                added += 1
            backend.conn.set(backend.full_name(MARKER), 1)
        return added
