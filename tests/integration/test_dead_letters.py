"""Dead letters on every backend: bad records never break reading, actions act on the key
where a record was found, ``dlq_ttl`` bounds (or disables) the queue, bulk actions.

Runs on Redis, DiskCache and the tour's custom backend (``any_backend``); the
glob backend (``test_glob_backend``) reuses the reading tests.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.effects.backends.base import Backend
from alsek.effects.backends.disk import DiskCacheBackend
from alsek.effects.backends.redis import RedisBackend
from alsek.effects.clock import ManualClock
from alsek.effects.dead_letters import matching_names
from alsek.effects.failures import read_failure, write_failure
from alsek.exceptions import MessageExistsError, NotFoundError, ValidationError
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.failure import FailureRecord
from alsek.pure.keys import dead_letter_name
from alsek.testing import run_until_idle

START = 1_700_000_000_000
WEEK = 7 * 24 * 3600 * 1000
KEY = "dlq:queues:q:tasks:t:messages:"


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture()
def broker(any_backend: Backend, clock: ManualClock) -> Broker:
    broker = Broker(any_backend, clock=clock)
    # Build the (empty) index first, so that every dead letter below is found through
    # the entries written with it, not by the one-time indexing of older records.
    assert broker.dead_letter_counts() == {}
    return broker


def dead(broker: Broker, clock: ManualClock, uuid: str, queue: str = "q", task: str = "t") -> None:
    """A message submitted, then failed (a dead letter of ``uuid``)."""
    message = Message(task_name=task, queue=queue, uuid=uuid, created_at=clock.now())
    broker.submit(message)
    clock.advance(10)
    assert broker.fail(message, f"ValueError: {uuid} broke")


def put_raw(backend: Backend, name: str, raw: bytes) -> None:
    """Store ``raw`` bytes at ``name`` as they are, behind the serializer's back."""
    full = backend.full_name(name)
    if isinstance(backend, (RedisBackend, DiskCacheBackend)):
        backend.conn.set(full, raw)
    else:
        backend.conn.data[full] = (raw, None)  # type: ignore[attr-defined]


def stored_ttl_ms(backend: Backend, name: str) -> float | None:
    """How long the value at ``name`` has left (ms; None: no expiry)."""
    full = backend.full_name(name)
    if isinstance(backend, RedisBackend):
        left = backend.conn.pttl(full)
        assert left != -2, f"{name} is not stored"
        return None if left == -1 else float(left)
    if isinstance(backend, DiskCacheBackend):
        value, expire = backend.conn.get(full, expire_time=True)
        assert value is not None, f"{name} is not stored"
        return None if expire is None else (expire - time.time()) * 1000
    _, expiry = backend.conn.data[full]  # type: ignore[attr-defined]
    return None if expiry is None else (expiry - time.time()) * 1000


def spoil(backend: Backend) -> dict[str, str]:
    """Hand-edit the dead letters of b..g into every kind of bad record; returns the
    problem expected (a fragment) by uuid."""
    good = backend.get(KEY + "a")
    backend.set(KEY + "b", ["not", "a", "record"])
    backend.set(KEY + "c", {"name": "queues:q:tasks:t:messages:c"})  # no reason, no time
    backend.set(KEY + "d", {**good, "name": "queues:q:tasks:t:messages:d", "failed_at": "now"})
    put_raw(backend, KEY + "e", b"\xff\xfe{not json")
    backend.set(KEY + "f", good)  # a's record under f's key
    message = {**good["message"], "uuid": "zz"}
    backend.set(KEY + "g", {**good, "name": "queues:q:tasks:t:messages:g", "message": message})
    return {
        "b": "expected a dead-letter record (a dict), got list",
        "c": "required field missing @ dead letter.reason",
        "d": "dead letter.failed_at",
        "e": "undecodable",
        "f": "is about 'queues:q:tasks:t:messages:a'",
        "g": "holds message 'zz'",
    }


# -- robust reading ----------------------------------------------------------------------


def test_bad_records_are_listed_as_unreadable_with_their_key(
    broker: Broker, clock: ManualClock
) -> None:
    for uuid in "abcdefgh":
        dead(broker, clock, uuid)
    problems = spoil(broker.backend)

    records = {r.uuid: r for r in broker.dead_letters()}

    assert sorted(records) == list("abcdefgh")
    assert records["a"].readable and records["h"].readable
    for uuid, fragment in problems.items():
        record = records[uuid]
        assert not record.readable and fragment in (record.problem or ""), (uuid, record)
        assert record.key == KEY + uuid and record.message is None
        assert broker.get_dead_letter(uuid) == record  # found by uuid, unreadable
    assert records["b"].raw == "['not', 'a', 'record']"
    assert broker.dead_letter_counts() == {"q": 8}
    assert [r.uuid for r in broker.dead_letters(queue="q", task="t")] == [
        r.uuid for r in broker.dead_letters()
    ]


def test_bad_records_are_skipped_by_resubmit_and_can_be_removed(
    broker: Broker, clock: ManualClock
) -> None:
    for uuid in "abcdefgh":
        dead(broker, clock, uuid)
    problems = spoil(broker.backend)

    bulk = broker.resubmit_dead_letters()

    assert sorted(bulk.done) == [KEY + "a", KEY + "h"]
    assert sorted(key for key, _ in bulk.skipped) == [KEY + u for u in sorted(problems)]
    assert all("it can only be removed" in why for _, why in bulk.skipped)
    assert broker.counts("q")["ready"] == 2
    for uuid in problems:
        with pytest.raises(ValidationError, match="it can only be removed"):
            broker.resubmit_dead_letter(uuid)
    broker.remove_dead_letter("b")  # by uuid
    broker.remove_dead_letter(KEY + "e")  # by key
    assert sorted(r.uuid for r in broker.dead_letters()) == ["c", "d", "f", "g"]
    assert sorted(broker.remove_dead_letters().done) == [KEY + u for u in "cdfg"]
    assert list(broker.dead_letters()) == [] and broker.dead_letter_counts() == {}


def test_a_record_naming_another_message_is_acted_on_where_it_was_found(
    broker: Broker, clock: ManualClock
) -> None:
    dead(broker, clock, "a")
    dead(broker, clock, "f")
    broker.backend.set(KEY + "f", broker.backend.get(KEY + "a"))
    with pytest.raises(ValidationError, match=KEY + "f"):
        broker.resubmit_dead_letter("f")
    broker.remove_dead_letter("f")
    assert [r.uuid for r in broker.dead_letters()] == ["a"]  # a's own dead letter stays
    assert broker.get_dead_letter("a").readable


def test_several_dead_letters_of_one_uuid_are_named_by_key(
    broker: Broker, clock: ManualClock
) -> None:
    dead(broker, clock, "u", queue="q1")
    dead(broker, clock, "u", queue="q2")
    assert [r.queue for r in broker.find_dead_letters("u")] == ["q1", "q2"]
    with pytest.raises(ValidationError, match="2 dead letters hold message 'u'"):
        broker.get_dead_letter("u")
    first = "dlq:queues:q1:tasks:t:messages:u"
    back = broker.resubmit_dead_letter(first)
    assert back.queue == "q1" and broker.counts("q1")["ready"] == 1
    assert [r.key for r in broker.dead_letters()] == ["dlq:queues:q2:tasks:t:messages:u"]
    with pytest.raises(NotFoundError):
        broker.get_dead_letter(first)


# -- actions ----------------------------------------------------------------------------


def test_resubmitting_forgets_the_last_error(broker: Broker, clock: ManualClock) -> None:
    dead(broker, clock, "a")
    dead(broker, clock, "b")
    for uuid in ("a", "b"):
        failure = FailureRecord(uuid, "t", "q", "failed", "ValueError", "x", "tb", 4, 1, True, 5)
        write_failure(broker.backend, failure)
        assert read_failure(broker.backend, uuid) is not None
    broker.resubmit_dead_letter("a")
    assert read_failure(broker.backend, "a") is None
    broker.resubmit_dead_letters()
    assert read_failure(broker.backend, "b") is None
    assert broker.counts("q")["ready"] == 2


def test_bulk_resubmit_keeps_a_dead_letter_whose_uuid_is_queued_again(
    broker: Broker, clock: ManualClock
) -> None:
    for uuid in ("a", "b", "c"):
        dead(broker, clock, uuid)
    broker.submit(Message(task_name="t", queue="q", uuid="b", created_at=clock.now()))
    seen: list[int] = []
    bulk = broker.resubmit_dead_letters(progress=seen.append)
    assert sorted(bulk.done) == [KEY + "a", KEY + "c"]
    assert [(key, "queued again" in why) for key, why in bulk.skipped] == [(KEY + "b", True)]
    assert sum(seen) == 3
    assert [r.uuid for r in broker.dead_letters()] == ["b"]
    with pytest.raises(MessageExistsError):
        broker.resubmit_dead_letter("b")


def test_filters_by_queue_task_and_time(broker: Broker, clock: ManualClock) -> None:
    dead(broker, clock, "a", queue="q1", task="t1")
    dead(broker, clock, "b", queue="q1", task="t2")
    cut = clock.now() + 1
    dead(broker, clock, "c", queue="q2", task="t1")
    dead(broker, clock, "d", queue="q10", task="t1")

    def uuids(**where: Any) -> list[str]:
        return [r.uuid for r in broker.dead_letters(**where)]

    assert uuids() == ["a", "b", "c", "d"]
    assert uuids(queue="q1") == ["a", "b"]
    assert uuids(task="t1") == ["a", "c", "d"]
    assert uuids(queue="q1", task="t1") == ["a"]
    assert uuids(since=cut) == ["c", "d"]
    assert uuids(queue="q1", since=cut) == []
    assert broker.dead_letter_counts() == {"q1": 2, "q2": 1, "q10": 1}
    late = matching_names(broker, DeadLetterFilter(task="t1", since=cut))
    assert sorted(late) == ["queues:q10:tasks:t1:messages:d", "queues:q2:tasks:t1:messages:c"]
    assert broker.remove_dead_letters(broker.dead_letters(task="t1", since=cut)).done == (
        "dlq:queues:q2:tasks:t1:messages:c",
        "dlq:queues:q10:tasks:t1:messages:d",
    )
    assert uuids() == ["a", "b"]


# -- dlq_ttl -----------------------------------------------------------------------------


def test_the_default_ttl_is_set_on_the_stored_record(broker: Broker, clock: ManualClock) -> None:
    assert broker.dlq_ttl == WEEK
    dead(broker, clock, "a")
    left = stored_ttl_ms(broker.backend, KEY + "a")
    assert left is not None and WEEK - 60_000 < left <= WEEK


def test_a_given_ttl_is_set_and_honoured(any_backend: Backend, clock: ManualClock) -> None:
    broker = Broker(any_backend, dlq_ttl=400, clock=clock)
    dead(broker, clock, "a")
    left = stored_ttl_ms(any_backend, KEY + "a")
    assert left is not None and 0 < left <= 400
    deadline = time.monotonic() + 10
    while broker.dead_letter_counts():
        assert time.monotonic() < deadline, "the dead letter never expired"
        time.sleep(0.05)
    assert list(broker.dead_letters()) == []
    with pytest.raises(NotFoundError):
        broker.get_dead_letter("a")


def test_dlq_ttl_none_keeps_no_dead_letters_but_the_failure_is_recorded(
    any_backend: Backend,
) -> None:
    broker = Broker(any_backend, dlq_ttl=None)

    @task(broker, name="always_fails", max_retries=1, mechanism="thread")
    def always_fails() -> None:
        raise ValueError("no dead letter for me")

    message = always_fails.generate()
    drained = run_until_idle(broker)
    assert [d.message.uuid for d in drained.dead_lettered] == [message.uuid]
    assert list(broker.dead_letters()) == [] and broker.dead_letter_counts() == {}
    assert list(any_backend.scan("dlq:*")) == []
    failure = read_failure(any_backend, message.uuid)
    assert failure is not None and failure.final and failure.attempts == 2
    assert "no dead letter for me" in failure.traceback


def test_a_dead_letter_carries_the_traceback_and_the_attempts(any_backend: Backend) -> None:
    broker = Broker(any_backend)

    @task(broker, name="breaks", max_retries=2, mechanism="thread")
    def breaks(x: int) -> None:
        raise RuntimeError(f"broken {x}")

    message = breaks.generate(args=(7,))
    run_until_idle(broker)
    record = broker.get_dead_letter(message.uuid)
    assert record.readable and record.attempts == 3
    assert record.traceback is not None and 'raise RuntimeError(f"broken {x}")' in record.traceback
    assert record.reason == "RuntimeError: broken 7 after 2 retries"
    assert record.key == dead_letter_name(record.name)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "7d", True])
def test_dlq_ttl_is_validated(any_backend: Backend, bad: object) -> None:
    with pytest.raises(ValidationError, match="dlq_ttl"):
        Broker(any_backend, dlq_ttl=bad)  # type: ignore[arg-type]
