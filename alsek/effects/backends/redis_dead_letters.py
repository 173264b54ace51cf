"""Dead letters on Redis, read from their index: no scan of the keyspace.

Inside namespace ``ns``, each queue ``q`` has its own index, in the queue's slot
(written by the ``DEAD_LETTER`` script, atomically with the record itself)::

    ns:deadletters:{ns:q}:by_time     ZSET  score = when it failed (ms), member = message name
    ns:deadletters:{ns:q}:by_expiry   ZSET  score = when its record expires (server ms)
    ns:deadletters:{ns:q}:by_uuid     ZSET  score 0, member = "uuid|name" (lookups by uuid)
    ns:deadletters:indexed            STRING  present once the indexes cover every record

A read runs one script per known queue, in one pipeline (on a cluster, each shard
answers for its queues). Records expire (``dlq_ttl``); their entries are pruned when
a script meets them: a few on every dead letter written, all of a queue's before
every read of it.

Records written before the index existed have no entries. The first read in a
namespace without ``ns:deadletters:indexed`` indexes every ``dlq:queues:*`` record
once (one scan) and sets it; ``reindex`` (``alsek deadletters reindex``) does the
same on demand, e.g. after an older Alsek wrote dead letters into the same namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alsek.effects.backends.dead_letters import DeadLetterStore, Entry, raw_text
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.backends.redis_errors import unavailable
from alsek.exceptions import DeserializationError, ValidationError
from alsek.pure.dead_letter import DeadLetterRecord, read_record, unreadable
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.keys import (
    dead_letter_message_name,
    dead_letter_name,
    dead_letters_pattern,
    parse_message_name,
)
from alsek.pure.redis_keys import dead_letters_indexed_key, registry_key

#: Keys read or written per round trip.
CHUNK = 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(raw: Sequence[Any]) -> list[Entry]:
    return [(_text(raw[i]), int(float(raw[i + 1]))) for i in range(0, len(raw), 2)]


def _queue_of(name: str) -> str | None:
    try:
        return parse_message_name(name)[0]
    except ValidationError:
        return None


class RedisDeadLetters(DeadLetterStore):
    """Dead letters read from the Redis indexes, one per queue."""

    indexed = True
    backend: RedisBackend

    def describe(self) -> str:
        """Where the backend is (for errors)."""
        return self.backend.describe()

    def _each_queue(
        self, name: str, *args: Any, queues: Sequence[str] | None = None
    ) -> list[tuple[str, Any]]:
        """The answers of read script ``name`` for each queue (every known one by
        default), building the index first if it is not built."""
        if not self.backend.conn.exists(dead_letters_indexed_key(self.backend.namespace)):
            self.reindex()
        names = list(queues) if queues is not None else self.backend.known_queues()
        replies = self.backend._run_many([(name, [q, *args], q) for q in names])
        return list(zip(names, replies, strict=True))

    @unavailable
    def entries(self, where: DeadLetterFilter) -> list[Entry]:
        since = "" if where.since is None else where.since
        queues = None if where.queue is None else [where.queue]
        found = [pair for _, raw in self._each_queue("dlq_list", since, queues=queues)
                 for pair in _pairs(raw)]
        found.sort(key=lambda pair: (pair[1], pair[0]))
        return [(name, at) for name, at in found if where.admits_name(name)]

    @unavailable
    def lookup(self, uuid: str) -> list[Entry]:
        found = [pair for _, raw in self._each_queue("dlq_lookup", uuid) for pair in _pairs(raw)]
        return sorted(found)

    @unavailable
    def counts(self) -> dict[str, int]:
        return {q: int(n) for q, n in self._each_queue("dlq_counts") if int(n)}

    @unavailable
    def read(self, entries: Sequence[Entry]) -> list[DeadLetterRecord]:
        records: list[DeadLetterRecord] = []
        gone: list[str] = []
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start : start + CHUNK]
            keys = [self.backend.full_name(dead_letter_name(name)) for name, _ in chunk]
            for (name, failed_at), raw in zip(chunk, self.backend._mget(keys), strict=True):
                if raw is None:
                    gone.append(name)
                    continue
                try:
                    value = self.backend.decode(dead_letter_name(name), raw)
                except DeserializationError as error:
                    problem = f"undecodable: {error}"
                    records.append(unreadable(name, problem, raw_text(raw), failed_at))
                    continue
                records.append(read_record(name, value, failed_at))
        if gone:  # expired or deleted behind the index's back
            self.drop(gone)
        return records

    @unavailable
    def drop(self, names: Sequence[str], also: Iterable[str] = ()) -> int:
        groups: dict[str, list[str]] = {}
        known: list[str] | None = None
        for name in names:
            queue = _queue_of(name)
            if queue is None:  # not a message name: whichever index holds it
                known = self.backend.known_queues() if known is None else known
                for each in known:
                    groups.setdefault(each, []).append(name)
            else:
                groups.setdefault(queue, []).append(name)
        calls = [
            ("dlq_drop", [queue, *group[start : start + CHUNK]], queue)
            for queue, group in groups.items()
            for start in range(0, len(group), CHUNK)
        ]
        dropped = sum(int(n) for n in self.backend._run_many(calls)) if calls else 0
        others = [self.backend.full_name(name) for name in also]
        for start in range(0, len(others), CHUNK):
            self.backend.conn.unlink(*others[start : start + CHUNK])
        return dropped

    @unavailable
    def reindex(self) -> int:
        backend = self.backend
        names = list(backend.scan(dead_letters_pattern()))
        added = 0
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            pipe = backend.conn.pipeline(transaction=False)
            for name in chunk:
                pipe.get(backend.full_name(name))
                pipe.pttl(backend.full_name(name))
            answers = pipe.execute()
            groups: dict[str, list[Any]] = {}
            for i, name in enumerate(chunk):
                raw, ttl = answers[2 * i], answers[2 * i + 1]
                message = dead_letter_message_name(name)
                queue = None if message is None else _queue_of(message)
                if raw is None or message is None or queue is None:
                    continue
                ttl_ms = int(ttl) if int(ttl) > 0 else -1
                groups.setdefault(queue, []).extend(
                    [message, self._failed_at(message, raw), ttl_ms]
                )
            if groups:
                backend.conn.sadd(registry_key(backend.namespace), *groups)
                calls = [("dlq_index", [queue, *args], queue) for queue, args in groups.items()]
                added += sum(int(n) for n in backend._run_many(calls))
        backend.conn.set(dead_letters_indexed_key(backend.namespace), "1")
        return added

    def _failed_at(self, name: str, raw: bytes) -> int:
        """When a record says it failed (0 when it cannot say)."""
        try:
            value = self.backend.decode(dead_letter_name(name), raw)
        except DeserializationError:
            return 0
        return read_record(name, value).failed_at
