"""Dead letters on Redis, read from their index: no scan of the keyspace.

Inside namespace ``ns`` (written by the ``DEAD_LETTER`` script, atomically
with the record itself)::

    ns:deadletters:by_time     ZSET  score = when it failed (ms), member = message name
    ns:deadletters:by_expiry   ZSET  score = when its record expires (server ms)
    ns:deadletters:by_uuid     ZSET  score 0, member = "uuid|name" (lookups by uuid)
    ns:deadletters:indexed     STRING  present once the index covers every record

Records expire (``dlq_ttl``); their entries are pruned when a script meets
them: a few on every dead letter written, all of them before every read.

Records written before the index existed have no entries. The first read in
a namespace without ``ns:deadletters:indexed`` indexes every ``dlq:queues:*``
record once (one scan) and sets it; ``reindex`` (``alsek deadletters
reindex``) does the same on demand, e.g. after an older Alsek wrote dead
letters into the same namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends.dead_letters import DeadLetterStore, Entry, raw_text
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.backends.redis_errors import unavailable
from alsek.exceptions import DeserializationError
from alsek.pure.dead_letter import DeadLetterRecord, read_record, unreadable
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.keys import dead_letter_message_name, dead_letter_name, dead_letters_pattern

#: Keys read or written per round trip.
CHUNK = 1000

def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(raw: Sequence[Any]) -> list[Entry]:
    return [(_text(raw[i]), int(float(raw[i + 1]))) for i in range(0, len(raw), 2)]


class RedisDeadLetters(DeadLetterStore):
    """Dead letters read from the Redis index."""

    indexed = True
    backend: RedisBackend

    def describe(self) -> str:
        """Where the backend is (for errors)."""
        return self.backend.describe()

    def _call(self, name: str, *args: Any) -> Any:
        return lua.run(self.backend.conn, name, [self.backend.namespace, *args])

    def _indexed(self, name: str, *args: Any) -> list[Any]:
        """A read script's answer, building the index first if it is not built."""
        answer = self._call(name, *args)
        if int(answer[0]) == 0:
            self.reindex()
            answer = self._call(name, *args)
        return list(answer[1:])

    @unavailable
    def entries(self, where: DeadLetterFilter) -> list[Entry]:
        since = "" if where.since is None else where.since
        found = _pairs(self._indexed("dlq_list", since))
        return [(name, at) for name, at in found if where.admits_name(name)]

    @unavailable
    def lookup(self, uuid: str) -> list[Entry]:
        return _pairs(self._indexed("dlq_lookup", uuid))

    @unavailable
    def counts(self) -> dict[str, int]:
        flat = self._indexed("dlq_counts")
        return {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    @unavailable
    def read(self, entries: Sequence[Entry]) -> list[DeadLetterRecord]:
        records: list[DeadLetterRecord] = []
        gone: list[str] = []
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start : start + CHUNK]
            keys = [self.backend.full_name(dead_letter_name(name)) for name, _ in chunk]
            for (name, failed_at), raw in zip(chunk, self.backend.conn.mget(keys), strict=True):
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
        others = list(also)
        dropped = 0
        for start in range(0, max(len(names), len(others)), CHUNK):
            chunk = list(names[start : start + CHUNK])
            extra = others[start : start + CHUNK]
            dropped += int(self._call("dlq_drop", len(chunk), *chunk, *extra))
        return dropped

    @unavailable
    def reindex(self) -> int:
        conn = self.backend.conn
        pattern = self.backend.full_name(dead_letters_pattern())
        keys = list(conn.scan_iter(match=pattern, count=1000))
        added = 0
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            pipe = conn.pipeline(transaction=False)
            for key in chunk:
                pipe.get(key)
                pipe.pttl(key)
            answers = pipe.execute()
            args: list[Any] = []
            for i, key in enumerate(chunk):
                raw, ttl = answers[2 * i], answers[2 * i + 1]
                name = dead_letter_message_name(self.backend.short_name(key))
                if raw is None or name is None:
                    continue
                args += [name, self._failed_at(name, raw), int(ttl) if int(ttl) > 0 else -1]
            added += int(self._call("dlq_index", *args))
        if not keys:
            self._call("dlq_index")
        return added

    def _failed_at(self, name: str, raw: bytes) -> int:
        """When a record says it failed (0 when it cannot say)."""
        try:
            value = self.backend.decode(dead_letter_name(name), raw)
        except DeserializationError:
            return 0
        return read_record(name, value).failed_at
