"""The five primitives, namespaces, serializers, lazy connections and bad input."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis

from alsek.exceptions import (
    BackendUnavailableError,
    DeserializationError,
    KeyExistsError,
    NotFoundError,
    SerializationError,
)
from alsek.storage.backends import Backend, LazyClient
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.serialization import JsonSerializer, Serializer
from tests.support.redis_server import free_port


def test_set_get_exists_delete(any_backend: Backend) -> None:
    assert not any_backend.exists("a")
    any_backend.set("a", {"x": [1, 2, 3], "y": "é"})
    assert any_backend.exists("a")
    assert any_backend.get("a") == {"x": [1, 2, 3], "y": "é"}
    any_backend.set("a", 5)
    assert any_backend.get("a") == 5
    any_backend.delete("a")
    assert not any_backend.exists("a")


def test_set_nx_on_existing_name_raises_and_keeps_value(any_backend: Backend) -> None:
    any_backend.set("k", "first", nx=True)
    with pytest.raises(KeyExistsError, match="'k' already exists"):
        any_backend.set("k", "second", nx=True)
    assert any_backend.get("k") == "first"


def test_missing_names(any_backend: Backend) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        any_backend.get("nope")
    with pytest.raises(KeyError):
        any_backend.delete("nope")
    any_backend.delete("nope", missing_ok=True)
    assert any_backend.get_or_none("nope") is None


def test_ttl_expires_values(any_backend: Backend) -> None:
    any_backend.set("short", 1, ttl=150)
    any_backend.set("long", 2, ttl=60_000)
    assert any_backend.get("short") == 1
    deadline = time.monotonic() + 5
    while any_backend.exists("short"):
        assert time.monotonic() < deadline, "a value outlived its ttl by seconds"
        time.sleep(0.05)
    assert any_backend.get("long") == 2
    assert "short" not in list(any_backend.scan())


def test_scan_and_count_globs_and_prefixes(any_backend: Backend) -> None:
    for name in [
        "queues:a:tasks:t:messages:1",
        "queues:a:tasks:t:messages:2",
        "queues:ab:tasks:t:messages:3",
        "results:1",
    ]:
        any_backend.set(name, 0)
    assert sorted(any_backend.scan("queues:a:*")) == [
        "queues:a:tasks:t:messages:1",
        "queues:a:tasks:t:messages:2",
    ]
    # A plain prefix means "this name and everything below it", not queue "ab".
    assert any_backend.count("queues:a") == 2
    assert any_backend.count("queues") == 3
    assert any_backend.count() == 4
    assert list(any_backend.scan("results:1")) == ["results:1"]


def test_namespace_prefixes_every_key(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    a = RedisBackend(redis_url, namespace="one")
    b = RedisBackend(redis_url, namespace="two")
    a.set("k", 1)
    b.set("k", 2)
    assert sorted(client.keys("*")) == [b"one:k", b"two:k"]
    assert (a.get("k"), b.get("k")) == (1, 2)
    assert a.clear_namespace() == 1
    assert b.get("k") == 2


def test_unserializable_value_names_key_and_type_and_writes_nothing(any_backend: Backend) -> None:
    with pytest.raises(SerializationError) as caught:
        any_backend.set("bad", {"x": object()})
    assert "'bad'" in str(caught.value) and "dict" in str(caught.value)
    assert not any_backend.exists("bad")


def test_corrupted_value_names_its_key(backend: Backend) -> None:
    backend.set("good", 1)
    assert isinstance(backend, (RedisBackend, DiskCacheBackend))
    backend.conn.set("alsek:broken", "{not json")
    with pytest.raises(DeserializationError, match="'broken'"):
        backend.get("broken")
    assert backend.get("good") == 1


class ReversingSerializer(Serializer):
    """Stores JSON backwards: proves the backend uses the serializer it was given."""

    def forward(self, obj: Any) -> str:
        return JsonSerializer().forward(obj)[::-1]

    def reverse(self, data: str | bytes) -> Any:
        text = data.decode() if isinstance(data, bytes) else data
        return JsonSerializer().reverse(text[::-1])


def test_custom_serializer_is_used_for_everything_stored(redis_url: str) -> None:
    backend = RedisBackend(redis_url, serializer=ReversingSerializer())
    backend.set("k", {"a": 1})
    assert redis.Redis.from_url(redis_url).get("alsek:k") == b'}1:"a"{'
    assert backend.get("k") == {"a": 1}


def test_lazy_client_is_not_called_until_needed(redis_url: str) -> None:
    calls = []

    def connect() -> redis.Redis:
        calls.append(1)
        return redis.Redis.from_url(redis_url)

    lazy = RedisBackend(LazyClient(connect))
    assert calls == []
    assert lazy.count("queues:math_ops") == 0
    assert calls == [1]
    lazy.set("x", 1)
    assert calls == [1]


def test_redis_backend_accepts_url_client_and_lazy(redis_url: str) -> None:
    for conn in (
        redis_url,
        redis.Redis.from_url(redis_url),
        LazyClient(lambda: redis.Redis.from_url(redis_url)),
    ):
        backend = RedisBackend(conn)
        backend.set("k", "v")
        assert backend.get("k") == "v"


def test_redis_backend_default_is_lazy_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALSEK_REDIS_URL", raising=False)
    backend = RedisBackend()
    assert isinstance(backend._conn, LazyClient) and not backend._conn.evaluated
    kwargs = backend.conn.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"]) == ("localhost", 6379)


def test_redis_backend_default_honours_alsek_redis_url(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALSEK_REDIS_URL", redis_url)
    RedisBackend().set("k", 1)
    assert RedisBackend(redis_url).get("k") == 1


def test_redis_down_raises_a_connection_error_quickly() -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(ConnectionError) as caught:
        backend.set("k", 1)
    assert isinstance(caught.value, BackendUnavailableError)
    assert time.monotonic() - started < 10


def test_diskcache_default_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSEK_DISKCACHE_DIR", str(tmp_path / "default"))
    first, second = DiskCacheBackend(), DiskCacheBackend()
    first.set("shared", 42)
    assert second.get("shared") == 42
    assert (tmp_path / "default").is_dir()


def test_diskcache_accepts_a_cache_and_a_lazy_client(tmp_path: Path) -> None:
    import diskcache

    cache = diskcache.Cache(str(tmp_path / "c"))
    for conn in (cache, LazyClient(lambda: cache), str(tmp_path / "c")):
        backend = DiskCacheBackend(conn)
        backend.set("k", "v")
        assert backend.get("k") == "v"


def _ring_later(path: str) -> None:
    import time as _time

    from alsek.effects.backends.doorbell import Doorbell

    _time.sleep(0.3)
    Doorbell(path).ring()


def test_doorbell_wakes_a_waiter_in_another_process(tmp_path: Path) -> None:
    import multiprocessing

    from alsek.effects.backends.doorbell import Doorbell

    bell = Doorbell(str(tmp_path / "bell.fifo"))
    bell.wait(0)  # creates the pipe
    ringer = multiprocessing.get_context("spawn").Process(
        target=_ring_later, args=(str(tmp_path / "bell.fifo"),)
    )
    ringer.start()
    started = time.monotonic()
    bell.wait(60)
    ringer.join(30)
    assert time.monotonic() - started < 30  # woken by the ring, not the 60 s timeout


def test_startup_check_warns_about_eviction_and_missing_persistence() -> None:
    from tests.conftest import require_redis_binary
    from tests.support.redis_server import RedisServer

    require_redis_binary()
    with RedisServer() as server:
        backend = RedisBackend(server.url)
        backend.conn.config_set("maxmemory-policy", "allkeys-lru")
        warnings = backend.server_warnings()
        assert any("allkeys-lru" in w and "noeviction" in w for w in warnings)
        assert any("persists nothing" in w for w in warnings)
    with RedisServer(persistent=True) as server:
        assert RedisBackend(server.url).server_warnings() == []


def test_diskcache_in_an_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    backend = DiskCacheBackend(blocker / "cache")
    with pytest.raises(ConnectionError, match="DiskCache cannot be opened"):
        backend.set("k", 1)
