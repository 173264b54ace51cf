"""``RedisConnection``: how a Redis backend connects, checks and describes its server,
and where its keys are (``alsek.pure.redis_keys``).

The server may be one primary (a URL or a ``redis.Redis``), a Sentinel-managed primary
(``Sentinel(...).master_for(name)`` or a ``redis+sentinel://`` URL) or a Redis Cluster
(a ``RedisCluster`` or a ``redis+cluster://`` URL): see ``redis_clients``. On a
cluster every script runs on the shard of one queue; the queue registry is then kept
by the client (``_register``), since no script may touch it with a queue's keys.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
from redis.cluster import RedisCluster

from alsek import defaults
from alsek.effects.backends import redis_clients
from alsek.effects.backends import redis_lua as lua
from alsek.effects.backends.base import Backend
from alsek.effects.backends.lazy import LazyClient
from alsek.effects.backends.redis_errors import new_retry
from alsek.effects.backends.redis_errors import unavailable as _unavailable
from alsek.effects.serialization import Serializer
from alsek.exceptions import BackendUnavailableError, ValidationError
from alsek.pure.durations import Duration, to_ms
from alsek.pure.faults import redact_url
from alsek.pure.redis_keys import queue_tag, registry_key, store_key, store_name
from alsek.pure.redis_urls import parse_redis_url
from alsek.pure.validate import check_int

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 10.0
DEFAULT_URL = "redis://localhost:6379/0"
#: Longest single block on a signal list; keeps stop requests responsive.
MAX_BLOCK_S = 1.0
#: On a cluster, how often one client re-adds a queue it writes to to the registry.
REGISTER_EVERY_S = 1.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _flag(virtual: bool) -> str:
    return "1" if virtual else "0"


class RedisConnection(Backend):
    """The client (lazy, per-thread fast connections), health check, server settings,
    the key layout and the ``replicas`` wait."""

    def __init__(
        self,
        conn: str | redis.Redis | RedisCluster | LazyClient | None = None,
        namespace: str = defaults.DEFAULT_NAMESPACE,
        serializer: Serializer | None = None,
        replicas: int = 0,
        replica_timeout: Duration = 1_000,
    ) -> None:
        super().__init__(namespace=namespace, serializer=serializer)
        self.replicas = check_int("replicas", replicas, 0)
        self.replica_timeout = check_int(
            "replica_timeout", to_ms("replica_timeout", replica_timeout), 1, unit="ms"
        )
        self._from_url = conn is None or isinstance(conn, str)
        self._url = conn if isinstance(conn, str) else None
        if isinstance(conn, str):
            parse_redis_url(conn)  # a malformed URL is refused here, not at first use
        if conn is None or isinstance(conn, str):
            url = conn
            conn = LazyClient(lambda: self._connect(url))
        elif not isinstance(conn, (redis.Redis, RedisCluster, LazyClient)):
            raise ValidationError(
                "RedisBackend conn must be a URL, a redis.Redis, a RedisCluster or a "
                f"LazyClient, got {conn!r}"
            )
        self._conn: redis.Redis | RedisCluster | LazyClient = conn
        self._local = threading.local()
        self._identity: tuple[Any, ...] | None = None
        self._registered: dict[str, float] = {}

    @staticmethod
    def _connect(url: str | None) -> redis.Redis | RedisCluster:
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
        return redis_clients.connect(url, options)

    @property
    def conn(self) -> Any:
        """The client (created on first use when lazy): a ``redis.Redis`` or a
        ``RedisCluster``."""
        if isinstance(self._conn, LazyClient):
            self._conn = self._conn.get()
        return self._conn

    @property
    def cluster(self) -> bool:
        """Whether the server is a Redis Cluster (each script on one queue's shard)."""
        return isinstance(self.conn, RedisCluster)

    def identity(self) -> tuple[Any, ...]:
        if self._identity is None:
            self._identity = (*redis_clients.identity(self.conn), self.namespace)
        return self._identity

    def describe(self) -> str:
        """Where this backend connects to, for error messages (never the password)."""
        if self._from_url:
            url = self._url or os.environ.get("ALSEK_REDIS_URL") or DEFAULT_URL
            return redact_url(url)
        if isinstance(self._conn, LazyClient):
            return "(a lazy client, not yet connected)"
        return redis_clients.describe(self._conn)

    # -- keys ----------------------------------------------------------------------

    def full_name(self, name: str) -> str:
        """The key of ``name`` (a message's carries its queue's hash tag)."""
        return store_key(self.namespace, name)

    def short_name(self, full: str | bytes) -> str:
        """The name stored at a key."""
        return store_name(self.namespace, full)

    def _register(self, *queues: str) -> None:
        """On a cluster, add ``queues`` to the registry (a client-side write, at most
        once a second per queue: the scripts cannot); the scripts do it elsewhere."""
        if not self.cluster:
            return
        now = time.monotonic()
        last = self._registered
        due = [q for q in queues if now - last.get(q, -REGISTER_EVERY_S) >= REGISTER_EVERY_S]
        if due:
            self.conn.sadd(registry_key(self.namespace), *due)
            self._registered.update(dict.fromkeys(due, now))

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
    def fast(self) -> Any:
        """This thread's own connection (no pool checkout per command): for hot paths.

        A cluster client checks out a connection of the right shard per command, and so
        does a Sentinel-managed one: its pool asks the sentinels where the primary is
        when it hands out a dropped connection, which a connection kept by one thread
        (redis-py's ``single_connection_client``) does not do after a failover."""
        if self.cluster or redis_clients.sentinel_managed(self.conn):
            return self.conn
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            local.client = redis.Redis(
                connection_pool=self.conn.connection_pool, single_connection_client=True
            )
            local.pid = pid
        return local.client

    def _routing(self, queue: str | None) -> list[str]:
        """The KEYS that route a script about ``queue`` to its shard (none off a cluster)."""
        return [queue_tag(self.namespace, queue)] if queue is not None and self.cluster else []

    def _run(self, name: str, *args: Any, on: str | None = None, durable: bool = False) -> Any:
        """Run script ``name`` about queue ``on``; a ``durable`` write returns once
        ``replicas`` replicas have it."""
        keys = self._routing(on)
        if durable and self.replicas:
            return self._run_durable(name, [self.namespace, *args], keys)
        return lua.run(self.fast, name, [self.namespace, *args], keys)

    def _run_durable(self, name: str, args: list[Any], keys: list[str]) -> Any:
        """The script and a ``WAIT`` behind it on the same connection: one round trip.
        ``args`` are the script's whole ARGV; ``keys`` its routing."""
        for attempt in (1, 2):
            pipe = self.fast.pipeline(transaction=False)
            lua.queue(pipe, name, args, keys)
            self._queue_wait(pipe, keys[0] if keys else None)
            try:
                reply, confirmed = pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                lua.load(self.fast, name)
                continue
            self._check_replicas(confirmed)
            return reply
        raise AssertionError("unreachable")

    def _run_many(
        self, calls: list[tuple[str, list[Any], str]], durable: bool = False
    ) -> list[Any]:
        """Run scripts ``(name, args, queue)`` in one pipeline (on a cluster, each shard
        gets its part); ``durable``: then wait for ``replicas`` on every connection used."""
        for attempt in (1, 2):
            pipe = self.fast.pipeline(transaction=False)
            routes: dict[str, None] = {}
            for name, args, queue in calls:
                keys = self._routing(queue)
                lua.queue(pipe, name, [self.namespace, *args], keys)
                routes[keys[0] if keys else ""] = None
            waits = 0
            if durable and self.replicas:
                shards = {} if self.cluster else {"": ""}
                for key in routes:
                    if self.cluster:
                        shards.setdefault(self.conn.get_node_from_key(key).name, key)
                for key in shards.values():
                    self._queue_wait(pipe, key or None)
                    waits += 1
            try:
                replies = pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                for name in dict.fromkeys(name for name, _, _ in calls):
                    lua.load(self.fast, name)
                continue
            for confirmed in replies[len(replies) - waits :]:
                self._check_replicas(confirmed)
            return list(replies[: len(replies) - waits])
        raise AssertionError("unreachable")

    def _queue_wait(self, pipe: Any, key: str | None) -> None:
        """Add ``WAIT replicas timeout`` to a pipeline, on the connection that wrote
        ``key`` (a cluster pipeline sends a node's commands on one connection, in order)."""
        target: dict[str, Any] = {}
        if key is not None and self.cluster:
            target["target_nodes"] = self.conn.get_node_from_key(key)
        pipe.execute_command("WAIT", self.replicas, self.replica_timeout, **target)

    def _check_replicas(self, confirmed: Any) -> None:
        if int(confirmed) < self.replicas:
            raise BackendUnavailableError(
                f"Redis at {self.describe()}: {int(confirmed)} of {self.replicas} replicas "
                f"confirmed a write within {self.replica_timeout} ms (replicas="
                f"{self.replicas}); it is on the primary, but a failover now could lose it"
            )

    @_unavailable
    def server_warnings(self) -> list[str]:
        """Settings that weaken delivery guarantees (eviction, no persistence)."""
        servers = [n.redis_connection for n in self.conn.get_primaries()] if self.cluster else [
            self.conn
        ]
        warnings: list[str] = []
        for server in servers:
            for warning in self._server_warnings(server):
                if warning not in warnings:
                    warnings.append(warning)
        return warnings

    def _server_warnings(self, server: redis.Redis) -> list[str]:
        warnings = []
        try:
            policy = server.config_get("maxmemory-policy").get("maxmemory-policy")
            aof = server.config_get("appendonly").get("appendonly")
            save = server.config_get("save").get("save")
        except redis.ResponseError:  # CONFIG may be disabled on managed services
            return ["could not read the Redis configuration (CONFIG GET refused)"]
        if self.replicas:
            linked = int(server.info("replication").get("connected_slaves", 0))
            if linked < self.replicas:
                warnings.append(
                    f"replicas={self.replicas} but a primary has {linked} connected "
                    "replicas: every submit and outcome will be refused until they are"
                )
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
