"""DiskCache backend: the queue index in the cache's own SQLite file.

Every queue operation runs inside ``Cache.transact()`` (``BEGIN IMMEDIATE``),
so it is atomic across threads and processes on one machine. The index is
one table next to DiskCache's own (``disk_store.py`` has its schema), written
through the cache's connection so that a message and its index row change in
the same transaction. Claims are index lookups: per mechanism for the best
ready row, and a MIN per state for the next wake-up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import diskcache

from alsek.effects.backends import disk_dead_index as dead_index
from alsek.effects.backends.disk_errors import translate_public_methods
from alsek.effects.backends.disk_index import DiskCacheIndex
from alsek.effects.backends.disk_store import LEASED
from alsek.effects.backends.records import (
    ClaimBatch,
    ResultWrite,
    Submission,
)
from alsek.pure.keys import dead_letter_message_name
from alsek.pure.queue_model import (
    Claim,
    DeliveryChange,
    IndexEntry,
    LeaseRef,
    deliveries_after,
    delivery_update,
    open_kinds,
)

__all__ = ["DiskCacheBackend"]


@translate_public_methods
class DiskCacheBackend(DiskCacheIndex):
    """SQLite storage on one machine, through DiskCache.

    Args:
        conn: a directory, a ``diskcache.Cache``, a ``LazyClient`` returning
            one, or None for ``default_directory()`` (shared by every process
            of the user, so producers and the CLI worker meet there).
        namespace: prefix of every key.
        serializer: value encoding (JSON by default).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its directory (for task processes), not as open files."""
        where = self._where or (
            self._conn.directory if isinstance(self._conn, diskcache.Cache) else None
        )
        conn = self._conn if where is None else str(where)
        return DiskCacheBackend, (conn, self.namespace, self.serializer)

    # -- queue operations --------------------------------------------------------

    def known_queues(self) -> list[str]:
        with self._transact():
            rows = self._sql(
                "SELECT DISTINCT queue FROM alsek_index WHERE namespace = ?", self.namespace
            ).fetchall()
        return sorted(row[0] for row in rows)

    def enqueue(
        self, entry: IndexEntry, value: Any, now: int, nx: bool = True, virtual: bool = False
    ) -> bool:
        encoded = self.encode_message(entry.name, value)
        with self._transact():
            written = self._enqueue_locked(entry, encoded, now, nx)
        if written:
            self._wake()
        return written

    def enqueue_many(
        self, items: Sequence[tuple[IndexEntry, Any]], now: int, virtual: bool = False
    ) -> list[bool]:
        encoded = [(entry, self.encode_message(entry.name, value)) for entry, value in items]
        with self._transact():
            written = [self._enqueue_locked(entry, raw, now, True) for entry, raw in encoded]
        if any(written):
            self._wake()
        return written

    def claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        now: int,
        lease_ms: int,
        tokens: Sequence[str],
        acks: Sequence[LeaseRef] = (),
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
            for ack in acks:
                name, ack_token = ack.name, ack.token
                holds = self._holds(name, ack_token)
                if holds:
                    self._forget(name)
                acked.append(holds)
            for token in tokens:
                claim = None
                kinds = open_kinds(mechanisms, caps, taken)
                for queue in order:
                    if queue not in prepared:
                        self._prepare(queue, now)
                        prepared.add(queue)
                    if not kinds:
                        continue
                    claim = self._take(queue, kinds, now, lease_ms, token, decode)
                    if claim is not None:
                        break
                if claim is None:
                    break
                taken[claim.mechanism] = taken.get(claim.mechanism, 0) + 1
                claims.append(claim)
            wake = self._wake_time(order, now) if len(claims) < len(tokens) else None
        return ClaimBatch(tuple(claims), wake, tuple(acked))

    def renew(
        self, queue: str, name: str, token: str, now: int, lease_ms: int, virtual: bool = False
    ) -> bool:
        return self.renew_many([LeaseRef(queue, name, token)], now, lease_ms, virtual)[0]

    def renew_many(
        self,
        leases: Sequence[LeaseRef],
        now: int,
        lease_ms: int,
        virtual: bool = False,
    ) -> list[bool]:
        results = []
        with self._transact():
            now = self._now(now, virtual)
            for ref in leases:
                name, token = ref.name, ref.token
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
        encoded = self.encode_message(name, value)
        with self._transact():
            if not self._holds(name, token):
                return False
            row = self._row(name)
            count = row[2] if row else 0
            count = deliveries_after(count, delivery_update(deliveries))
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
        failed_at: int | None = None,
    ) -> bool:
        """Move a message to ``dlq_name``, indexed (``disk_dead_index``) when it is a
        ``dlq:`` name, in one transaction (or just drop it when None)."""
        encoded = self.encode(dlq_name, dlq_value) if dlq_name is not None else None
        member = dead_letter_message_name(dlq_name) if dlq_name is not None else None
        with self._transact():
            if not self._holds(name, token):
                return False
            if dlq_name is not None:
                expire = None if dlq_ttl is None else dlq_ttl / 1000
                self.conn.set(self.full_name(dlq_name), encoded, expire=expire)
            if member is not None:
                now = time.time_ns() // 1_000_000
                expire_at = None if dlq_ttl is None else now + dlq_ttl
                when = now if failed_at is None else failed_at
                dead_index.index(self._sql, self.namespace, member, when, expire_at, now)
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
        submitted = (
            None if callback is None else self.encode_message(callback.entry.name, callback.value)
        )
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
