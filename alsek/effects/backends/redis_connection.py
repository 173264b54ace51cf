"""``RedisConnection``: how a Redis backend connects, checks and describes its server."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import redis

from alsek import defaults
from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends.base import Backend
from alsek.effects.backends.lazy import LazyClient
from alsek.effects.backends.redis_errors import new_retry
from alsek.effects.backends.redis_errors import unavailable as _unavailable
from alsek.effects.serialization import Serializer
from alsek.exceptions import (
    ValidationError,
)
from alsek.pure.faults import redact_url

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


class RedisConnection(Backend):
    """The client (lazy, per-thread fast connections), health check and server settings."""

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
