"""Redis clients of each deployment: one server, a Redis Cluster, a Sentinel-managed
primary. Built from a URL (``alsek.pure.redis_urls``), described for errors, compared,
and rebuilt in another process (a task process) from what pickles.

redis-py does the routing: a ``RedisCluster`` follows MOVED and ASK and refreshes its
slot map when a replica takes over; a Sentinel-managed client asks the sentinels for the
primary whenever it (re)connects, and treats READONLY from a demoted primary as a
dropped connection.
"""

from __future__ import annotations

import pickle
from typing import Any

import redis
from redis import cluster, connection, sentinel
from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from alsek.pure.redis_urls import parse_redis_url

RedisClient = redis.Redis | RedisCluster
# (redis-py leaves these untyped)
ClusterNode: Any = cluster.ClusterNode
Sentinel: Any = sentinel.Sentinel
parse_url: Any = connection.parse_url


def connect(url: str, options: dict[str, Any]) -> RedisClient:
    """A client for ``url`` in any of the forms of ``alsek.pure.redis_urls``, with
    ``options`` (timeouts, retries) for every connection to a data node."""
    topology = parse_redis_url(url)
    if topology.kind == "single":
        return redis.Redis.from_url(url, **options)
    kwargs = {**parse_url(topology.node_url), **options}
    for gone in ("host", "port"):
        kwargs.pop(gone, None)
    tls = kwargs.pop("connection_class", None) is not None  # set only for rediss://
    hosts = list(topology.hosts)
    if topology.kind == "cluster":
        kwargs.pop("db", None)
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in hosts],
            require_full_coverage=False,  # the other shards serve while one fails over
            ssl=tls,
            **kwargs,
        )
    sentinel_kwargs: dict[str, Any] = {
        key.removeprefix("sentinel_"): value for key, value in topology.sentinel_options
    }
    for timeout in ("socket_timeout", "socket_connect_timeout"):
        if timeout in options:
            sentinel_kwargs.setdefault(timeout, options[timeout])
    if tls:
        sentinel_kwargs["ssl"] = True
        kwargs["ssl"] = True
    manager = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **kwargs)
    client: redis.Redis = manager.master_for(str(topology.service))
    return client


def is_cluster(client: Any) -> bool:
    return isinstance(client, RedisCluster)


def sentinel_managed(client: Any) -> bool:
    """Whether ``client`` finds its primary through Sentinel."""
    return _sentinel_pool(client) is not None


def _sentinel_pool(client: Any) -> SentinelConnectionPool | None:
    pool = getattr(client, "connection_pool", None)
    return pool if isinstance(pool, SentinelConnectionPool) else None


def _hosts(pairs: list[tuple[str, int]]) -> str:
    return ",".join(f"{host}:{port}" for host, port in pairs)


def _startup_nodes(client: RedisCluster) -> list[tuple[str, int]]:
    nodes = client.nodes_manager.startup_nodes.values()
    return sorted((node.host, int(node.port)) for node in nodes)


def _sentinels(pool: SentinelConnectionPool) -> list[tuple[str, int]]:
    found = []
    for watcher in pool.sentinel_manager.sentinels:
        kwargs = watcher.connection_pool.connection_kwargs
        found.append((str(kwargs.get("host")), int(kwargs.get("port", 26379))))
    return found


def identity(client: Any) -> tuple[Any, ...]:
    """What makes two clients reach the same data (for comparing stores)."""
    if is_cluster(client):
        return ("redis-cluster", *_startup_nodes(client))
    pool = _sentinel_pool(client)
    if pool is not None:
        db = pool.connection_kwargs.get("db", 0)
        return ("redis-sentinel", pool.service_name, db, *sorted(_sentinels(pool)))
    kwargs = client.connection_pool.connection_kwargs
    where = (kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), kwargs.get("db", 0))
    return ("redis", *where)


def describe(client: Any) -> str:
    """Where ``client`` connects to, for error messages (never the password)."""
    if is_cluster(client):
        return f"redis+cluster://{_hosts(_startup_nodes(client))}"
    pool = _sentinel_pool(client)
    if pool is not None:
        db = pool.connection_kwargs.get("db", 0)
        return f"redis+sentinel://{_hosts(_sentinels(pool))}/{pool.service_name}/{db}"
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    user = f"{kwargs['username']}@" if kwargs.get("username") else ""
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '')}"
    return f"redis://{user}{where}/{kwargs.get('db', 0)}"


def portable(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The settings that survive a pickle (per-pool machinery is rebuilt)."""
    return {k: v for k, v in kwargs.items() if type(v) is not object and _picklable(v)}


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def recipe(client: Any) -> tuple[str, Any] | None:
    """How to rebuild a cluster or Sentinel client elsewhere (None: neither)."""
    if is_cluster(client):
        kwargs = portable(dict(client.nodes_manager.connection_kwargs))
        return "cluster", (_startup_nodes(client), kwargs)
    pool = _sentinel_pool(client)
    if pool is not None:
        manager = pool.sentinel_manager
        nodes = portable(dict(pool.connection_kwargs))
        if "SSL" in getattr(nodes.pop("connection_class", None), "__name__", ""):
            nodes["ssl"] = True
        return "sentinel", (
            _sentinels(pool),
            portable(dict(manager.sentinel_kwargs)),
            pool.service_name,
            nodes,
        )
    return None


def rebuild(kind: str, value: Any) -> RedisClient:
    """The client ``recipe`` described."""
    if kind == "cluster":
        nodes, kwargs = value
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            require_full_coverage=False,
            **kwargs,
        )
    sentinels, sentinel_kwargs, service, kwargs = value
    client: redis.Redis = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs, **kwargs).master_for(
        service
    )
    return client
