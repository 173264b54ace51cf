"""Broker.oldest_ready_age: how long the oldest ready message of a queue has waited."""

from __future__ import annotations

import time

from alsek.core import Broker, Message
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock


def message(
    uuid: str,
    now: int,
    priority: int = 0,
    delay: int = 0,
    mechanism: str = "thread",
    is_async: bool = False,
) -> Message:
    return Message(
        task_name="t",
        uuid=uuid,
        created_at=now,
        priority=priority,
        delay=delay,
        mechanism=mechanism,  # type: ignore[arg-type]
        is_async=is_async,
    )


def test_the_oldest_ready_message_counts_whatever_its_priority(any_backend: Backend) -> None:
    clock = ManualClock()
    broker = Broker(any_backend, clock=clock)
    t0 = clock.now()
    assert broker.oldest_ready_age("alsek_queue") is None
    broker.submit(message("m1", t0, priority=5, mechanism="process"))
    clock.advance(100)
    broker.submit(message("m2", clock.now(), priority=0))
    broker.submit(message("m3", clock.now(), priority=-3, delay=1_000))
    clock.advance(200)
    assert broker.oldest_ready_age("alsek_queue") == 300  # m1, behind m2 in claim order
    assert broker.oldest_ready_age("other") is None
    clock.advance(1_200)  # m3 became ready at t0 + 1100: still younger than m1
    assert broker.oldest_ready_age("alsek_queue") == 1_500
    (claim,) = broker.claim(None, ["process"], 10_000, ["tok"]).claims
    assert claim.name.endswith(":m1")  # running now: no longer waiting
    assert broker.oldest_ready_age("alsek_queue") == clock.now() - (t0 + 100)


def test_an_idle_queue_has_no_age_and_a_fresh_one_is_young(backend: Backend) -> None:
    broker = Broker(backend)
    broker.submit(message("fresh", broker.clock.now()))
    time.sleep(0.05)
    age = broker.oldest_ready_age("alsek_queue")
    assert age is not None and 0 <= age < 60_000
    assert len(broker.claim(None, ["thread"], 10_000, ["tok"]).claims) == 1
    assert broker.oldest_ready_age("alsek_queue") is None


def test_ready_messages_are_counted_per_mechanism_as_they_become_due(
    any_backend: Backend,
) -> None:
    from alsek.effects.backends.operations_for import operations_for

    clock = ManualClock()
    broker = Broker(any_backend, clock=clock)
    operations = operations_for(any_backend)

    def by_mechanism() -> dict[str, int]:
        counts = operations.ready_by_mechanism("alsek_queue", clock.now(), virtual=True)
        assert sum(counts.values()) == broker.counts("alsek_queue")["ready"]
        return counts

    assert by_mechanism() == {}
    t0 = clock.now()
    for i in range(3):
        broker.submit(message(f"t{i}", t0))
    broker.submit(message("p0", t0, mechanism="process"))
    broker.submit(message("p1", t0, delay=500, mechanism="process"))
    broker.submit(message("t9", t0, delay=5_000))
    broker.submit(message("a0", t0, is_async=True))  # a coroutine: the event loop's slots
    broker.submit(message("a1", t0, delay=500, is_async=True))
    assert by_mechanism() == {"thread": 3, "process": 1, "async": 1}
    clock.advance(600)  # p1 and a1 are due (not yet moved by a claim on Redis)
    assert by_mechanism() == {"thread": 3, "process": 2, "async": 2}
    assert len(broker.claim(None, ["thread"], 10_000, ["a", "b"]).claims) == 2
    assert by_mechanism() == {"thread": 1, "process": 2, "async": 2}  # running: not ready
    assert operations.ready_by_mechanism("other", clock.now(), virtual=True) == {}
