"""The DiskCache index of dead letters: one SQLite table next to the queue index.

A row per dead letter (namespace, message name, uuid, queue, when it failed,
when its record expires), written in the same transaction as the record, so
listing, counting and lookups by uuid read the table instead of the cache.
Rows of expired records are pruned as they are met (on every write and
read), so the table stays as small as the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alsek.exceptions import ValidationError
from alsek.pure.dead_letter import uuid_of
from alsek.pure.keys import parse_message_name

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alsek_dead (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uuid TEXT NOT NULL,
        queue TEXT,
        failed_at INTEGER NOT NULL,
        expire_at INTEGER,
        PRIMARY KEY (namespace, name))""",
    "CREATE INDEX IF NOT EXISTS alsek_dead_uuid ON alsek_dead (namespace, uuid)",
    "CREATE INDEX IF NOT EXISTS alsek_dead_time ON alsek_dead (namespace, failed_at)",
    "CREATE INDEX IF NOT EXISTS alsek_dead_expiry ON alsek_dead (namespace, expire_at)",
)

#: Runs one SQL statement with its parameters (the cache's own connection).
Sql = Callable[..., Any]


def queue_of(name: str) -> str | None:
    """The queue of a message name (None: not a message name)."""
    try:
        return parse_message_name(name)[0]
    except ValidationError:
        return None


def index(
    sql: Sql, namespace: str, name: str, failed_at: int, expire_at: int | None, now: int
) -> None:
    """Index the dead letter of the message ``name`` (replacing an older row), and
    prune a few rows whose records have expired."""
    sql(
        "INSERT OR REPLACE INTO alsek_dead (namespace, name, uuid, queue, failed_at, expire_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        namespace,
        name,
        uuid_of(name),
        queue_of(name),
        failed_at,
        expire_at,
    )
    prune(sql, namespace, now, limit=64)


def prune(sql: Sql, namespace: str, now: int, limit: int | None = None) -> None:
    """Drop the rows of records expired by ``now`` (at most ``limit`` of them)."""
    bound = "" if limit is None else f" LIMIT {int(limit)}"
    sql(
        "DELETE FROM alsek_dead WHERE rowid IN (SELECT rowid FROM alsek_dead "
        f"WHERE namespace = ? AND expire_at <= ?{bound})",
        namespace,
        now,
    )


def drop_orphans(sql: Sql, namespace: str, key_prefix: str) -> None:
    """Drop the rows whose record is gone from the cache (deleted behind the index's back);
    ``key_prefix`` is the cache key of a dead letter without its message name."""
    sql(
        "DELETE FROM alsek_dead WHERE namespace = ? AND NOT EXISTS "
        "(SELECT 1 FROM Cache WHERE Cache.key = ? || alsek_dead.name AND Cache.raw = 1)",
        namespace,
        key_prefix,
    )


def unindex(sql: Sql, namespace: str, names: list[str]) -> None:
    """Drop the rows of ``names``."""
    for name in names:
        sql("DELETE FROM alsek_dead WHERE namespace = ? AND name = ?", namespace, name)


def clear(sql: Sql, namespace: str) -> None:
    """Drop every row of ``namespace``."""
    sql("DELETE FROM alsek_dead WHERE namespace = ?", namespace)
