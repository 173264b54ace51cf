"""The pool's observer events are enough to time it: claim round trips, outcomes, acks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.events import ClaimAnswered, Claimed, Event, Finished, Observer, Started
from alsek.pure.decisions import Ack
from tests.support import worker_tasks as wt


class Everything(Observer):
    """Keeps every event, in the order the pool told them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[Event] = []

    def _keep(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    on_claimed = on_claim_answered = on_started = on_outcome = on_released = _keep

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        with self.lock:
            return [event for event in self.events if isinstance(event, kind)]

    def wait_finished(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.of(Finished)) < count:
            assert time.monotonic() < deadline, f"{len(self.of(Finished))} of {count} finished"
            time.sleep(0.01)


@pytest.fixture()
def observed(backend: Backend) -> Iterator[tuple[WorkerPool, Everything, Broker]]:
    broker = Broker(backend)
    wt.bind(broker)
    seen = Everything()
    pool = WorkerPool([wt.t_echo, wt.p_echo], max_threads=2, max_processes=1, observers=[seen])
    pool.start()
    try:
        yield pool, seen, broker
    finally:
        pool.stop(grace_ms=2_000, timeout=30)
        wt.bind(wt.placeholder, None)


def test_every_claim_round_trip_is_reported_with_what_it_took(
    observed: tuple[WorkerPool, Everything, Broker],
) -> None:
    pool, seen, broker = observed
    messages = [wt.t_echo.generate(args=(n,)) for n in range(6)]
    messages += [wt.p_echo.generate(args=(n,)) for n in range(4)]
    seen.wait_finished(len(messages))
    pool.stop(grace_ms=2_000, timeout=30)
    answered = seen.of(ClaimAnswered)
    claimed = {event.token for event in seen.of(Claimed)}
    taken = [token for event in answered for token in event.tokens]
    assert sorted(taken) == sorted(claimed)  # each claimed lease in exactly one round trip
    for event in answered:
        assert event.sent_ns <= event.clock_ns
        assert len(event.tokens) <= event.asked
        assert event.by in ("dispatcher", "runner", "shutdown")
    assert {event.message.uuid for event in seen.of(Finished)} == {m.uuid for m in messages}
    assert not any(broker.exists(message) for message in messages)


def test_an_outcome_says_when_it_reached_the_pool_and_where_its_ack_went(
    observed: tuple[WorkerPool, Everything, Broker],
) -> None:
    pool, seen, broker = observed
    messages = [wt.p_echo.generate(args=(n,)) for n in range(3)]
    messages += [wt.t_echo.generate(args=(n,)) for n in range(5)]
    seen.wait_finished(len(messages))
    pool.stop(grace_ms=2_000, timeout=30)
    started = {event.message.uuid: event.clock_ns for event in seen.of(Started)}
    acked_by = {}
    for event in seen.of(ClaimAnswered):
        for token in event.acked:
            assert token not in acked_by, "an ack travels once"
            acked_by[token] = event
    for finished in seen.of(Finished):
        assert started[finished.message.uuid] <= finished.ended_ns <= finished.clock_ns
        assert [type(effect) for effect in finished.effects] == [Ack]
        carrier = acked_by.get(finished.token)
        if finished.mechanism == "process":
            # A process runner's ack rides on its own claim of its next message.
            assert carrier is not None and carrier.by == "runner" and carrier.asked == 1
            assert carrier.clock_ns <= finished.clock_ns
        elif carrier is not None:  # else it went on its own, before Finished
            assert carrier.by in ("dispatcher", "shutdown")
        if carrier is not None:
            assert carrier.clock_ns >= finished.ended_ns
    assert not any(broker.exists(message) for message in messages)


def test_a_claim_that_waited_for_work_says_so(
    observed: tuple[WorkerPool, Everything, Broker],
) -> None:
    _, seen, _ = observed
    time.sleep(0.3)  # the pool found nothing and waits for work
    before = time.monotonic_ns()
    message = wt.t_echo.generate(args=(1,))
    seen.wait_finished(1)
    (claimed,) = [e for e in seen.of(Claimed) if e.name.endswith(message.uuid)]
    (answer,) = [e for e in seen.of(ClaimAnswered) if claimed.token in e.tokens]
    assert answer.by == "dispatcher" and answer.waited
    assert answer.sent_ns < answer.clock_ns <= claimed.clock_ns
    assert before < answer.clock_ns
