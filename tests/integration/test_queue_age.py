"""Broker.oldest_ready_age: how long the oldest ready message of a queue has waited."""

from __future__ import annotations

import time

from alsek.core import Broker, Message
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock


def message(
    uuid: str, now: int, priority: int = 0, delay: int = 0, mechanism: str = "thread"
) -> Message:
    return Message(
        task_name="t",
        uuid=uuid,
        created_at=now,
        priority=priority,
        delay=delay,
        mechanism=mechanism,  # type: ignore[arg-type]
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
