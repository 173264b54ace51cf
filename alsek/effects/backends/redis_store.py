"""``RedisStore``: a Redis connection and the store primitives on plain keys.

The queue operations (Lua, one round trip a claim) are in ``redis.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from alsek import defaults
from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends.base import Backend, is_glob
from alsek.effects.backends.lazy import LazyClient
from alsek.effects.backends.redis_errors import new_retry
from alsek.effects.backends.redis_errors import unavailable as _unavailable
from alsek.effects.serialization import Serializer
from alsek.exceptions import (
    KeyExistsError,
    NotFoundError,
    ValidationError,
)
from alsek.pure.faults import redact_url
from alsek.pure.keys import descendants_set_name

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 10.0
DEFAULT_URL = "redis://localhost:6379/0"
#: Longest single block on a signal list; keeps stop requests responsive.
MAX_BLOCK_S = 1.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _flag(virtual: bool) -> str:
    return "1" if virtual else "0"


class RedisStore(Backend):
    """The store half of ``RedisBackend``: connection, primitives, values and waiting."""

    def __init__(
        self,
        conn: str | redis.Redis | LazyClient | None = None,
        namespace: str = defaults.DEFAULT_NAMESPACE,
        serializer: Serializer | None = None,
    ) -> None:
        super().__init__(namespace=namespace, serializer=serializer)
        self._from_url = conn is None or isinstance(conn, str)
        self._url = conn if isinstance(conn, str) else None
        if conn is None or isinstance(conn, str):
            url = conn
            conn = LazyClient(lambda: self._connect(url))
        elif not isinstance(conn, (redis.Redis, LazyClient)):
            raise ValidationError(
                f"RedisBackend conn must be a URL, a redis.Redis or a LazyClient, got {conn!r}"
            )
        self._conn: redis.Redis | LazyClient = conn
        self._local = threading.local()
        self._identity: tuple[Any, ...] | None = None

    @staticmethod
    def _connect(url: str | None) -> redis.Redis:
        options: dict[str, Any] = {
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "socket_timeout": SOCKET_TIMEOUT_S,
            "health_check_interval": 30,
            "protocol": 2,
            "retry": new_retry(),
        }
        url = url or os.environ.get("ALSEK_REDIS_URL")
        if url is None:
            return redis.Redis(host="localhost", port=6379, **options)
        return redis.Redis.from_url(url, **options)

    @property
    def conn(self) -> redis.Redis:
        """The client (created on first use when lazy)."""
        if isinstance(self._conn, LazyClient):
            self._conn = self._conn.get()
        client: redis.Redis = self._conn  # type: ignore[assignment]
        return client

    def identity(self) -> tuple[Any, ...]:
        if self._identity is None:
            kwargs = self.conn.connection_pool.connection_kwargs
            where = (
                kwargs.get("host"),
                kwargs.get("port"),
                kwargs.get("path"),
                kwargs.get("db", 0),
            )
            self._identity = ("redis", *where, self.namespace)
        return self._identity

    def describe(self) -> str:
        """Where this backend connects to, for error messages (never the password)."""
        if self._from_url:
            url = self._url or os.environ.get("ALSEK_REDIS_URL") or DEFAULT_URL
            return redact_url(url)
        if isinstance(self._conn, LazyClient):
            return "(a lazy client, not yet connected)"
        kwargs = self._conn.connection_pool.connection_kwargs
        if kwargs.get("path"):
            return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
        user = f"{kwargs['username']}@" if kwargs.get("username") else ""
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '')}"
        return f"redis://{user}{where}/{kwargs.get('db', 0)}"

    @_unavailable
    def check(self) -> None:
        """PING the server: raises ``BackendAuthError`` for refused credentials and
        ``BackendUnavailableError`` when it cannot be reached or cannot serve; and
        ``ValidationError`` for a server older than 7.0 (the scripts use its flags)."""
        self.conn.ping()
        try:
            version = str(self.conn.info("server").get("redis_version", ""))
        except redis.ResponseError:  # INFO may be refused on managed services
            return
        major = version.split(".")[0]
        if major.isdigit() and int(major) < 7:
            raise ValidationError(
                f"Alsek needs Redis 7.0 or newer; {self.describe()} runs Redis {version}"
            )

    @property
    def fast(self) -> redis.Redis:
        """This thread's own connection (no pool checkout per command): for hot paths."""
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            local.client = redis.Redis(
                connection_pool=self.conn.connection_pool, single_connection_client=True
            )
            local.pid = pid
        client: redis.Redis = local.client
        return client

    def _run(self, name: str, *args: Any) -> Any:
        return lua.run(self.fast, name, [self.namespace, *args])

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

    @_unavailable
    def server_warnings(self) -> list[str]:
        """Settings that weaken delivery guarantees (eviction, no persistence)."""
        warnings = []
        try:
            policy = self.conn.config_get("maxmemory-policy").get("maxmemory-policy")
            aof = self.conn.config_get("appendonly").get("appendonly")
            save = self.conn.config_get("save").get("save")
        except redis.ResponseError:  # CONFIG may be disabled on managed services
            return ["could not read the Redis configuration (CONFIG GET refused)"]
        if policy not in (None, "noeviction", b"noeviction"):
            warnings.append(
                f"maxmemory-policy is {_text(policy)!r}: Redis may evict queued messages; "
                "use 'noeviction'"
            )
        if _text(aof or "no") != "yes" and not _text(save or ""):
            warnings.append(
                "Redis persists nothing (appendonly no, no save points): a restart loses "
                "every queued message; use 'appendonly yes' with 'appendfsync always' or 'everysec'"
            )
        return warnings
