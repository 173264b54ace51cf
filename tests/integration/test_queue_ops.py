"""Queue operations of every backend: order, leases, fencing, delivery counts, exclusivity."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from alsek.effects.backends.base import Backend
from alsek.pure.queue_model import IndexEntry
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend

NOW = 1_700_000_000_000
MECHS = ("thread", "process")


def entry(
    uuid: str,
    priority: int = 0,
    ready_at: int = NOW,
    created: int = 0,
    queue: str = "q",
    mechanism: str = "thread",
) -> IndexEntry:
    return IndexEntry(
        queue, f"queues:{queue}:tasks:t:messages:{uuid}", mechanism, priority, ready_at, created
    )


def payload(e: IndexEntry) -> dict[str, object]:
    # The generic backend reads order from the message data itself.
    return {
        "task_name": "t",
        "queue": e.queue,
        "uuid": e.name.rsplit(":", 1)[1],
        "priority": e.priority,
        "created_at": e.created_at,
        "updated_at": e.ready_at,
        "delay": 0,
        "mechanism": e.mechanism,
    }


def put(backend: Backend, e: IndexEntry, now: int = NOW) -> bool:
    return backend.enqueue(e, payload(e), now, virtual=True)


def uuids(batch: object) -> list[str]:
    return [c.name.rsplit(":", 1)[1] for c in batch.claims]  # type: ignore[attr-defined]


def test_claim_order_priority_then_ready_time_then_creation(any_backend: Backend) -> None:
    put(any_backend, entry("late", ready_at=NOW - 10, created=5))
    put(any_backend, entry("low", priority=5, ready_at=NOW - 100))
    put(any_backend, entry("early", ready_at=NOW - 50, created=9))
    put(any_backend, entry("tie-b", ready_at=NOW - 10, created=1))
    put(any_backend, entry("tie-a", ready_at=NOW - 10, created=1))
    batch = any_backend.claim(["q"], MECHS, NOW, 1000, [f"t{i}" for i in range(5)], virtual=True)
    assert uuids(batch) == ["early", "tie-a", "tie-b", "late", "low"]


def test_negative_and_extreme_priorities_order_exactly(any_backend: Backend) -> None:
    for name, priority in [
        ("max", 2**31 - 1),
        ("min", -(2**31)),
        ("zero", 0),
        ("minus1", -1),
        ("max-1", 2**31 - 2),
    ]:
        put(any_backend, entry(name, priority=priority))
    batch = any_backend.claim(["q"], MECHS, NOW, 1000, [str(i) for i in range(5)], virtual=True)
    assert uuids(batch) == ["min", "minus1", "zero", "max-1", "max"]


def test_delayed_messages_wait_and_report_when_to_look_again(any_backend: Backend) -> None:
    put(any_backend, entry("later", ready_at=NOW + 500))
    batch = any_backend.claim(["q"], MECHS, NOW, 1000, ["a"], virtual=True)
    assert batch.claims == () and batch.next_wake == NOW + 500
    assert any_backend.queue_counts("q", NOW, virtual=True) == {
        "ready": 0,
        "delayed": 1,
        "leased": 0,
    }
    batch = any_backend.claim(["q"], MECHS, NOW + 500, 1000, ["a"], virtual=True)
    assert uuids(batch) == ["later"]


def test_queue_order_is_respected(any_backend: Backend) -> None:
    put(any_backend, entry("in-b", queue="b", priority=-100))
    put(any_backend, entry("in-a", queue="a", priority=100))
    assert uuids(any_backend.claim(["a", "b"], MECHS, NOW, 1000, ["1"], virtual=True)) == ["in-a"]
    put(any_backend, entry("in-a2", queue="a"))
    assert uuids(any_backend.claim(["b", "a"], MECHS, NOW, 1000, ["2"], virtual=True)) == ["in-b"]
    # No subset: every known queue, alphabetically.
    assert uuids(any_backend.claim(None, MECHS, NOW, 1000, ["3"], virtual=True)) == ["in-a2"]
    assert any_backend.known_queues() == ["a", "b"]


def test_mechanism_filter(any_backend: Backend) -> None:
    put(any_backend, entry("proc", mechanism="process", priority=-1))
    put(any_backend, entry("thr", mechanism="thread"))
    assert uuids(any_backend.claim(["q"], ("thread",), NOW, 1000, ["1"], virtual=True)) == ["thr"]
    batch = any_backend.claim(["q"], ("thread",), NOW, 1000, ["2"], virtual=True)
    assert batch.claims == ()
    assert uuids(any_backend.claim(["q"], ("process",), NOW, 1000, ["3"], virtual=True)) == ["proc"]


def test_lease_fencing(any_backend: Backend) -> None:
    e = entry("m")
    put(any_backend, e)
    first = any_backend.claim(["q"], MECHS, NOW, 100, ["tok-1"], virtual=True).claims[0]
    assert first.token == "tok-1" and first.deliveries == 1 and first.deadline == NOW + 100
    # Held: nobody else gets it.
    assert any_backend.claim(["q"], MECHS, NOW + 50, 100, ["tok-2"], virtual=True).claims == ()
    assert any_backend.renew("q", e.name, "tok-1", NOW + 50, 100, virtual=True)
    assert not any_backend.renew("q", e.name, "nope", NOW + 50, 100, virtual=True)
    # Renewed to NOW + 150: still held at NOW + 120.
    assert any_backend.claim(["q"], MECHS, NOW + 120, 100, ["tok-2"], virtual=True).claims == ()
    # Expired: another consumer takes over; the old token is refused everywhere.
    second = any_backend.claim(["q"], MECHS, NOW + 200, 100, ["tok-2"], virtual=True).claims[0]
    assert second.deliveries == 2
    assert not any_backend.renew("q", e.name, "tok-1", NOW + 200, 100, virtual=True)
    assert not any_backend.ack("q", e.name, "tok-1")
    assert not any_backend.release(
        "q", e.name, "tok-1", e, payload(e), "keep", NOW + 200, virtual=True
    )
    assert not any_backend.dead_letter("q", e.name, "tok-1", "dlq:x", {"r": 1}, None)
    assert any_backend.ack("q", e.name, "tok-2")
    assert not any_backend.exists(e.name)
    assert any_backend.queue_counts("q", NOW + 200, virtual=True) == {
        "ready": 0,
        "delayed": 0,
        "leased": 0,
    }


def test_release_keeps_resets_or_takes_back_the_delivery_count(any_backend: Backend) -> None:
    e = entry("m")
    put(any_backend, e)
    claim = any_backend.claim(["q"], MECHS, NOW, 100, ["a"], virtual=True).claims[0]
    assert any_backend.release("q", e.name, "a", e, payload(e), "keep", NOW, virtual=True)
    claim = any_backend.claim(["q"], MECHS, NOW, 100, ["b"], virtual=True).claims[0]
    assert claim.deliveries == 2
    assert any_backend.release("q", e.name, "b", e, payload(e), "uncount", NOW, virtual=True)
    claim = any_backend.claim(["q"], MECHS, NOW, 100, ["c"], virtual=True).claims[0]
    assert claim.deliveries == 2
    later = entry("m", ready_at=NOW + 300)
    new_payload = {**payload(later), "retries": 1}
    assert any_backend.release("q", e.name, "c", later, new_payload, "reset", NOW, virtual=True)
    assert any_backend.claim(["q"], MECHS, NOW + 299, 100, ["d"], virtual=True).claims == ()
    claim = any_backend.claim(["q"], MECHS, NOW + 300, 100, ["d"], virtual=True).claims[0]
    assert claim.deliveries == 1 and claim.payload["retries"] == 1


def test_dead_letter_moves_the_message(any_backend: Backend) -> None:
    e = entry("m")
    put(any_backend, e)
    any_backend.claim(["q"], MECHS, NOW, 100, ["a"], virtual=True)
    assert any_backend.dead_letter("q", e.name, "a", "dlq:" + e.name, {"why": "x"}, None)
    assert not any_backend.exists(e.name)
    assert any_backend.get("dlq:" + e.name) == {"why": "x"}
    assert any_backend.claim(["q"], MECHS, NOW + 10_000, 100, ["b"], virtual=True).claims == ()


def test_enqueue_nx_refuses_duplicates(any_backend: Backend) -> None:
    e = entry("m")
    assert put(any_backend, e)
    assert not put(any_backend, e)
    assert any_backend.queue_counts("q", NOW, virtual=True)["ready"] == 1


def test_enqueue_many_writes_the_absent_ones_in_order(any_backend: Backend) -> None:
    assert any_backend.enqueue_many([], NOW, virtual=True) == []
    assert put(any_backend, entry("b", created=1))
    items = [(entry(u, created=i), payload(entry(u, created=i))) for i, u in enumerate("abc")]
    assert any_backend.enqueue_many(items, NOW, virtual=True) == [True, False, True]
    assert any_backend.queue_counts("q", NOW, virtual=True)["ready"] == 3
    batch = any_backend.claim(["q"], MECHS, NOW, 100, ["x", "y", "z"], virtual=True)
    assert uuids(batch) == ["a", "b", "c"]
    assert batch.claims[1].payload["created_at"] == 1  # the first "b" was kept


def test_unconditional_ack_of_a_waiting_message(any_backend: Backend) -> None:
    e = entry("m", ready_at=NOW + 1000)
    put(any_backend, e)
    assert any_backend.ack("q", e.name, None)
    assert any_backend.claim(["q"], MECHS, NOW + 2000, 100, ["a"], virtual=True).claims == ()
    assert not any_backend.ack("q", e.name, None)


def _claim_loop(kind: str, where: str, token_prefix: str, results: list[str]) -> None:
    backend = RedisBackend(where) if kind == "redis" else DiskCacheBackend(where)
    i = 0
    while True:
        batch = backend.claim(["q"], MECHS, NOW, 60_000, [f"{token_prefix}-{i}"], virtual=True)
        if not batch.claims:
            return
        results.append(batch.claims[0].name)
        i += 1


def _process_claimer(kind: str, where: str, prefix: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    found: list[str] = []
    _claim_loop(kind, where, prefix, found)
    out.put(found)


@pytest.mark.parametrize("kind", ["redis", "disk"])
def test_eight_concurrent_process_claimers_never_share_a_message(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    where = request.getfixturevalue("redis_url") if kind == "redis" else str(tmp_path / "dc")
    backend = RedisBackend(where) if kind == "redis" else DiskCacheBackend(where)
    total = 400
    for i in range(total):
        put(backend, entry(f"m{i}", created=i))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_process_claimer, args=(kind, where, f"p{n}", out)) for n in range(8)
    ]
    for p in procs:
        p.start()
    claimed = [name for _ in procs for name in out.get(timeout=120)]
    for p in procs:
        p.join(30)
    assert len(claimed) == total
    assert len(set(claimed)) == total


def test_eight_concurrent_thread_claimers_never_share_a_message(any_backend: Backend) -> None:
    total = 200 if not isinstance(any_backend, (RedisBackend, DiskCacheBackend)) else 400
    for i in range(total):
        put(any_backend, entry(f"m{i}", created=i))
    results: list[list[str]] = [[] for _ in range(8)]

    def loop(n: int) -> None:
        i = 0
        while True:
            batch = any_backend.claim(["q"], MECHS, NOW, 60_000, [f"t{n}-{i}"], virtual=True)
            if not batch.claims:
                return
            results[n].append(batch.claims[0].name)
            i += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    claimed = [name for r in results for name in r]
    assert len(claimed) == total and len(set(claimed)) == total


def test_redis_claim_cost_does_not_depend_on_queue_length(redis_url: str) -> None:
    """One claim is one EVALSHA whose server-side work is O(log n): count commands."""
    import redis

    backend = RedisBackend(redis_url)
    client = redis.Redis.from_url(redis_url)
    for n in (10, 2000):
        client.flushall()
        pipe = [entry(f"m{i}", created=i, ready_at=NOW - 1) for i in range(n)]
        for e in pipe:
            put(backend, e)
        backend.claim(["q"], MECHS, NOW, 1000, ["warm"], virtual=True)
        client.config_resetstat()
        backend.claim(["q"], MECHS, NOW, 1000, ["x"], virtual=True)
        stats = client.info("commandstats")
        calls = sum(v["calls"] for k, v in stats.items() if k != "cmdstat_config")
        assert stats["cmdstat_evalsha"]["calls"] == 1
        assert calls < 20, stats
