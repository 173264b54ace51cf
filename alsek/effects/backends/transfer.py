"""Backends that travel to other processes: what a task process reopens for itself.

A task process claims and records its own messages over its own connection,
so the pool hands it the backend by pickling it. A backend pickles as how
to reopen it (a URL, a connection pool's settings, a directory), never as
its live sockets or files. A custom backend travels by the usual pickle
rules; one that cannot gets a clear error naming it.
"""

from __future__ import annotations

import pickle
from typing import Any

from alsek.exceptions import ValidationError


def reopen_redis_client(recipe: tuple[str, Any]) -> Any:
    """What ``RedisBackend`` is given again: a URL, a client on a fresh pool, or the
    (picklable) lazy client."""
    import redis

    from alsek.effects.backends import redis_clients

    kind, value = recipe
    if kind in ("cluster", "sentinel"):
        return redis_clients.rebuild(kind, value)
    if kind == "pool":
        connection_class, kwargs = value
        return redis.Redis(
            connection_pool=redis.ConnectionPool(connection_class=connection_class, **kwargs)
        )
    return value


def redis_recipe(conn: Any, url: str | None, from_url: bool) -> tuple[str, Any]:
    """How to reopen a Redis client: ``("url", url)``, ``("pool", (class, kwargs))``, or
    a cluster's or a Sentinel-managed client's settings (``redis_clients.recipe``)."""
    import redis

    from alsek.effects.backends import redis_clients
    from alsek.effects.backends.lazy import LazyClient

    if from_url:
        return "url", url
    if isinstance(conn, LazyClient) and conn.evaluated:
        conn = conn.get()
    topology = redis_clients.recipe(conn)
    if topology is not None:
        return topology
    if isinstance(conn, redis.Redis):
        pool = conn.connection_pool
        # Settings travel; per-pool machinery (handlers holding locks) is rebuilt.
        # (Marker objects, such as redis-py's defaults, do not survive a pickle.)
        return "pool", (pool.connection_class, redis_clients.portable(pool.connection_kwargs))
    return "lazy", conn


def check_transferable(backend: Any) -> None:
    """Raise ``ValidationError`` if ``backend`` cannot be sent to a task process."""
    try:
        pickle.dumps(backend)
    except Exception as error:
        raise ValidationError(
            f"{backend!r} cannot be sent to task processes ({type(error).__name__}: {error}); "
            "process-mechanism tasks need a backend that pickles as how to reopen it "
            "(RedisBackend and DiskCacheBackend do; give a custom backend picklable "
            "settings, e.g. a LazyClient of a module-level function)"
        ) from error
