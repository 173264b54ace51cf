"""A thread or async slot starts a claimed message only under a lease the pool can vouch for.

The pool's dispatcher claims for its threads (and its event loop). A claim's
reply can arrive late (a server that stalled before answering, a pool held up
by a pause): the lease may have run out meanwhile, and another consumer may
hold the message by then. These tests drive the dispatcher's claim step
against each real backend with a broker whose first claim answers late on a
manual clock, and look at what it hands to its runners.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from alsek.core import Broker, Message, task
from alsek.effects.backends.base import Backend
from alsek.effects.backends.records import ClaimBatch
from alsek.effects.clock import ManualClock
from alsek.effects.consumer import Consumer
from alsek.effects.events import Observers
from alsek.effects.pool.dispatcher import Dispatcher
from alsek.effects.pool.slots import Slots
from alsek.pure import pool as policy
from alsek.pure.capacity import Capacity
from alsek.storage.backends import LazyClient
from alsek.storage.backends.redis import RedisBackend

LEASE_MS = 1_500
QUEUE = "thread_lease_checks"

placeholder = Broker(RedisBackend(LazyClient(lambda: None)))


@task(placeholder, name="thread_lease_checked", queue=QUEUE, mechanism="thread")
def thread_lease_checked() -> None:
    """Never run here: the tests look at what the dispatcher hands on."""


class LateReplies(Broker):
    """A broker whose first claim that finds work answers ``late_ms`` (on its manual
    clock) after it was made; ``meanwhile`` runs in that time."""

    def __init__(
        self, backend: Backend, clock: ManualClock, late_ms: int, meanwhile: Callable[[], None]
    ) -> None:
        super().__init__(backend, clock=clock)
        self.manual = clock
        self.late_ms = late_ms
        self.meanwhile = meanwhile
        self.renewals = 0

    def claim(self, *args: Any, **kwargs: Any) -> ClaimBatch:
        batch = super().claim(*args, **kwargs)
        if batch.claims and self.late_ms:
            self.manual.advance(self.late_ms)
            self.late_ms = 0
            self.meanwhile()
        return batch

    def renew_leases(self, *args: Any, **kwargs: Any) -> list[bool]:
        self.renewals += 1
        return super().renew_leases(*args, **kwargs)


class Runner:
    """A thread runner that only collects what it is handed."""

    def __init__(self) -> None:
        self.mailbox: queue.Queue[Any] = queue.Queue()

    def start(self) -> None:
        pass


def claim_once(broker: LateReplies) -> tuple[int, Slots, list[Any]]:
    """One claim step of a one-thread pool's dispatcher: (claimed, slots, handed on)."""
    runner = Runner()
    slots = Slots(Capacity(max_threads=1, max_processes=0), lambda kind: runner, lambda: None)
    consumer = Consumer(broker, subset=QUEUE, lease_ms=LEASE_MS)
    dispatcher = Dispatcher(
        slots, consumer, Observers(), LEASE_MS, 1, "thread-lease-check", threading.Event()
    )
    action, acks = slots.plan(1)
    assert isinstance(action, policy.Claim)
    action = policy.Claim(action.plan, action.acks, wait=False)
    claimed = dispatcher._claim(action, acks)
    handed = []
    while not runner.mailbox.empty():
        handed.append(runner.mailbox.get_nowait())
    return claimed, slots, handed


def submit(backend: Backend, clock: ManualClock) -> Message:
    thread_lease_checked.broker = Broker(backend, clock=clock)
    try:
        return thread_lease_checked.generate()
    finally:
        thread_lease_checked.broker = placeholder


def test_a_thread_claim_answered_after_its_lease_ran_out_is_not_run_twice(
    any_backend: Backend,
) -> None:
    """The lease ran out before the reply arrived, and another consumer claimed the
    message: the dispatcher hands nothing to its thread and frees the slot."""
    clock = ManualClock()
    message = submit(any_backend, clock)
    rival = Consumer(Broker(any_backend, clock=clock), subset=QUEUE, lease_ms=LEASE_MS)
    taken = []
    broker = LateReplies(
        any_backend,
        clock,
        LEASE_MS + 1,
        lambda: taken.extend(rival.claim_raw(("thread",), 1).claims),
    )
    claimed, slots, handed = claim_once(broker)

    assert claimed == 1
    assert [c.name.rsplit(":", 1)[-1] for c in taken] == [message.uuid]
    assert handed == [], "handed on a message whose lease ran out and was claimed by another"
    assert slots.jobs == {} and slots.state.load == policy.PoolState(slots.capacity).load
    theirs = rival.decode(taken[0])
    assert theirs is not None and rival.broker.ack(theirs)  # theirs held all along


def test_a_late_thread_claim_nobody_took_is_renewed_then_handed_on(
    any_backend: Backend,
) -> None:
    """The lease ran out but nobody claimed the message meanwhile: the dispatcher renews
    it, then hands it on with a whole lease left."""
    clock = ManualClock()
    message = submit(any_backend, clock)
    broker = LateReplies(any_backend, clock, LEASE_MS + 1, lambda: None)
    claimed, _, handed = claim_once(broker)

    assert claimed == 1 and broker.renewals == 1
    assert [job.claim.name.rsplit(":", 1)[-1] for job in handed] == [message.uuid]
    # The renewed lease holds: another consumer finds nothing to claim.
    rival = Consumer(Broker(any_backend, clock=clock), subset=QUEUE, lease_ms=LEASE_MS)
    assert not rival.claim_raw(("thread",), 1).claims


def test_a_prompt_thread_claim_is_handed_on_without_asking_again(any_backend: Backend) -> None:
    """A lease with more than half left is vouched for as it is: no extra round trip."""
    clock = ManualClock()
    message = submit(any_backend, clock)
    broker = LateReplies(any_backend, clock, LEASE_MS // 2 - 1, lambda: None)
    claimed, _, handed = claim_once(broker)

    assert claimed == 1 and broker.renewals == 0
    assert [job.claim.name.rsplit(":", 1)[-1] for job in handed] == [message.uuid]
