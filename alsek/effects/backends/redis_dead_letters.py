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

from alsek.effects.backends.dead_letters import DeadLetterStore, Entry, raw_text
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.backends.redis_errors import unavailable
from alsek.effects.backends.redis_scripts import DLQ_INDEX
from alsek.exceptions import DeserializationError
from alsek.pure.dead_letter import DeadLetterRecord, read_record, unreadable
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.keys import dead_letter_message_name, dead_letter_name, dead_letters_pattern

#: Keys read or written per round trip.
CHUNK = 1000

_HEAD = "local ns = ARGV[1]\nif redis.replicate_commands then redis.replicate_commands() end\n"
_UNTIL_CLEAN = "local now = dlq_now()\nwhile dlq_prune(now, 1000) == 1000 do end\n"
_NEEDS_INDEX = "if redis.call('EXISTS', dlq('indexed')) == 0 then return {0} end\n"

# ARGV: ns, since ('' = any time). Returns {1, name, failed_at, ...}, oldest first,
# or {0} when the index is not built yet.
LIST = (
    _HEAD
    + DLQ_INDEX
    + _NEEDS_INDEX
    + _UNTIL_CLEAN
    + r"""
local low = ARGV[2] == '' and '-inf' or ARGV[2]
local found = redis.call('ZRANGEBYSCORE', dlq('by_time'), low, '+inf', 'WITHSCORES')
table.insert(found, 1, 1)
return found
"""
)

# ARGV: ns, uuid. Returns {1, name, failed_at, ...} or {0} (index not built).
LOOKUP = (
    _HEAD
    + DLQ_INDEX
    + _NEEDS_INDEX
    + _UNTIL_CLEAN
    + r"""
local uuid = ARGV[2]
local out = {1}
local low, high = '[' .. uuid .. '|', '(' .. uuid .. '}'
for _, m in ipairs(redis.call('ZRANGEBYLEX', dlq('by_uuid'), low, high)) do
  local name = string.sub(m, #uuid + 2)
  local score = redis.call('ZSCORE', dlq('by_time'), name)
  if score then
    table.insert(out, name)
    table.insert(out, score)
  end
end
return out
"""
)

# ARGV: ns. Returns {1, queue, count, ...} ('?' for names that are not message
# names) or {0} (index not built). Entries whose record is gone are dropped.
COUNTS = (
    _HEAD
    + DLQ_INDEX
    + _NEEDS_INDEX
    + _UNTIL_CLEAN
    + r"""
local tally = {}
for _, name in ipairs(redis.call('ZRANGE', dlq('by_time'), 0, -1)) do
  if redis.call('EXISTS', ns .. ':dlq:' .. name) == 1 then
    local q = string.match(name, '^queues:([^:]*):tasks:[^:]*:messages:[^:]*$') or '?'
    tally[q] = (tally[q] or 0) + 1
  else
    dlq_unindex(name)
  end
end
local out = {1}
for q, n in pairs(tally) do
  table.insert(out, q)
  table.insert(out, n)
end
return out
"""
)

# ARGV: ns, n, name..., other name...  Deletes the dead letters of the n names
# with their index entries, and the other names. Returns how many dead letters
# were there.
DROP = (
    _HEAD
    + DLQ_INDEX
    + r"""
local n = tonumber(ARGV[2])
local dropped = 0
for i = 3, 2 + n do
  dropped = dropped + redis.call('DEL', ns .. ':dlq:' .. ARGV[i])
  dlq_unindex(ARGV[i])
end
for i = 3 + n, #ARGV do redis.call('DEL', ns .. ':' .. ARGV[i]) end
return dropped
"""
)

# ARGV: ns, (name, failed_at, ttl ms or -1)...  Indexes records found by a scan
# (those gone meanwhile are skipped) and marks the index as built.
INDEX = (
    _HEAD
    + DLQ_INDEX
    + r"""
local now = dlq_now()
local added = 0
for i = 2, #ARGV, 3 do
  local name, ttl = ARGV[i], tonumber(ARGV[i + 2])
  if redis.call('EXISTS', ns .. ':dlq:' .. name) == 1 then
    dlq_index(name, ARGV[i + 1], ttl < 0 and '+inf' or now + ttl)
    added = added + 1
  end
end
redis.call('SET', dlq('indexed'), '1')
return added
"""
)


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

    def _call(self, name: str, text: str, *args: Any) -> Any:
        script = self.backend._scripts.get(name)
        if script is None:
            script = self.backend._scripts[name] = self.backend.conn.register_script(text)
        return script(keys=[], args=[self.backend.namespace, *args], client=self.backend.conn)

    def _indexed(self, name: str, text: str, *args: Any) -> list[Any]:
        """A read script's answer, building the index first if it is not built."""
        answer = self._call(name, text, *args)
        if int(answer[0]) == 0:
            self.reindex()
            answer = self._call(name, text, *args)
        return list(answer[1:])

    @unavailable
    def entries(self, where: DeadLetterFilter) -> list[Entry]:
        since = "" if where.since is None else where.since
        found = _pairs(self._indexed("DLQ_LIST", LIST, since))
        return [(name, at) for name, at in found if where.admits_name(name)]

    @unavailable
    def lookup(self, uuid: str) -> list[Entry]:
        return _pairs(self._indexed("DLQ_LOOKUP", LOOKUP, uuid))

    @unavailable
    def counts(self) -> dict[str, int]:
        flat = self._indexed("DLQ_COUNTS", COUNTS)
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
            dropped += int(self._call("DLQ_DROP", DROP, len(chunk), *chunk, *extra))
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
            added += int(self._call("DLQ_INDEX", INDEX, *args))
        if not keys:
            self._call("DLQ_INDEX", INDEX)
        return added

    def _failed_at(self, name: str, raw: bytes) -> int:
        """When a record says it failed (0 when it cannot say)."""
        try:
            value = self.backend.decode(dead_letter_name(name), raw)
        except DeserializationError:
            return 0
        return read_record(name, value).failed_at
