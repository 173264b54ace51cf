"""``RedisStore``: a Redis connection and the store primitives on plain keys.

The queue operations (Lua, one round trip a claim) are in ``redis.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends import redis_values
from alsek.effects.backends.base import is_glob
from alsek.effects.backends.payloads import is_message_name
from alsek.effects.backends.redis_connection import MAX_BLOCK_S, RedisConnection, _text
from alsek.effects.backends.redis_errors import unavailable as _unavailable
from alsek.exceptions import (
    KeyExistsError,
    NotFoundError,
)
from alsek.pure.keys import descendants_set_name

log = logging.getLogger(__name__)



def _flag(virtual: bool) -> str:
    return "1" if virtual else "0"


class RedisStore(RedisConnection):
    """The store half of ``RedisBackend``: primitives, values, waiting and descendants."""

    # -- queued messages: a header, then the compact payload (redis_values) --------

    def encode_message(self, name: str, data: Any) -> str | bytes:
        """The payload of a queued message's value (the scripts add its header)."""
        return redis_values.encode_payload(self.encode, name, data)

    def decode(self, name: str | None, raw: str | bytes) -> Any:
        """Deserialize what is stored at ``name``; a queued message in its full form."""
        if is_message_name(name):
            return redis_values.decode_value(super().decode, str(name), raw)
        return super().decode(name, raw)

    # -- primitives --------------------------------------------------------------

    @_unavailable
    def exists(self, name: str) -> bool:
        return bool(self.conn.exists(self.full_name(name)))

    @_unavailable
    def set(self, name: str, value: Any, nx: bool = False, ttl: int | None = None) -> None:
        encoded = self.encode(name, value)
        written = self.conn.set(self.full_name(name), encoded, px=ttl, nx=nx)
        if nx and not written:
            raise KeyExistsError(name)

    @_unavailable
    def get(self, name: str) -> Any:
        raw = self.conn.get(self.full_name(name))
        if raw is None:
            raise NotFoundError(f"no value stored at {name!r}")
        return self.decode(name, raw)

    @_unavailable
    def delete(self, name: str, missing_ok: bool = False) -> None:
        deleted = self.conn.delete(self.full_name(name))
        if not deleted and not missing_ok:
            raise NotFoundError(f"no value stored at {name!r}")

    def _scan_keys(self, match: str) -> Iterator[str]:
        for key in self.conn.scan_iter(match=match, count=1000):
            yield self.short_name(key)

    @_unavailable
    def scan(self, pattern: str | None = None) -> Iterator[str]:
        # Read eagerly, so that a failure is raised (and translated) here, not
        # later in the caller's loop.
        if pattern is None:
            return iter(list(self._scan_keys(self.full_name("*"))))
        if is_glob(pattern):
            return iter(list(self._scan_keys(self.full_name(pattern))))
        names = list(self._scan_keys(self.full_name(pattern) + ":*"))
        if self.conn.exists(self.full_name(pattern)):
            names.append(pattern)
        return iter(names)

    @_unavailable
    def clear_namespace(self) -> int:
        count = 0
        batch: list[bytes] = []
        for key in self.conn.scan_iter(match=self.full_name("*"), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                count += int(self.conn.unlink(*batch))
                batch = []
        if batch:
            count += int(self.conn.unlink(*batch))
        return count

    @_unavailable
    def compare_and_delete(self, name: str, value: Any) -> bool:
        """Delete ``name`` only if it holds ``value`` (atomic)."""
        encoded = self.encode(name, value)
        return bool(lua.run(self.conn, "compare_and_delete", [self.full_name(name), encoded]))

    @_unavailable
    def compare_and_expire(self, name: str, value: Any, ttl: int) -> bool:
        """Reset the ttl of ``name`` only if it holds ``value`` (atomic)."""
        encoded = self.encode(name, value)
        args = [self.full_name(name), encoded, ttl]
        return bool(lua.run(self.conn, "compare_and_expire", args))

    # -- waiting -------------------------------------------------------------------

    @_unavailable
    def wait_for_work(
        self, queues: Sequence[str] | None, timeout_ms: int, wake_key: str | None = None
    ) -> None:
        if timeout_ms <= 0:
            return
        names = list(queues) if queues else self.known_queues()
        keys = [self.full_name(f"index:{queue}:signal") for queue in names]
        if wake_key is not None:
            keys.append(self.full_name(f"wake:{wake_key}"))
        if not keys:
            super().wait_for_work(names, min(timeout_ms, int(MAX_BLOCK_S * 1000)))
            return
        self.conn.blpop(keys, timeout=min(timeout_ms / 1000, MAX_BLOCK_S))

    @_unavailable
    def wake(self, wake_key: str) -> None:
        key = self.full_name(f"wake:{wake_key}")
        pipe = self.conn.pipeline(transaction=False)
        pipe.rpush(key, b"1")
        pipe.ltrim(key, 0, 0)
        pipe.pexpire(key, 60_000)
        pipe.execute()

    @_unavailable
    def wait_for_value(self, name: str, timeout_ms: int, delete: bool = False) -> Any:
        deadline = time.monotonic() + timeout_ms / 1000
        key, signal = self.full_name(name), self.full_name(f"signal:{name}")
        raw = self.fast.getdel(key) if delete else self.fast.get(key)
        while raw is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # The read waits in the pipeline behind the blocking pop and runs the
            # moment the value is signalled: one round trip. A value that stays
            # (no delete) passes the wake-up on to any other waiter.
            pipe = self.fast.pipeline(transaction=False)
            pipe.blpop([signal], timeout=max(min(remaining, MAX_BLOCK_S), 0.001))
            pipe.getdel(key) if delete else pipe.get(key)
            popped, raw = pipe.execute()
            if popped is not None and not delete:
                pipe = self.fast.pipeline(transaction=False)
                pipe.rpush(signal, b"1")
                pipe.pexpire(signal, 60_000)
                pipe.execute()
        return self.decode(name, raw)

    @_unavailable
    def notify_value(self, name: str) -> None:
        signal = self.full_name(f"signal:{name}")
        pipe = self.conn.pipeline(transaction=False)
        pipe.rpush(signal, b"1")
        pipe.pexpire(signal, 60_000)
        pipe.execute()

    @_unavailable
    def set_and_notify(
        self,
        name: str,
        value: Any,
        nx: bool = False,
        ttl: int | None = None,
        extra: Sequence[tuple[str, Any]] = (),
    ) -> bool:
        encoded = self.encode(name, value)
        flat: list[Any] = []
        for extra_name, extra_value in extra:
            flat += [self.full_name(extra_name), self.encode(extra_name, extra_value)]
        args = [
            self.full_name(name),
            encoded,
            "" if ttl is None else ttl,
            1 if nx else 0,
            self.full_name(f"signal:{name}"),
            len(extra),
            *flat,
        ]
        return bool(lua.run(self.fast, "set_and_notify", args))

    # -- result descendants ---------------------------------------------------------
    # One set per progenitor: listing descendants never scans the keyspace.
    # Its ttl follows the latest descendant added, so it outlives the results
    # linked before (a progenitor's descendants share their task's ttl).

    @_unavailable
    def add_descendant(self, progenitor: str, uuid: str, ttl: int | None = None) -> None:
        key = self.full_name(descendants_set_name(progenitor))
        pipe = self.conn.pipeline(transaction=True)
        pipe.sadd(key, uuid)
        if ttl is None:
            pipe.persist(key)
        else:
            pipe.pexpire(key, ttl)
        pipe.execute()

    @_unavailable
    def descendants(self, progenitor: str) -> list[str]:
        members = self.conn.smembers(self.full_name(descendants_set_name(progenitor)))
        return sorted(_text(member) for member in members)

    @_unavailable
    def forget_descendants(self, progenitor: str) -> None:
        self.conn.delete(self.full_name(descendants_set_name(progenitor)))
