"""Reliability regressions: payload identity, atomic outcomes, the server's clock, slow renewals."""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock, SystemClock
from alsek.effects.consumer import Consumer
from alsek.effects.execution import Executor
from alsek.exceptions import MessageExistsError
from alsek.pure.outcome import Succeeded
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore


def wait_until(condition: Callable[[], bool], timeout: float = 20, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def stored_messages(backend: Backend) -> list[str]:
    return sorted(backend.scan("queues:*"))


# -- a payload that disagrees with its key --------------------------------------------


@pytest.mark.parametrize("field", ["task_name", "queue", "uuid"])
def test_a_payload_that_disagrees_with_its_key_is_dead_lettered_unrun(
    any_backend: Backend, field: str
) -> None:
    broker = Broker(any_backend)
    ran: list[str] = []

    @task(broker, mechanism="thread", queue="q")
    def rel_victim() -> None:
        ran.append("victim")

    @task(broker, mechanism="thread", queue="q")
    def rel_other() -> None:
        ran.append("other")

    message = rel_victim.generate()
    name = broker.get_message_name(message)
    data = any_backend.get(name)
    data[field] = {"task_name": "rel_other", "queue": "elsewhere", "uuid": "someone-else"}[field]
    any_backend.set(name, data)

    with WorkerPool([rel_victim, rel_other], max_threads=2, max_processes=0):
        wait_until(lambda: list(broker.dead_letters()), what="the dead letter")
    (record,) = broker.dead_letters()
    assert record.name == name
    assert "does not match its key" in record.reason
    assert ran == []
    assert stored_messages(any_backend) == []


# -- a success is recorded in one step -------------------------------------------------


def test_a_late_run_of_a_taken_over_parent_does_not_submit_its_callback_again(
    any_backend: Backend,
) -> None:
    clock = ManualClock(SystemClock().now())
    broker = Broker(any_backend, clock=clock)
    ran: list[str] = []

    @task(broker, mechanism="thread")
    def rel_parent() -> int:
        return 1

    @task(broker, mechanism="thread")
    def rel_child(message: Message) -> None:
        ran.append(message.uuid)

    root = rel_parent.generate(callback=rel_child.defer().generate())
    consumer = Consumer(broker, lease_ms=1_000)
    (slow,) = consumer.claim(limit=1).messages  # this worker pauses past its lease...
    clock.advance(1_500)
    (fast,) = consumer.claim(limit=1).messages  # ...and another takes the message over
    executor = Executor(broker, lease_ms=1_000)
    assert executor.run_inline(fast).accepted
    (callback,) = consumer.claim(limit=1).messages
    assert executor.run_inline(callback).accepted  # the callback ran and left the queue

    late = executor.finish(rel_parent, slow, Succeeded(1))
    assert not late.accepted
    assert stored_messages(any_backend) == []  # not submitted a second time
    assert ran == [callback.uuid]
    assert slow.uuid == fast.uuid == root.uuid


def test_result_callback_and_ack_are_one_step(backend: Backend) -> None:
    """A success writes the result, submits the callback and acks together or not at all."""
    clock = ManualClock(SystemClock().now())
    broker = Broker(backend, clock=clock)
    results = ResultStore(backend)

    @task(broker, mechanism="thread", result_store=results)
    def rel_step(message: Message) -> int:
        return 1 + (message.previous_result or 0)

    root = rel_step.generate(callback=rel_step.defer().generate())
    consumer = Consumer(broker, lease_ms=1_000)
    (claimed,) = consumer.claim(limit=1).messages
    clock.advance(1_500)
    assert consumer.claim(limit=1).messages  # taken over: our lease is gone
    assert not Executor(broker, 1_000).finish(rel_step, claimed, Succeeded(1)).accepted
    assert not results.exists(root)  # nothing of the stale run was written...
    assert len(stored_messages(backend)) == 1  # ...and no callback submitted


class LostReply(RedisBackend):
    """A Redis whose reply to the first outcome script is lost after the server ran it."""

    lost = 0

    def _run(self, name: str, *args: Any, **where: Any) -> Any:
        reply = super()._run(name, *args, **where)
        if name == "settle" and not self.lost:
            self.lost += 1
            from redis.exceptions import ConnectionError as RedisConnectionError

            from alsek.exceptions import BackendUnavailableError

            raise BackendUnavailableError("reply lost") from RedisConnectionError("reset")
        return reply


def test_a_lost_reply_to_the_outcome_does_not_submit_the_callback_twice(redis_url: str) -> None:
    backend = LostReply(redis_url)
    broker = Broker(backend)

    @task(broker, mechanism="thread")
    def rel_lost_parent() -> int:
        return 1

    @task(broker, mechanism="thread")
    def rel_lost_child() -> None:
        return None

    rel_lost_parent.generate(callback=rel_lost_child.defer().generate())
    consumer = Consumer(broker, lease_ms=5_000)
    (parent,) = consumer.claim(limit=1).messages
    report = Executor(broker, 5_000).run_inline(parent)
    assert backend.lost == 1
    assert not report.accepted  # the retry finds it already settled
    (child,) = consumer.claim(limit=2).messages
    assert child.task_name == "rel_lost_child"
    assert consumer.claim(limit=1).messages == ()


# -- leases and ready times on the server's clock ------------------------------------


class SkewedClock(SystemClock):
    """A host whose wall clock is off by ``offset_ms``."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def now(self) -> int:
        return super().now() + self.offset_ms


def test_skewed_clocks_neither_delay_nor_shorten_anything(redis_url: str) -> None:
    producer = Broker(RedisBackend(redis_url), clock=SkewedClock(+10_000))
    worker = Broker(RedisBackend(redis_url), clock=SkewedClock(-10_000))
    other = Broker(RedisBackend(redis_url), clock=SkewedClock(+10_000))

    @task(producer, mechanism="thread", queue="skew")
    def rel_skew() -> None:
        return None

    rel_skew.generate()
    (claimed,) = Consumer(worker, lease_ms=2_000).claim(limit=1).messages  # ready at once
    # The lease runs on the server's clock: a consumer 20 s ahead cannot take it.
    assert Consumer(other, lease_ms=2_000).claim(limit=1).messages == ()
    assert worker.ack(claimed)

    rel_skew.generate(delay=1_000)
    behind = Consumer(worker, lease_ms=2_000)
    assert behind.claim(limit=1).messages == ()  # 1 s on the server's clock, not 21 s
    wait_until(lambda: bool(behind.claim(limit=1).messages), timeout=5, what="the delay to end")


@pytest.mark.parametrize("virtual", [False])
def test_a_lease_taken_after_a_long_wait_is_a_whole_lease(backend: Backend, virtual: bool) -> None:
    broker = Broker(backend)

    @task(broker, mechanism="thread", queue="late")
    def rel_late() -> None:
        return None

    waiting = Consumer(broker, subset=["late"], lease_ms=300)
    threading.Timer(0.6, rel_late.generate).start()
    started = time.monotonic()
    batch = waiting.wait_and_claim_raw(("thread", "process"), 1, None)
    while not batch.claims and time.monotonic() - started < 5:
        batch = waiting.wait_and_claim_raw(("thread", "process"), 1, None)
    assert batch.claims, "the submission was never claimed"
    # Claimed after waiting ~0.6 s with a 0.3 s lease: the lease must still hold.
    rival = Consumer(broker, subset=["late"], lease_ms=300)
    assert rival.claim(limit=1).messages == ()


# -- thread tasks that starve renewals -------------------------------------------------


def hold_the_gil(seconds: float) -> None:
    """Block in C for ``seconds`` without releasing the GIL (as a CPU-bound C call does)."""
    ctypes.PyDLL(None).usleep(int(seconds * 1_000_000))


@pytest.mark.slow
def test_a_renewal_starved_by_a_thread_holding_the_gil_is_reported(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(backend)

    @task(broker, mechanism="thread", queue="gil")
    def rel_gil_hog() -> None:
        for _ in range(2):
            hold_the_gil(1.5)  # longer than half the lease, shorter than the lease

    @task(broker, mechanism="thread", queue="gil")
    def rel_gil_sleeper() -> None:
        time.sleep(2.5)  # releases the GIL: renewals stay on time

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "renewed" in r.getMessage()]

    caplog.set_level(logging.WARNING, logger="alsek.worker")
    with WorkerPool(
        [rel_gil_hog, rel_gil_sleeper], max_threads=1, max_processes=0, lease_ms=2_000
    ):
        rel_gil_sleeper.generate()
        wait_until(lambda: not stored_messages(backend), what="the sleeper")
        assert warnings() == []  # no warning for a task that sleeps
        rel_gil_hog.generate()
        wait_until(lambda: not stored_messages(backend), what="the hog")
    late = warnings()
    assert any("rel_gil_hog" in text and "mechanism='process'" in text for text in late), late


def test_a_submission_whose_reply_was_lost_is_retried_without_a_refusal(redis_url: str) -> None:
    from tests.support import faults

    backend = RedisBackend(redis_url)
    injector = faults.inject(backend)
    broker = Broker(backend)
    broker.submit(Message(task_name="rel_lost_submit"))  # the script is loaded
    injector.fail_calls("timeout", "outcome", [1], applied=True)  # it ran; the reply is lost
    sent = broker.submit(Message(task_name="rel_lost_submit"))  # the client retries the call
    assert injector.events and injector.events[0].applied
    assert broker.exists(sent)
    with pytest.raises(MessageExistsError):  # a second submission of it is still refused
        broker.submit(sent)
