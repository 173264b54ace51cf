"""Nothing done in one namespace touches another, on every backend (``app`` vs ``app_staging``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from alsek.core import Broker, task
from alsek.core.consumer import Consumer
from alsek.effects.backends.base import Backend
from alsek.exceptions import ValidationError
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support.memory_backend import Client, CustomBackend

KINDS = ["redis", "disk", "custom"]
OTHERS = ("app_staging", "apps", "ap", "xapp")


def backends(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Backend]:
    """One backend per namespace, all on the same store."""
    names = ("app", *OTHERS)
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        return {ns: RedisBackend(url, namespace=ns) for ns in names}
    if kind == "disk":
        return {ns: DiskCacheBackend(tmp_path / "dc", namespace=ns) for ns in names}
    client = Client()
    return {ns: CustomBackend(client, namespace=ns) for ns in names}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "namespace",
    ["app:staging", "app*", "a?", "a[b]", "a\\b", "{app}", "my app", "app\n", "a/b", ""],
)
def test_namespaces_that_could_match_others_are_refused(
    kind: str, namespace: str, tmp_path: Path
) -> None:
    make = {
        "redis": lambda: RedisBackend("redis://127.0.0.1:1/0", namespace=namespace),
        "disk": lambda: DiskCacheBackend(tmp_path / "never", namespace=namespace),
        "custom": lambda: CustomBackend(Client(), namespace=namespace),
    }[kind]
    with pytest.raises(ValidationError, match="namespace"):
        make()
    assert not (tmp_path / "never").exists()


def fill(backend: Backend) -> None:
    broker = Broker(backend)
    store = ResultStore(backend)

    @task(broker, name="ns_job", queue="shared", mechanism="thread", result_store=store)
    def ns_job() -> None:
        return None

    for _ in range(3):
        ns_job.generate()
    ns_job.generate(delay=60_000)
    (done,) = Consumer(broker).claim(("thread",), 1).messages
    store.set(done, backend.namespace)
    backend.set("locks:shared:0", "token")


@pytest.mark.parametrize("kind", KINDS)
def test_clear_namespace_leaves_every_other_namespace_whole(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    by_name = backends(kind, request, tmp_path)
    for backend in by_name.values():
        fill(backend)
    before = {ns: sorted(b.scan("*")) for ns, b in by_name.items()}
    assert all(len(names) == len(before["app"]) for names in before.values())

    app = by_name["app"]
    assert app.clear_namespace() >= len(before["app"])
    assert list(app.scan("*")) == [] and app.count() == 0
    assert Broker(app).counts("shared") == {"ready": 0, "delayed": 0, "leased": 0}
    assert Consumer(Broker(app)).claim(("thread",), 5).messages == ()

    for ns in OTHERS:
        other = by_name[ns]
        assert sorted(other.scan("*")) == before[ns]
        broker = Broker(other)
        # The queue index is intact too: counts and claims still agree with the data.
        assert broker.counts("shared") == {"ready": 2, "delayed": 1, "leased": 1}
        assert len(Consumer(broker).claim(("thread",), 5).messages) == 2
        assert other.get("locks:shared:0") == "token"


@pytest.mark.parametrize("kind", KINDS)
def test_scans_and_counts_see_only_their_namespace(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    by_name = backends(kind, request, tmp_path)
    by_name["app"].set("queues:q:tasks:t:messages:1", 1)
    by_name["app_staging"].set("queues:q:tasks:t:messages:2", 2)
    by_name["apps"].set("results:3", 3)
    app = by_name["app"]
    assert list(app.scan("*")) == ["queues:q:tasks:t:messages:1"]
    assert list(app.scan("queues:*")) == ["queues:q:tasks:t:messages:1"]
    assert list(app.scan("*staging*")) == []
    assert app.count() == 1 and app.count("results:*") == 0
    assert by_name["app_staging"].count() == 1


def test_redis_keys_of_other_namespaces_survive_byte_for_byte(redis_url: str) -> None:
    RedisBackend(redis_url, namespace="app").set("results:1", 1)
    raw = redis.Redis.from_url(redis_url)
    raw.set("app_staging:results:1", b"x")
    raw.set("apps:results:1", b"y")
    raw.set("unrelated", b"z")
    RedisBackend(redis_url, namespace="app").clear_namespace()
    assert sorted(raw.keys()) == [b"app_staging:results:1", b"apps:results:1", b"unrelated"]


def test_disk_index_rows_of_other_namespaces_are_kept(tmp_path: Path) -> None:
    by_name = {ns: DiskCacheBackend(tmp_path / "dc", namespace=ns) for ns in ("app", "app_staging")}
    for backend in by_name.values():
        fill(backend)
    app = by_name["app"]
    app.clear_namespace()
    rows = dict(
        app._sql("SELECT namespace, COUNT(*) FROM alsek_index GROUP BY namespace").fetchall()
    )
    assert rows == {"app_staging": 4}
