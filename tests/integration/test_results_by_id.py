"""Results by uuid from any process, result ttls, ``keep``, and descendants without scans."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.core.consumer import Consumer
from alsek.effects.backends.base import Backend
from alsek.effects.execution import run_message
from alsek.exceptions import NotFoundError, ResultTimeoutError, ValidationError
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

ROOT = Path(__file__).resolve().parents[2]


def drain(broker: Broker) -> None:
    consumer = Consumer(broker)
    for _ in range(100):
        found = consumer.claim(("thread", "process"), 1)
        if not found.messages:
            return
        for message in found.messages:
            run_message(message, broker)


def msg(uuid: str, **fields: Any) -> Message:
    return Message(task_name="t", uuid=uuid, **fields)


def wait_until_gone(store: ResultStore, target: Message | str, within_s: float = 10) -> float:
    """Seconds until no result is stored for ``target`` (bounded)."""
    started = time.monotonic()
    while store.exists(target):
        assert time.monotonic() - started < within_s, "the result never expired"
        time.sleep(0.02)
    return time.monotonic() - started


def test_get_exists_and_delete_take_a_uuid(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    store.set(msg("by-id"), {"v": 1})
    assert store.exists("by-id")
    assert store.get("by-id", keep=True) == {"v": 1}
    assert store.get("by-id", keep=True, with_metadata=True)["uuid"] == "by-id"
    assert store.delete("by-id") == 1
    assert not store.exists("by-id")
    with pytest.raises(NotFoundError, match="no result stored for message 'by-id'"):
        store.get("by-id")
    with pytest.raises(ResultTimeoutError, match="message 'by-id' within 30 ms"):
        store.get("by-id", timeout=30)
    with pytest.raises(NotFoundError, match="message 'by-id'"):
        store.delete("by-id")
    for bad in (42, "", None):
        with pytest.raises(ValidationError, match="a Message or a message uuid"):
            store.get(bad)  # type: ignore[arg-type]


def test_a_result_is_read_by_uuid_in_another_process(backend: Backend) -> None:
    broker = Broker(backend)
    results = ResultStore(backend)

    @task(broker, name="rid_square", result_store=results, mechanism="thread")
    def rid_square(x: int) -> int:
        return x * x

    uuid = rid_square.delay(7).uuid
    drain(broker)
    if isinstance(backend, RedisBackend):
        make = f"RedisBackend({backend.describe()!r})"
    else:
        assert isinstance(backend, DiskCacheBackend)
        make = f"DiskCacheBackend({backend.directory!r})"
    code = (
        "from alsek.storage.backends.redis import RedisBackend\n"
        "from alsek.storage.backends.disk import DiskCacheBackend\n"
        "from alsek.storage.result import ResultStore\n"
        f"print(ResultStore({make}).get({uuid!r}, timeout=5000))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.stdout.strip() == "49", done.stderr
    assert not results.exists(uuid)  # read without keep: gone for everyone


def test_keep_false_deletes_on_read_and_keep_true_leaves_it(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    store.set(msg("kept"), 1)
    assert store.get("kept", keep=True) == 1
    assert store.get(msg("kept"), keep=True) == 1
    assert store.get("kept") == 1
    with pytest.raises(NotFoundError):
        store.get("kept")


def test_results_expire_after_the_message_task_or_store_ttl(backend: Backend) -> None:
    broker = Broker(backend)
    store = ResultStore(backend, ttl=timedelta(milliseconds=300))
    assert store.ttl == 300

    @task(broker, name="rid_ttl_task", result_store=store, mechanism="thread", result_ttl=200)
    def rid_ttl_task() -> int:
        return 1

    @task(broker, name="rid_ttl_store", result_store=store, mechanism="thread")
    def rid_ttl_store() -> int:
        return 2

    @task(broker, name="rid_ttl_forever", result_store=ResultStore(backend), mechanism="thread")
    def rid_ttl_forever() -> int:
        return 3

    by_task = rid_ttl_task.delay()
    by_message = rid_ttl_task.generate(result_ttl=timedelta(minutes=5))
    by_store = rid_ttl_store.delay()
    forever = rid_ttl_forever.delay()
    assert (by_task.result_ttl, by_message.result_ttl, by_store.result_ttl) == (200, 300_000, None)
    drain(broker)
    assert all(store.exists(m) for m in (by_task, by_message, by_store, forever))
    wait_until_gone(store, by_task)
    wait_until_gone(store, by_store)
    assert store.exists(by_message) and store.exists(forever)
    if isinstance(backend, RedisBackend):
        pttl = backend.conn.pttl(backend.full_name(f"results:{by_message.uuid}"))
        assert 200_000 < pttl <= 300_000
        assert backend.conn.pttl(backend.full_name(f"results:{forever.uuid}")) == -1


def test_result_ttl_bounds_are_checked(any_backend: Backend) -> None:
    with pytest.raises(ValidationError, match="ResultStore ttl must be an int >= 1"):
        ResultStore(any_backend, ttl=0)
    with pytest.raises(ValidationError, match="result_ttl must be an int >= 1"):
        task(Broker(any_backend), name="rid_bad_ttl", result_ttl=timedelta(0))(lambda: 1)


def test_descendants_are_read_without_scanning_redis(redis_url: str) -> None:
    backend = RedisBackend(redis_url)
    store = ResultStore(backend, ttl=60_000)
    store.set(msg("d-child", progenitor="d-root"), 1)
    store.set(msg("d-grandchild", progenitor="d-child"), 2)
    store.set(msg("d-other", progenitor="d-root"), 3)
    keys = sorted(k.decode() for k in backend.conn.keys("alsek:descendants*"))
    assert keys == ["alsek:descendants:d-child", "alsek:descendants:d-root"]
    assert 0 < backend.conn.pttl("alsek:descendants:d-root") <= 60_000

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("descendants were looked up with a keyspace scan")

    backend.scan = no_scan  # type: ignore[method-assign]
    backend._scan_keys = no_scan  # type: ignore[method-assign]
    assert store.exists("d-root", descendants=True)
    assert sorted(store.get("d-root", descendants=True, keep=True)) == [1, 2, 3]
    assert sorted(store.get("d-root", descendants=True)) == [1, 2, 3]
    assert backend.conn.keys("alsek:descendants*") == []
    assert backend.conn.keys("alsek:results*") == []


def test_a_link_without_a_result_is_skipped(any_backend: Backend) -> None:
    store = ResultStore(any_backend)
    any_backend.add_descendant("l-root", "l-lost")  # the run that would write it was lost
    assert not store.exists("l-root", descendants=True)
    with pytest.raises(NotFoundError):
        store.get("l-root", descendants=True)
    store.set(msg("l-found", progenitor="l-root"), 5)
    assert store.get("l-root", descendants=True) == [5]
    assert any_backend.descendants("l-root") == []


def test_callback_results_are_linked_when_the_success_settles(backend: Backend) -> None:
    broker = Broker(backend)
    store = ResultStore(backend)

    @task(broker, name="rid_first", result_store=store, mechanism="thread")
    def rid_first(x: int) -> int:
        return x + 1

    @task(broker, name="rid_then", result_store=store, mechanism="thread")
    def rid_then(message: Message) -> int:
        return int(message.previous_result) * 10

    root = rid_first.generate(args=(1,), callback=rid_then.defer().generate())
    drain(broker)
    assert store.get(root.uuid, descendants=True) == [2, 20]
