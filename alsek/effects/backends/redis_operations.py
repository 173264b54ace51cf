"""Operations on Redis, from its queue index (``lua/``): no keyspace scans.

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
from alsek.exceptions import DeserializationError
from alsek.pure.cancel import cancel_marker_name
from alsek.pure.message import SLOT_KINDS
from alsek.pure.ordering import TIME_WIDTH, escaped_uuid, member_name
from alsek.pure.redis_keys import index_key


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisOperations(Operations):
    """Operations read from the Redis queue index and the worker hash."""

    backend: RedisBackend

    def describe(self) -> str:
        return self.backend.describe()

    def _run(self, name: str, queue: str, *args: Any) -> Any:
        """Script ``name`` about ``queue`` (on its shard, on a cluster)."""
        return self.backend._run(name, queue, *args, on=queue)

    @staticmethod
    def _flag(virtual: bool) -> str:
        return "1" if virtual else "0"

    @unavailable
    def oldest_ready_age(self, queue: str, now: int, virtual: bool = False) -> int | None:
        age = int(self._run("oldest_ready", queue, now, self._flag(virtual)))
        return None if age < 0 else age

    @unavailable
    def ready_by_mechanism(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        thread, process, coroutine, other = self._run(
            "ready_by_mechanism", queue, now, self._flag(virtual)
        )
        counts = {
            "thread": int(thread),
            "process": int(process),
            "async": int(coroutine),
            "*": int(other),
        }
        return {mechanism: n for mechanism, n in counts.items() if n}

    @unavailable
    def find(self, uuid: str) -> list[str]:
        """Names with ``uuid``, from each queue's index (its sets hold every queued
        message; the entries hash, those stored before the compact layout)."""
        conn, found = self.backend.conn, set()
        escaped = escaped_uuid(uuid)
        times = "?" * (2 * TIME_WIDTH)
        for queue in self.backend.known_queues():
            def key(part: str, queue: str = queue) -> str:
                return index_key(self.backend.namespace, queue, part)

            for field, _ in conn.hscan_iter(key("entries"), match=f"*:messages:{uuid}", count=1000):
                found.add(_text(field))
            for kind in SLOT_KINDS:
                match = f"{times}{escaped}\x00*"
                for member, _ in conn.zscan_iter(key(f"ready:{kind}"), match=match, count=1000):
                    found.add(member_name(_text(member), queue))
            for member, _ in conn.zscan_iter(key("delayed"), match=f"*|{times}{escaped}\x00*"):
                found.add(member_name(_text(member).split("|", 1)[1], queue))
            for member, _ in conn.zscan_iter(key("leased"), match=f"*:messages:{uuid}|*"):
                found.add(_text(member).split("|", 1)[0])
        return sorted(found)

    @unavailable
    def place(self, name: str, now: int, virtual: bool = False) -> Place | None:
        from alsek.pure.keys import parse_message_name

        queue = parse_message_name(name)[0]
        reply = self._run("place", queue, name, now, self._flag(virtual))
        if not reply:
            return None
        state, deliveries, ready_in, lease_left = reply
        left = int(lease_left)
        return Place(_text(state), int(deliveries), int(ready_in), None if left < 0 else left)

    @unavailable
    def cancel_waiting(self, queue: str, name: str, now: int, virtual: bool = False) -> str:
        return _text(self._run("cancel_waiting", queue, name, now, self._flag(virtual)))

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
        # (A cluster cannot make the two keys one transaction; reading copes with either.)
        pipe = self.backend.conn.pipeline(transaction=not self.backend.cluster)
        pipe.set(self.backend.full_name(name), encoded, px=ttl_ms)
        pipe.hset(self.backend.full_name(f"index:{WORKERS_PREFIX}"), worker_id, 1)
        pipe.execute()

    @unavailable
    def drop_worker(self, worker_id: str) -> None:
        pipe = self.backend.conn.pipeline(transaction=not self.backend.cluster)
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
        raws = self.backend._mget([self.backend.full_name(worker_name(i)) for i in ids])
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
