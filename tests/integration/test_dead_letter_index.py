"""The dead-letter index of Redis and DiskCache: no keyspace scan to list, count, look up,
re-submit or remove; expired entries pruned; records older than the index still found.
Also: reading a message's descendants on Redis never scans the keyspace."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from alsek.core import Broker, Message
from alsek.effects.backends.base import Backend
from alsek.effects.backends.disk import DiskCacheBackend
from alsek.effects.backends.redis import RedisBackend
from alsek.pure import codec
from alsek.pure.dead_letter import record_for
from alsek.pure.redis_keys import dead_letter_index_key
from alsek.storage.result import ResultStore

KEY = "dlq:queues:q:tasks:t:messages:"


class CountingDisk(DiskCacheBackend):
    """DiskCache that counts its scans."""

    scans = 0

    def scan(self, pattern: str | None = None) -> Any:
        type(self).scans += 1
        return super().scan(pattern)


@pytest.fixture(params=["redis", "disk"])
def indexed(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "redis":
        return RedisBackend(request.getfixturevalue("redis_url"))
    CountingDisk.scans = 0
    return CountingDisk(tmp_path / "cache")


def scans(backend: Backend) -> int:
    """Keyspace scans so far (Redis: SCAN and KEYS commands run by the server)."""
    if isinstance(backend, RedisBackend):
        stats = backend.conn.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("scan", "keys"))
    return CountingDisk.scans


def dead(broker: Broker, uuid: str, queue: str = "q") -> None:
    message = Message(task_name="t", queue=queue, uuid=uuid, created_at=1)
    broker.submit(message)
    assert broker.fail(message, f"{uuid} broke")


def old_record(backend: Backend, uuid: str, ttl: int | None = None, at: int = 5) -> None:
    """A dead letter as an Alsek without the index wrote it: a plain value."""
    name = f"queues:q:tasks:t:messages:{uuid}"
    message = Message(task_name="t", queue="q", uuid=uuid, created_at=1)
    record = codec.unstructure(record_for(name, message, "old", at))
    backend.set(KEY + uuid, record, ttl=ttl)


def unrelated(backend: Backend, count: int) -> None:
    for i in range(count):
        backend.set(f"other:{i}", i)


def test_reading_and_acting_never_scans_once_indexed(indexed: Backend) -> None:
    broker = Broker(indexed)
    unrelated(indexed, 300)
    assert broker.dead_letter_counts() == {}  # builds the index (one scan)
    for uuid in ("a", "b", "c", "d"):
        dead(broker, uuid)
    before = scans(indexed)
    steps: list[Callable[[], Any]] = [
        lambda: list(broker.dead_letters()),
        lambda: list(broker.dead_letters(queue="q", since=0)),
        broker.dead_letter_counts,
        lambda: broker.get_dead_letter("a"),
        lambda: broker.find_dead_letters(KEY + "b"),
        lambda: broker.resubmit_dead_letter("a"),
        lambda: broker.remove_dead_letter("b"),
        lambda: broker.resubmit_dead_letters(broker.dead_letters(task="t")),
        broker.remove_dead_letters,
    ]
    for step in steps:
        step()
    assert scans(indexed) == before
    assert broker.counts("q")["ready"] == 3 and list(broker.dead_letters()) == []


def test_records_older_than_the_index_are_found(indexed: Backend) -> None:
    old_record(indexed, "x", ttl=60_000, at=7)
    old_record(indexed, "y")
    broker = Broker(indexed)
    # The first read indexes what is there, once.
    assert [(r.uuid, r.failed_at) for r in broker.dead_letters()] == [("y", 5), ("x", 7)]
    assert broker.get_dead_letter("x").reason == "old"
    before = scans(indexed)
    assert broker.dead_letter_counts() == {"q": 2} and scans(indexed) == before
    # Written behind an index that is built: found after a reindex.
    old_record(indexed, "z", at=9)
    assert [r.uuid for r in broker.dead_letters()] == ["y", "x"]
    assert broker.reindex_dead_letters() == 3
    assert [r.uuid for r in broker.dead_letters()] == ["y", "x", "z"]
    assert broker.resubmit_dead_letter("z").uuid == "z"
    assert broker.remove_dead_letters().done == (KEY + "y", KEY + "x")


def test_an_old_record_keeps_its_expiry_in_the_index(indexed: Backend) -> None:
    old_record(indexed, "x", ttl=300)
    broker = Broker(indexed)
    assert [r.uuid for r in broker.dead_letters()] == ["x"]
    wait_for(lambda: broker.dead_letter_counts() == {}, "the old record to expire")
    assert index_size(indexed) == 0


def index_size(backend: Backend) -> int:
    """Entries in the dead-letter index."""
    if isinstance(backend, RedisBackend):
        sizes = {
            part: sum(
                int(backend.conn.zcard(dead_letter_index_key(backend.namespace, queue, part)))
                for queue in backend.known_queues()
            )
            for part in ("by_time", "by_expiry", "by_uuid")
        }
        assert len(set(sizes.values())) == 1, sizes
        return sizes["by_time"]
    assert isinstance(backend, DiskCacheBackend)
    with backend._transact():
        row = backend._sql(
            "SELECT COUNT(*) FROM alsek_dead WHERE namespace = ?", backend.namespace
        ).fetchone()
    return int(row[0])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_expired_entries_are_pruned_by_writes_and_by_reads(indexed: Backend) -> None:
    short = Broker(indexed, dlq_ttl=200)
    assert short.dead_letter_counts() == {}
    for uuid in ("a", "b", "c"):
        dead(short, uuid)
    assert index_size(indexed) == 3
    time.sleep(0.3)
    dead(Broker(indexed), "d")  # a write prunes the expired ones
    assert index_size(indexed) == 1
    dead(short, "e")
    time.sleep(0.3)
    assert [r.uuid for r in short.dead_letters()] == ["d"]  # so does a read
    assert index_size(indexed) == 1


def test_a_record_deleted_behind_the_index_is_forgotten(indexed: Backend) -> None:
    broker = Broker(indexed)
    assert broker.dead_letter_counts() == {}
    for uuid in ("a", "b"):
        dead(broker, uuid)
    indexed.delete(KEY + "a")
    assert [r.uuid for r in broker.dead_letters()] == ["b"]
    assert index_size(indexed) == 1
    indexed.delete(KEY + "b")
    assert broker.dead_letter_counts() == {} and index_size(indexed) == 0
    assert broker.find_dead_letters("b") == []


def test_clearing_the_namespace_clears_the_index(indexed: Backend) -> None:
    broker = Broker(indexed)
    dead(broker, "a")
    assert [r.uuid for r in broker.dead_letters()] == ["a"]
    indexed.clear_namespace()
    assert index_size(indexed) == 0
    assert list(broker.dead_letters()) == [] and broker.dead_letter_counts() == {}


def test_a_dead_letter_written_twice_is_indexed_once(indexed: Backend) -> None:
    broker = Broker(indexed)
    dead(broker, "a")
    broker.resubmit_dead_letter("a")
    assert broker.fail(Message(task_name="t", queue="q", uuid="a", created_at=1), "again")
    (record,) = broker.dead_letters()
    assert record.reason == "again" and index_size(indexed) == 1


# -- descendants ------------------------------------------------------------------------


def family(store: ResultStore) -> Iterable[Message]:
    parent = Message(task_name="p", uuid="parent", created_at=1)
    child = Message(task_name="c", uuid="child", progenitor="parent", created_at=2)
    grandchild = Message(task_name="g", uuid="grandchild", progenitor="child", created_at=3)
    for i, message in enumerate((parent, child, grandchild)):
        store.set(message, i)
    return parent, child, grandchild


def test_reading_descendants_never_scans_the_keyspace(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    unrelated(backend, 500)
    store = ResultStore(backend)
    parent, _, _ = family(store)
    lonely = Message(task_name="l", uuid="lonely", created_at=1)
    before = scans(backend)
    assert store.exists(parent, descendants=True)
    assert store.get(parent, descendants=True, keep=True) == [0, 1, 2]
    with pytest.raises(Exception, match="within 300 ms"):
        store.get(lonely, descendants=True, timeout=300)  # waiting polls, never scans
    assert store.get(parent, descendants=True) == [0, 1, 2]  # and deletes them
    assert not store.exists(parent, descendants=True)
    assert scans(backend) == before


def test_descendants_on_diskcache_read_a_range_of_the_key_index(tmp_path: Path) -> None:
    backend = DiskCacheBackend(tmp_path / "cache")
    store = ResultStore(backend)
    family(store)
    assert backend.descendants("parent") == ["child"]
    glob = backend.full_name("descendants:parent:*")
    plan = backend._sql(
        "EXPLAIN QUERY PLAN SELECT key FROM Cache WHERE key GLOB ? "
        "AND (expire_time IS NULL OR expire_time > ?)",
        glob,
        0,
    ).fetchall()
    assert any("USING INDEX Cache_key_raw (key>? AND key<?)" in row[-1] for row in plan), plan
