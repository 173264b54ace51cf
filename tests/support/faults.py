"""Fault injection for tests and chaos runs: a faulting backend and real-server faults.

``inject(backend)`` turns a fresh ``RedisBackend`` or ``DiskCacheBackend``
into a faulting one and returns its ``FaultInjector`` (the plan and the
record; see ``fault_plan``). The backend stays what it was - the same class,
client and error handling - so a Broker, ResultStore and WorkerPool use it
unchanged; only what the server answers changes (``fault_redis``,
``fault_disk``).

The context managers below make a *real* server misbehave for as long as
they are held (``hold(fault, seconds)``): Redis out of memory, without
enough replicas, paused for writes, asleep, demoted to a replica, busy with
a script, or killed (and restarted on exit); DiskCache locked by another
connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import redis

from alsek.effects.backends.base import Backend
from alsek.exceptions import BackendUnavailableError
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from tests.support import fault_disk, fault_redis
from tests.support.fault_plan import DISK_KINDS, REDIS_KINDS, FaultInjector
from tests.support.redis_server import RedisServer, free_port

__all__ = [
    "DISK_KINDS",
    "REAL_FAULTS",
    "REDIS_KINDS",
    "FaultInjector",
    "backends",
    "hold",
    "inject",
    "patiently",
]
T = TypeVar("T")


def inject(backend: Any) -> FaultInjector:
    """Install fault injection on a backend that has not been used yet; returns the plan."""
    if isinstance(backend, RedisBackend):
        injector = FaultInjector(REDIS_KINDS)
        fault_redis.install(backend, injector)
    elif isinstance(backend, DiskCacheBackend):
        injector = FaultInjector(DISK_KINDS)
        fault_disk.install(backend, injector)
    else:
        raise TypeError(f"faults go into Redis and DiskCache backends, not {backend!r}")
    return injector


def backends(kind: str, where: str) -> tuple[Backend, Backend]:
    """Two fresh backends on one store (``where``: a URL, flushed, or a directory): one
    to inject faults into, one to see the truth through."""
    if kind == "redis":
        client = redis.Redis.from_url(where)
        client.flushall()
        client.close()
        faulty: Backend = RedisBackend(where)
        return faulty, RedisBackend(where)
    if kind == "disk":
        return DiskCacheBackend(where), DiskCacheBackend(where)
    raise ValueError(f"backend kind must be 'redis' or 'disk', got {kind!r}")


def patiently(step: Callable[[], T], seconds: float = 10) -> T:
    """``step()``, retried while the store is unreachable (the checks' own connection
    may still hold a socket from before a server restart)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except (BackendUnavailableError, redis.ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def hold(fault: AbstractContextManager[Any], seconds: float) -> None:
    """Keep ``fault`` in force for ``seconds``."""
    with fault:
        time.sleep(seconds)


def _client(server: RedisServer) -> redis.Redis:
    return redis.Redis(port=server.port, socket_timeout=30)


@contextmanager
def _config(server: RedisServer, **settings: str) -> Iterator[None]:
    client = _client(server)
    names = [name.replace("_", "-") for name in settings]
    before = {name: client.config_get(name)[name] for name in names}
    try:
        for name, value in zip(names, settings.values(), strict=True):
            client.config_set(name, value)
        yield
    finally:
        for name, value in before.items():
            client.config_set(name, value)
        client.close()


def out_of_memory(server: RedisServer) -> AbstractContextManager[None]:
    """``maxmemory 1`` with ``noeviction``: every write that may grow memory is refused."""
    return _config(server, maxmemory="1", maxmemory_policy="noeviction")


def no_replicas(server: RedisServer) -> AbstractContextManager[None]:
    """``min-replicas-to-write 1`` without replicas: every write gets NOREPLICAS."""
    return _config(server, min_replicas_to_write="1")


@contextmanager
def paused_writes(server: RedisServer) -> Iterator[None]:
    """``CLIENT PAUSE ... WRITE``: writes (and scripts) wait until the pause ends."""
    client = _client(server)
    client.execute_command("CLIENT", "PAUSE", "600000", "WRITE")
    try:
        yield
    finally:
        client.execute_command("CLIENT", "UNPAUSE")
        client.close()


@contextmanager
def asleep(server: RedisServer, seconds: float) -> Iterator[None]:
    """``DEBUG SLEEP``: the whole server stops answering for ``seconds``."""
    client = _client(server)
    sleeper = threading.Thread(
        target=client.execute_command, args=("DEBUG", "SLEEP", f"{seconds:.3f}"), daemon=True
    )
    sleeper.start()
    try:
        yield
    finally:
        sleeper.join(seconds + 30)
        client.close()


@contextmanager
def demoted(server: RedisServer) -> Iterator[None]:
    """``REPLICAOF`` an address nobody serves: writes get READONLY, data stays."""
    client = _client(server)
    client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
    try:
        yield
    finally:
        client.execute_command("REPLICAOF", "NO", "ONE")
        client.close()


@contextmanager
def busy_script(server: RedisServer) -> Iterator[None]:
    """A Lua script that never ends: after 50 ms every other client gets BUSY."""
    with _config(server, busy_reply_threshold="50"):
        looper = _client(server)
        running = threading.Thread(target=_spin, args=(looper,), daemon=True)
        running.start()
        time.sleep(0.1)  # past the threshold: BUSY from here on
        try:
            yield
        finally:
            killer = _client(server)
            deadline = time.monotonic() + 10
            while running.is_alive() and time.monotonic() < deadline:
                try:
                    killer.script_kill()
                except redis.ResponseError:  # NOTBUSY: not started yet, or already gone
                    time.sleep(0.01)
            running.join(10)
            killer.close()
            looper.close()


def _spin(client: redis.Redis) -> None:
    try:
        client.eval("while true do end", 0)
    except redis.ResponseError:
        pass  # "Script killed by user with SCRIPT KILL"


@contextmanager
def killed(server: RedisServer) -> Iterator[None]:
    """SIGKILL redis-server, restart it on the same port on exit (needs ``persistent``)."""
    if not server.persistent:
        raise ValueError("kill and restart needs a persistent server (appendonly, fsync always)")
    server.kill()
    try:
        yield
    finally:
        server.start()


@contextmanager
def locked_database(directory: str | Path, timeout_s: float = 30) -> Iterator[None]:
    """Another connection holds ``BEGIN EXCLUSIVE`` on the DiskCache's SQLite file."""
    connection = sqlite3.connect(
        str(Path(directory) / "cache.db"), timeout=timeout_s, isolation_level=None
    )
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()


def _held(
    fault: Callable[[RedisServer], AbstractContextManager[None]],
) -> Callable[[RedisServer, float], None]:
    return lambda server, seconds: hold(fault(server), seconds)


#: Real Redis faults by name: ``REAL_FAULTS[name](server, seconds)`` holds one, blocking.
REAL_FAULTS: dict[str, Callable[[RedisServer, float], None]] = {
    "out_of_memory": _held(out_of_memory),
    "no_replicas": _held(no_replicas),
    "paused_writes": _held(paused_writes),
    "asleep": lambda server, seconds: hold(asleep(server, seconds), seconds),
    "demoted": _held(demoted),
    "busy_script": _held(busy_script),
    "killed": _held(killed),
}
