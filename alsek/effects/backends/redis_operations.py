"""Operations on Redis, from its queue index (``redis_scripts``): no keyspace scans.

Besides the queue index, the worker registry keeps ``ns:index:workers``
(HASH worker id -> 1) next to each ``ns:workers:{id}`` record (with a TTL);
reading drops the ids whose record expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alsek.effects.backends.operations import WORKERS_PREFIX, Operations, Place, worker_name
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.backends.redis_errors import unavailable
from alsek.effects.backends.redis_scripts import PRELUDE
from alsek.exceptions import DeserializationError
from alsek.pure.cancel import cancel_marker_name

# ARGV: ns, queue, now, virtual. Returns how long (ms) the oldest ready message has
# been ready, or -1. Ready sets order by priority first, so the oldest of each
# priority level present is compared (at most 64 levels per mechanism), with the
# delayed entries that are due but not yet moved.
OLDEST_READY = (
    PRELUDE
    + r"""
local q = ARGV[2]
local now = clock(ARGV[3], ARGV[4])
local oldest = nil
local due = redis.call('ZRANGEBYSCORE', idx(q, 'delayed'), '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
if #due > 0 then oldest = tonumber(due[2]) end
for _, m in ipairs({'thread', 'process', 'async'}) do
  local key = idx(q, 'ready:' .. m)
  local low = '-inf'
  for level = 1, 64 do
    local r = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #r == 0 then break end
    local ready = tonumber(string.sub(r[1], 1, 15))
    if oldest == nil or ready < oldest then oldest = ready end
    low = '(' .. r[2]
  end
end
if oldest == nil then return -1 end
return math.max(now - oldest, 0)
"""
)

# ARGV: ns, queue, name, now, virtual. Returns {state, deliveries, ready_in, lease_left}
# (lease_left -1 when not running), or nil when the message is not queued.
PLACE = (
    PRELUDE
    + r"""
local q, name = ARGV[2], ARGV[3]
local now = clock(ARGV[4], ARGV[5])
local e = redis.call('HGET', idx(q, 'entries'), name)
if not e then return false end
local mech, prio, member = parse(e)
local ready = tonumber(string.sub(member, 1, 15))
local d = tonumber(redis.call('HGET', idx(q, 'deliveries'), name) or '0')
local deadline = redis.call('ZSCORE', idx(q, 'leased'), name)
if deadline and tonumber(deadline) > now then
  return {'running', d, ready - now, tonumber(deadline) - now}
end
if ready > now then return {'delayed', d, ready - now, -1} end
return {'ready', d, ready - now, -1}
"""
)

# ARGV: ns, queue, name, now, virtual. Removes the message unless its lease holds.
# Returns 'removed', 'running' or 'missing'.
CANCEL_WAITING = (
    PRELUDE
    + r"""
local q, name = ARGV[2], ARGV[3]
local now = clock(ARGV[4], ARGV[5])
local deadline = redis.call('ZSCORE', idx(q, 'leased'), name)
if deadline and tonumber(deadline) > now then return 'running' end
if redis.call('HEXISTS', idx(q, 'entries'), name) == 0
  and redis.call('EXISTS', ns .. ':' .. name) == 0 then
  return 'missing'
end
forget(q, name)
return 'removed'
"""
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisOperations(Operations):
    """Operations read from the Redis queue index and the worker hash."""

    backend: RedisBackend

    def __init__(self, backend: RedisBackend) -> None:
        super().__init__(backend)
        self._scripts: dict[str, Any] = {}

    def describe(self) -> str:
        return self.backend.describe()

    def _run(self, source: str, *args: Any) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.backend.conn.register_script(source)
        return script(keys=[], args=[self.backend.namespace, *args], client=self.backend.conn)

    @staticmethod
    def _flag(virtual: bool) -> str:
        return "1" if virtual else "0"

    @unavailable
    def oldest_ready_age(self, queue: str, now: int, virtual: bool = False) -> int | None:
        age = int(self._run(OLDEST_READY, queue, now, self._flag(virtual)))
        return None if age < 0 else age

    @unavailable
    def find(self, uuid: str) -> list[str]:
        conn, found = self.backend.conn, []
        for queue in self.backend.known_queues():
            key = self.backend.full_name(f"index:{queue}:entries")
            for field, _ in conn.hscan_iter(key, match=f"*:messages:{uuid}", count=1000):
                found.append(_text(field))
        return sorted(found)

    @unavailable
    def place(self, name: str, now: int, virtual: bool = False) -> Place | None:
        from alsek.pure.keys import parse_message_name

        queue = parse_message_name(name)[0]
        reply = self._run(PLACE, queue, name, now, self._flag(virtual))
        if not reply:
            return None
        state, deliveries, ready_in, lease_left = reply
        left = int(lease_left)
        return Place(_text(state), int(deliveries), int(ready_in), None if left < 0 else left)

    @unavailable
    def cancel_waiting(self, queue: str, name: str, now: int, virtual: bool = False) -> str:
        return _text(self._run(CANCEL_WAITING, queue, name, now, self._flag(virtual)))

    @unavailable
    def cancel_requested(self, names: Sequence[str]) -> list[bool]:
        if not names:
            return []
        pipe = self.backend.conn.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.backend.full_name(cancel_marker_name(name)))
        return [bool(found) for found in pipe.execute()]

    @unavailable
    def put_worker(self, worker_id: str, record: Any, ttl_ms: int) -> None:
        name = worker_name(worker_id)
        encoded = self.backend.encode(name, record)
        pipe = self.backend.conn.pipeline(transaction=True)
        pipe.set(self.backend.full_name(name), encoded, px=ttl_ms)
        pipe.hset(self.backend.full_name(f"index:{WORKERS_PREFIX}"), worker_id, 1)
        pipe.execute()

    @unavailable
    def drop_worker(self, worker_id: str) -> None:
        pipe = self.backend.conn.pipeline(transaction=True)
        pipe.delete(self.backend.full_name(worker_name(worker_id)))
        pipe.hdel(self.backend.full_name(f"index:{WORKERS_PREFIX}"), worker_id)
        pipe.execute()

    @unavailable
    def workers(self) -> list[Any]:
        conn = self.backend.conn
        index = self.backend.full_name(f"index:{WORKERS_PREFIX}")
        ids = sorted(_text(worker_id) for worker_id in conn.hkeys(index))
        if not ids:
            return []
        raws = conn.mget([self.backend.full_name(worker_name(i)) for i in ids])
        expired = [worker_id for worker_id, raw in zip(ids, raws, strict=True) if raw is None]
        if expired:
            conn.hdel(index, *expired)
        records = []
        for worker_id, raw in zip(ids, raws, strict=True):
            if raw is None:
                continue
            try:
                records.append(self.backend.decode(worker_name(worker_id), raw))
            except DeserializationError:
                continue
        return records
