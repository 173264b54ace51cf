"""Messages stored by earlier versions (the full payload; on Redis the index of entries,
long members and lease hashes) are still read, ordered, inspected and run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from alsek.core import Broker, Message
from alsek.core.worker import WorkerPool
from alsek.effects.backends.operations_for import operations_for
from alsek.pure.keys import get_message_name
from alsek.pure.redis_keys import index_key, registry_key, store_key
from alsek.pure.transitions import unclaimed
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt

NS = "alsek"


def now_ms() -> int:
    return int(time.time() * 1000)


def full_json(message: Message) -> str:
    """A message's value as earlier versions stored it: every field, as JSON."""
    return json.dumps(unclaimed(message).data, separators=(",", ":"))


def write_old_redis(
    client: redis.Redis,
    message: Message,
    state: str = "ready",
    token: str = "old-token",
    deadline: int = 0,
    deliveries: int = 0,
) -> str:
    """Store ``message`` in the layout of earlier versions, by hand."""
    name = get_message_name(message)
    queue, kind = message.queue, message.slot_kind

    def idx(part: str) -> str:
        return index_key(NS, queue, part)

    member = f"{message.ready_at:015d}|{message.created_at:015d}|{message.uuid}|{name}"
    client.set(store_key(NS, name), full_json(message))
    client.hset(idx("entries"), name, f"{kind}|{message.priority}|{member}")
    client.hset(idx("submits"), name, "an-old-submission")
    client.sadd(registry_key(NS), queue)
    if deliveries:
        client.hset(idx("deliveries"), name, deliveries)
    if state == "ready":
        client.zadd(idx(f"ready:{kind}"), {member: message.priority})
    elif state == "delayed":
        client.zadd(idx("delayed"), {name: message.ready_at})
    else:
        client.zadd(idx("leased"), {name: deadline})
        client.hset(idx("leases"), name, token)
    return name


@pytest.fixture()
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture()
def bound_redis(redis_url: str) -> Iterator[tuple[Broker, ResultStore]]:
    backend = RedisBackend(redis_url)
    broker, store = Broker(backend), ResultStore(backend)
    wt.bind(broker, store)
    yield broker, store
    wt.bind(wt.placeholder, None)


def test_old_messages_on_redis_are_read_and_run_with_new_ones(
    client: redis.Redis, bound_redis: tuple[Broker, ResultStore]
) -> None:
    broker, store = bound_redis
    now = now_ms()
    ready = [wt.t_echo.generate(args=(f"ready-{i}",), submit=False) for i in range(3)]
    due = wt.p_echo.generate(args=("due",), delay=1, submit=False)
    lapsed = wt.t_echo.generate(args=("lapsed",), submit=False)
    for message in ready:
        write_old_redis(client, message)
    write_old_redis(client, due, "delayed")
    write_old_redis(client, lapsed, "leased", deadline=now - 1, deliveries=1)
    new = wt.t_echo.generate(args=("new",))
    # Read as they were written.
    for message in [*ready, due, lapsed]:
        assert broker.sync(message) == unclaimed(message)
    assert broker.counts(ready[0].queue)["leased"] == 1
    with WorkerPool(wt.ALL, max_threads=2, max_processes=1):
        for message in [*ready, due, lapsed, new]:
            assert store.get(message, timeout=30_000) == message.args[0]
    assert broker.counts(ready[0].queue) == {"ready": 0, "delayed": 0, "leased": 0}
    # Nothing is left of the old index once its messages are done.
    queue = ready[0].queue
    for part in ("entries", "submits", "deliveries", "leases"):
        assert client.hlen(index_key(NS, queue, part)) == 0, part


def test_old_messages_keep_their_order_and_run_before_new_ones_of_their_priority(
    client: redis.Redis, redis_url: str
) -> None:
    broker = Broker(RedisBackend(redis_url))
    make = Message
    old_low = make(task_name="t", queue="q", mechanism="thread", priority=5)
    old_first = make(task_name="t", queue="q", mechanism="thread")
    old_second = make(task_name="t", queue="q", mechanism="thread")
    write_old_redis(client, old_low)
    write_old_redis(client, old_first)
    write_old_redis(client, old_second)
    new_first = broker.submit(make(task_name="t", queue="q", mechanism="thread"))
    new_urgent = broker.submit(make(task_name="t", queue="q", mechanism="thread", priority=-1))
    batch = broker.claim(["q"], ["thread"], 60_000, [f"t{i}" for i in range(5)])
    order = [claim.name.rsplit(":", 1)[1] for claim in batch.claims]
    expected = [new_urgent, old_first, old_second, new_first, old_low]
    assert order == [m.uuid for m in expected]
    assert [claim.deliveries for claim in batch.claims] == [1] * 5
    for claim, message in zip(batch.claims, expected, strict=True):
        assert claim.payload == unclaimed(message).data | {"args": list(message.args)}


def test_an_old_lapsed_lease_counts_its_delivery(client: redis.Redis, redis_url: str) -> None:
    broker = Broker(RedisBackend(redis_url))
    message = Message(task_name="t", queue="q", mechanism="process")
    write_old_redis(client, message, "leased", deadline=now_ms() - 1, deliveries=2)
    (claim,) = broker.claim(["q"], ["process"], 60_000, ["new"]).claims
    assert claim.deliveries == 3
    # Claimed, it is stored in the current layout: a nack keeps its count.
    held = broker.sync(message)
    assert broker.backend.release(
        "q", claim.name, "new", *_entry_and_data(held), "keep", now_ms()
    )
    (again,) = broker.claim(["q"], ["process"], 60_000, ["newer"]).claims
    assert again.deliveries == 4


def _entry_and_data(message: Message) -> tuple[object, object]:
    from alsek.pure.queue_model import entry_for

    stored = unclaimed(message)
    return entry_for(stored, get_message_name(stored)), stored.data


def test_old_waiting_messages_are_inspected_found_and_cancelled(
    client: redis.Redis, redis_url: str
) -> None:
    broker = Broker(RedisBackend(redis_url))
    ops = operations_for(broker.backend)
    waiting = Message(task_name="t", queue="q", mechanism="thread")
    later = Message(task_name="t", queue="q", mechanism="thread", delay=600_000)
    running = Message(task_name="t", queue="q", mechanism="thread")
    for message, state in ((waiting, "ready"), (later, "delayed"), (running, "leased")):
        write_old_redis(client, message, state, deadline=now_ms() + 60_000, deliveries=1)
    now = now_ms()
    place = ops.place(get_message_name(waiting), now)
    assert place is not None and place.state == "ready"
    place = ops.place(get_message_name(later), now)
    assert place is not None and place.state == "delayed"
    place = ops.place(get_message_name(running), now)
    assert place is not None and place.state == "running" and place.deliveries == 1
    assert ops.find(waiting.uuid) == [get_message_name(waiting)]
    assert ops.oldest_ready_age("q", now) is not None
    assert ops.cancel_waiting("q", get_message_name(running), now) == "running"
    assert ops.cancel_waiting("q", get_message_name(later), now) == "removed"
    assert broker.remove(waiting)
    assert not broker.exists(waiting) and not broker.exists(later)
    assert broker.counts("q") == {"ready": 0, "delayed": 0, "leased": 1}
    assert client.hlen(index_key(NS, "q", "entries")) == 1  # the running one's


def test_old_messages_on_diskcache_are_read_and_run(tmp_path: Path) -> None:
    backend = DiskCacheBackend(str(tmp_path / "cache"))
    broker, store = Broker(backend), ResultStore(backend)
    wt.bind(broker, store)
    try:
        messages = [wt.t_echo.generate(args=(i,)) for i in range(3)]
        messages += [wt.p_echo.generate(args=("p",))]
        for message in messages:  # the payload as earlier versions stored it
            backend.conn.set(backend.full_name(get_message_name(message)), full_json(message))
            assert broker.sync(message) == unclaimed(message)
        fresh = wt.t_echo.generate(args=("fresh",))
        with WorkerPool(wt.ALL, max_threads=2, max_processes=1):
            for message in [*messages, fresh]:
                assert store.get(message, timeout=30_000) == message.args[0]
    finally:
        wt.bind(wt.placeholder, None)


def test_a_queued_message_is_stored_compact(
    client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    message = Message(task_name="noop", queue="q", mechanism="thread", uuid="u1", created_at=5)
    Broker(RedisBackend(redis_url)).submit(message)
    value = client.get(store_key(NS, get_message_name(message)))
    assert value is not None and value.startswith(b"@t") and len(value) < 44
    disk = DiskCacheBackend(str(tmp_path / "c"))
    Broker(disk).submit(message)
    raw = disk.conn.get(disk.full_name(get_message_name(message)))
    assert json.loads(raw) == {"c": 5, "m": "thread", "b": None}
