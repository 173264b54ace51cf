"""The SQLite rows behind DiskCache's queue operations: place, take, hold, forget.

Each helper runs inside the caller's ``Cache.transact()``. A claim is index
lookups only: the best ready row per mechanism (``alsek_index_claim``), and a
MIN per state for the next wake-up (``alsek_index_due``, ``alsek_index_lease``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alsek.effects.backends.disk_store import DELAYED, LEASED, READY, DiskCacheStore
from alsek.effects.backends.records import CorruptPayload, Encoded
from alsek.exceptions import DeserializationError
from alsek.pure.ordering import name_tail
from alsek.pure.queue_model import Claim, IndexEntry


class DiskCacheIndex(DiskCacheStore):
    """Row-level steps of the queue operations (all within one transaction)."""

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
        while True:
            # The best ready row of each mechanism, each one index lookup; then the best.
            best = None
            for wanted in dict.fromkeys(mechanisms):
                row = self._sql(
                    "SELECT priority, ready_at, created_at, tiebreak, name, mechanism "
                    "FROM alsek_index WHERE namespace = ? AND queue = ? AND state = ? "
                    "AND mechanism = ? "
                    "ORDER BY priority, ready_at, created_at, tiebreak, name LIMIT 1",
                    self.namespace,
                    queue,
                    READY,
                    wanted,
                ).fetchone()
                if row is not None and (best is None or tuple(row[:5]) < tuple(best[:5])):
                    best = row
            if best is None:
                return None
            name, mechanism = best[4], best[5]
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

    def _wake_time(self, queues: Sequence[str], now: int) -> int | None:
        """The earliest lease deadline, or ready time still to come (a due one is
        ready, for a consumer with no room for it), among ``queues``: one index
        lookup per queue and state (a MIN on each index's last column)."""
        times = []
        for queue in queues:
            for state, column in ((LEASED, "deadline"), (DELAYED, "ready_at")):
                after = -1 if state == LEASED else now
                row = self._sql(
                    f"SELECT MIN({column}) FROM alsek_index "
                    f"WHERE namespace = ? AND queue = ? AND state = ? AND {column} > ?",
                    self.namespace,
                    queue,
                    state,
                    after,
                ).fetchone()
                if row is not None and row[0] is not None:
                    times.append(int(row[0]))
        return min(times, default=None)

    def _holds(self, name: str, token: str | None) -> bool:
        row = self._row(name)
        if token is None:
            return row is not None or self.full_name(name) in self.conn
        return row is not None and row[1] == token

    def _forget(self, name: str) -> None:
        self._sql("DELETE FROM alsek_index WHERE namespace = ? AND name = ?", self.namespace, name)
        self.conn.delete(self.full_name(name))

