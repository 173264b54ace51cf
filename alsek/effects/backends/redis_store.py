"""``RedisStore``: a Redis connection and the store primitives on plain keys.

The queue operations (Lua, one round trip a claim) are in ``redis.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from redis.crc import key_slot

from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends import redis_values
from alsek.effects.backends.base import is_glob
from alsek.effects.backends.payloads import is_message_name
from alsek.effects.backends.redis_connection import MAX_BLOCK_S, RedisConnection, _text
from alsek.effects.backends.redis_errors import unavailable as _unavailable
from alsek.effects.backends.redis_waiting import wait_on
from alsek.exceptions import (
    KeyExistsError,
    NotFoundError,
)
from alsek.pure.keys import descendants_set_name
from alsek.pure.redis_keys import index_key, matches, signal_key, store_pattern
from alsek.pure.redis_keys import wake_key as wake_list

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

    def _mget(self, keys: Sequence[str]) -> list[Any]:
        """The values at ``keys`` (on a cluster, one request per shard)."""
        if self.cluster:
            return list(self.conn.mget_nonatomic(list(keys)))
        return list(self.conn.mget(keys))

    @_unavailable
    def delete(self, name: str, missing_ok: bool = False) -> None:
        deleted = self.conn.delete(self.full_name(name))
        if not deleted and not missing_ok:
            raise NotFoundError(f"no value stored at {name!r}")

    def _scan_keys(self, pattern: str) -> Iterator[str]:
        """Names matching the glob ``pattern`` (a cluster client scans every primary)."""
        match, broader = store_pattern(self.namespace, pattern)
        for key in self.conn.scan_iter(match=match, count=1000):
            name = self.short_name(key)
            if not broader or matches(name, pattern):
                yield name

    @_unavailable
    def scan(self, pattern: str | None = None) -> Iterator[str]:
        # Read eagerly, so that a failure is raised (and translated) here, not
        # later in the caller's loop.
        if pattern is None:
            return iter(list(self._scan_keys("*")))
        if is_glob(pattern):
            return iter(list(self._scan_keys(pattern)))
        names = list(self._scan_keys(pattern + ":*"))
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
        self._registered.clear()
        return count

    @_unavailable
    def compare_and_delete(self, name: str, value: Any) -> bool:
        """Delete ``name`` only if it holds ``value`` (atomic)."""
        key = self.full_name(name)
        encoded = self.encode(name, value)
        return bool(lua.run(self.conn, "compare_and_delete", [key, encoded], self._on(key)))

    @_unavailable
    def compare_and_expire(self, name: str, value: Any, ttl: int) -> bool:
        """Reset the ttl of ``name`` only if it holds ``value`` (atomic)."""
        key = self.full_name(name)
        args = [key, self.encode(name, value), ttl]
        return bool(lua.run(self.conn, "compare_and_expire", args, self._on(key)))

    def _on(self, key: str) -> list[str]:
        """KEYS routing a script about ``key`` (a cluster's; none for one primary)."""
        return [key] if self.cluster else []

    # -- waiting -------------------------------------------------------------------

    @_unavailable
    def wait_for_work(
        self, queues: Sequence[str] | None, timeout_ms: int, wake_key: str | None = None
    ) -> None:
        if timeout_ms <= 0:
            return
        keys = self._signals(queues, wake_key)
        if not keys:
            super().wait_for_work(queues, min(timeout_ms, int(MAX_BLOCK_S * 1000)))
            return
        timeout = min(timeout_ms / 1000, MAX_BLOCK_S)
        if self.cluster:
            wait_on(self.conn, keys, timeout)
        else:
            self.conn.blpop(keys, timeout=timeout)

    def _signals(self, queues: Sequence[str] | None, wake: str | None) -> list[str]:
        """The lists a consumer of ``queues`` (all when None) blocks on for new work."""
        names = list(queues) if queues else self.known_queues()
        keys = [index_key(self.namespace, queue, "signal") for queue in names]
        if wake is not None:
            keys.append(wake_list(self.namespace, wake))
        return keys

    @_unavailable
    def wake(self, wake_key: str) -> None:
        key = wake_list(self.namespace, wake_key)
        pipe = self.conn.pipeline(transaction=False)
        pipe.rpush(key, b"1")
        pipe.ltrim(key, 0, 0)
        pipe.pexpire(key, 60_000)
        pipe.execute()

    @_unavailable
    def wait_for_value(self, name: str, timeout_ms: int, delete: bool = False) -> Any:
        deadline = time.monotonic() + timeout_ms / 1000
        key, signal = self.full_name(name), signal_key(self.namespace, name)
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
        signal = signal_key(self.namespace, name)
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
        key = self.full_name(name)
        encoded = self.encode(name, value)
        pairs = [(self.full_name(n), self.encode(n, v)) for n, v in extra]
        signal = signal_key(self.namespace, name)
        apart: list[tuple[str, Any]] = []  # (cluster) keys in other slots: written after
        if self.cluster:
            slot = key_slot(key.encode())
            apart = [(k, v) for k, v in pairs if key_slot(k.encode()) != slot]
            pairs = [(k, v) for k, v in pairs if key_slot(k.encode()) == slot]
            if key_slot(signal.encode()) != slot:  # a name with a brace (see redis_keys)
                apart.append((signal, None))
        nearby = signal if (signal, None) not in apart else ""
        flat = [part for pair in pairs for part in pair]
        ttl_arg = "" if ttl is None else ttl
        args = [key, encoded, ttl_arg, 1 if nx else 0, nearby, len(pairs), *flat]
        keys = self._on(key)
        if self.replicas:
            written = bool(self._run_durable("set_and_notify", args, keys))
        else:
            written = bool(lua.run(self.fast, "set_and_notify", args, keys))
        if written and apart:
            self._write_apart(apart, ttl)
        return written

    def _write_apart(self, pairs: list[tuple[str, Any]], ttl: int | None) -> None:
        """(Cluster) extra keys outside a value's slot, after it; a None value is a signal."""
        pipe = self.conn.pipeline(transaction=False)
        for key, value in pairs:
            if value is None:
                pipe.rpush(key, b"1")
                pipe.pexpire(key, 60_000)
            else:
                pipe.set(key, value, px=ttl)
        pipe.execute()

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
