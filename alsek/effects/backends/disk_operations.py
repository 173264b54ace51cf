"""Operations on DiskCache, from its SQLite index: no scan of the whole cache.

Worker records are ordinary cache entries under ``workers:``, found with a
range query on the cache's own key index (expired entries excluded).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from alsek.effects.backends.disk import DiskCacheBackend
from alsek.effects.backends.disk_errors import translate_public_methods
from alsek.effects.backends.disk_store import DELAYED, LEASED, READY
from alsek.effects.backends.operations import WORKERS_PREFIX, Operations, Place
from alsek.exceptions import DeserializationError
from alsek.pure.cancel import cancel_marker_name


@translate_public_methods
class DiskOperations(Operations):
    """Operations read from the DiskCache index table and the cache's key index."""

    backend: DiskCacheBackend

    def describe(self) -> str:
        return self.backend.describe()

    def _timeout(self) -> float | None:
        return self.backend._timeout()

    def oldest_ready_age(self, queue: str, now: int, virtual: bool = False) -> int | None:
        with self.backend._transact():
            row = self.backend._sql(
                "SELECT MIN(ready_at) FROM alsek_index WHERE namespace = ? AND queue = ? "
                "AND state IN (?, ?) AND ready_at <= ?",
                self.backend.namespace,
                queue,
                READY,
                DELAYED,
                now,
            ).fetchone()
        return None if row is None or row[0] is None else now - int(row[0])

    def ready_by_mechanism(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        with self.backend._transact():
            rows = self.backend._sql(
                "SELECT mechanism, COUNT(*) FROM alsek_index WHERE namespace = ? AND queue = ? "
                "AND state != ? AND ready_at <= ? GROUP BY mechanism",
                self.backend.namespace,
                queue,
                LEASED,
                now,
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows if row[1]}

    def find(self, uuid: str) -> list[str]:
        with self.backend._transact():
            rows = self.backend._sql(
                "SELECT name FROM alsek_index WHERE namespace = ? AND tiebreak = ?",
                self.backend.namespace,
                uuid,
            ).fetchall()
        names = {str(row[0]) for row in rows}
        return sorted(names)

    def place(self, name: str, now: int, virtual: bool = False) -> Place | None:
        with self.backend._transact():
            row = self.backend._sql(
                "SELECT state, ready_at, deadline, deliveries FROM alsek_index "
                "WHERE namespace = ? AND name = ?",
                self.backend.namespace,
                name,
            ).fetchone()
        if row is None:
            return None
        state, ready_at, deadline, deliveries = int(row[0]), int(row[1]), row[2], int(row[3])
        if state == LEASED and deadline is not None and int(deadline) > now:
            return Place("running", deliveries, ready_at - now, int(deadline) - now)
        kind = "ready" if ready_at <= now else "delayed"
        return Place(kind, deliveries, ready_at - now)

    def cancel_waiting(self, queue: str, name: str, now: int, virtual: bool = False) -> str:
        with self.backend._transact():
            row = self.backend._sql(
                "SELECT state, deadline FROM alsek_index WHERE namespace = ? AND name = ?",
                self.backend.namespace,
                name,
            ).fetchone()
            leased = row is not None and int(row[0]) == LEASED and row[1] is not None
            if leased and int(row[1]) > now:
                return "running"
            if row is None and self.backend.full_name(name) not in self.backend.conn:
                return "missing"
            self.backend._forget(name)
        return "removed"

    def cancel_requested(self, names: Sequence[str]) -> list[bool]:
        if not names:
            return []
        keys = [self.backend.full_name(cancel_marker_name(name)) for name in names]
        marks = ",".join("?" for _ in keys)
        rows = self.backend._sql(
            f"SELECT key FROM Cache WHERE key IN ({marks}) "
            "AND (expire_time IS NULL OR expire_time > ?)",
            *keys,
            time.time(),
        ).fetchall()
        found = {row[0] for row in rows}
        return [key in found for key in keys]

    def workers(self) -> list[Any]:
        low = self.backend.full_name(f"{WORKERS_PREFIX}:")
        high = low[:-1] + chr(ord(low[-1]) + 1)
        rows = self.backend._sql(
            "SELECT key FROM Cache WHERE key >= ? AND key < ? "
            "AND (expire_time IS NULL OR expire_time > ?)",
            low,
            high,
            time.time(),
        ).fetchall()
        records = []
        for (key,) in rows:
            if not isinstance(key, str):
                continue
            try:
                value = self.backend.get_or_none(self.backend.short_name(key))
            except DeserializationError:
                continue
            if value is not None:
                records.append(value)
        return records
