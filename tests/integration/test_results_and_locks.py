"""ResultStore and Lock on every backend, locks across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from alsek.core import Lock, Message
from alsek.effects.backends.base import Backend
from alsek.exceptions import NotFoundError, ResultTimeoutError, SerializationError
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore


def msg(uuid: str, progenitor: str | None = None, ttl: int | None = None) -> Message:
    return Message(task_name="t", uuid=uuid, progenitor=progenitor, result_ttl=ttl)


def test_set_get_keep_and_delete(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    m = msg("a")
    assert store.set(m, {"v": 1})
    assert store.exists(m)
    assert store.get(m, keep=True) == {"v": 1}
    record = store.get(m, with_metadata=True, keep=True)
    assert record["result"] == {"v": 1} and record["uuid"] == "a" and record["timestamp"] > 0
    assert store.get(m) == {"v": 1}  # keep=False deletes once read
    assert not store.exists(m)
    with pytest.raises(NotFoundError):
        store.get(m)


def test_results_are_write_once(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    m = msg("a")
    assert store.set(m, 1)
    assert not store.set(m, 2)
    assert store.get(m) == 1


def test_result_ttl(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    m = msg("a", ttl=100)
    store.set(m, 1)
    deadline = time.monotonic() + 5
    while store.exists(m):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_get_waits_for_a_result_written_later(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    m = msg("late")
    threading.Timer(0.2, lambda: store.set(m, "here")).start()
    started = time.monotonic()
    assert store.get(m, timeout=5_000) == "here"
    assert time.monotonic() - started < 4
    with pytest.raises(ResultTimeoutError, match="within 100 ms"):
        store.get(msg("never"), timeout=100)


def test_descendants_follow_the_progenitor_chain_in_write_order(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    root = msg("root")
    store.set(msg("child-1", progenitor="root"), 1)
    time.sleep(0.002)
    store.set(msg("grandchild", progenitor="child-1"), 2)
    time.sleep(0.002)
    store.set(msg("child-2", progenitor="root"), 3)
    store.set(msg("stranger"), 99)
    assert store.get(root, descendants=True, keep=True) == [1, 2, 3]
    store.set(root, 0)
    assert store.get(root, descendants=True) == [1, 2, 3, 0]
    assert not store.exists(root, descendants=True)
    assert store.get(msg("stranger")) == 99


def test_unserializable_result_raises_and_stores_nothing(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    with pytest.raises(SerializationError):
        store.set(msg("a"), object())
    assert not store.exists(msg("a"))


def test_broker_and_result_store_on_different_backends(redis_url: str, tmp_path: Path) -> None:
    store = ResultStore(DiskCacheBackend(tmp_path))
    store.set(msg("x"), 5)
    assert not RedisBackend(redis_url).exists("results:x")
    assert store.get(msg("x")) == 5


def test_lock_mutual_exclusion_and_release(any_backend: Backend) -> None:
    first = Lock("resource", backend=any_backend)
    second = Lock("resource", backend=any_backend)
    with first as lock:
        assert lock.acquire()
        assert lock.held
        assert not second.acquire()
    assert not first.held
    assert second.acquire()
    assert not first.release()  # not the holder
    assert second.held
    assert second.release()


def test_lock_limit_allows_that_many_holders(any_backend: Backend) -> None:
    locks = [Lock("pool", backend=any_backend, limit=2) for _ in range(3)]
    assert [lock.acquire() for lock in locks] == [True, True, False]
    locks[0].release()
    assert locks[2].acquire()


def test_lock_ttl_frees_a_dead_holders_slot(any_backend: Backend) -> None:
    Lock("r", backend=any_backend, ttl=150).acquire()  # never released
    other = Lock("r", backend=any_backend)
    assert not other.acquire()
    assert other.acquire(blocking=True, timeout=5_000)


def test_threads_sharing_a_lock_object_never_both_hold(any_backend: Backend) -> None:
    lock = Lock("shared", backend=any_backend)
    inside = []
    overlaps = []

    def work() -> None:
        for _ in range(20):
            if lock.acquire():
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.001)
                inside.pop()
                lock.release()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlaps == []


def _hold_and_record(kind: str, where: str, path: str, rounds: int) -> None:
    backend = RedisBackend(where) if kind == "redis" else DiskCacheBackend(where)
    lock = Lock("cross", backend=backend)
    done = 0
    while done < rounds:
        if lock.acquire():
            with open(path, "a") as f:
                f.write("in\n")
                f.flush()
                time.sleep(0.002)
                f.write("out\n")
            lock.release()
            done += 1


@pytest.mark.parametrize("kind", ["redis", "disk"])
def test_lock_excludes_across_processes(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    where = request.getfixturevalue("redis_url") if kind == "redis" else str(tmp_path / "dc")
    log = tmp_path / "log.txt"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_hold_and_record, args=(kind, where, str(log), 15)) for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lines = log.read_text().split()
    assert len(lines) == 4 * 15 * 2
    assert lines == ["in", "out"] * (4 * 15)
