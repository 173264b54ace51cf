"""A task process starts a message only under a lease it can vouch for.

A claim's reply can reach a task process late (a server that stalled before
answering, a process held up): the lease may have run out meanwhile, with
nobody renewing it (the pool renews only what the process has reported),
and another consumer may hold the message by then. Running it anyway ran
the message twice without any fault on it. These tests drive a task
process's loop (``ChildLoop``, in this process) against each real backend,
with a broker whose claim replies arrive late on a manual clock; and the
pool's side of it: the mirror of a claim let go, and the monitor's word on a
renewal refused because the ack rode ahead of the report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from multiprocessing import Pipe
from typing import Any

import attrs
import pytest

from alsek.core import Broker, Message, task
from alsek.effects.backends.base import Backend
from alsek.effects.backends.records import ClaimBatch
from alsek.effects.clock import ManualClock, monotonic_ms
from alsek.effects.consumer import Consumer
from alsek.effects.events import Observer, Observers, Released
from alsek.effects.execution import Executor
from alsek.effects.pool.monitor import Monitor
from alsek.effects.pool.reports import Mirror
from alsek.effects.pool.slots import Slots
from alsek.effects.runners.child import ChildLoop, ChildSetup
from alsek.pure.capacity import Capacity
from alsek.pure.lifecycle import JobEvent, JobState
from alsek.storage.backends import LazyClient
from alsek.storage.backends.redis import RedisBackend

LEASE_MS = 1_500
QUEUE = "lease_checks"
ran: list[str] = []

placeholder = Broker(RedisBackend(LazyClient(lambda: None)))


@task(placeholder, name="lease_checked", queue=QUEUE, mechanism="process")
def lease_checked(message: Message | None = None) -> None:
    assert message is not None
    ran.append(message.uuid)


class LateReplies(Broker):
    """A broker whose first claim that finds work answers ``late_ms`` (on its manual
    clock) after the claim was made; ``meanwhile`` runs in that time."""

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


def run_one_claim(broker: LateReplies, parent: Any, child: Any) -> list[tuple[Any, ...]]:
    """Run a task process's loop until the ``stop`` sent meanwhile; its reports."""
    setup = ChildSetup(broker, {}, (), (QUEUE,), LEASE_MS, None, "lease-check")
    loop = ChildLoop(child, setup)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the task process loop did not stop"
    reports = []
    while parent.poll(0):
        reports.append(parent.recv())
    return reports


def submit(backend: Backend, clock: ManualClock) -> Message:
    lease_checked.broker = Broker(backend, clock=clock)
    try:
        return lease_checked.generate()
    finally:
        lease_checked.broker = placeholder


def test_a_claim_answered_after_its_lease_ran_out_is_not_run_twice(
    any_backend: Backend,
) -> None:
    """The lease ran out before the reply arrived, and another consumer claimed the
    message: the task process lets it go unrun, and only the other one runs it."""
    ran.clear()
    clock = ManualClock()
    message = submit(any_backend, clock)
    rival = Consumer(Broker(any_backend, clock=clock), subset=QUEUE, lease_ms=LEASE_MS)
    taken = []
    parent, child = Pipe()

    def meanwhile() -> None:
        taken.extend(rival.claim_raw(("process",), 1).claims)
        parent.send(("stop",))

    broker = LateReplies(any_backend, clock, LEASE_MS + 1, meanwhile)
    reports = run_one_claim(broker, parent, child)

    assert [c.name.rsplit(":", 1)[-1] for c in taken] == [message.uuid]
    assert ran == [], "ran a message whose lease had run out and was claimed by another"
    kinds = [report[0] for report in reports]
    assert "abandoned" in kinds and "started" not in kinds, kinds
    [claimed] = [report for report in reports if report[0] == "claimed"]
    assert claimed[-1] < 0  # it told the pool the lease it saw had run out
    theirs = rival.decode(taken[0])
    assert theirs is not None and rival.broker.ack(theirs)  # theirs held all along


def test_a_late_reply_whose_lease_nobody_took_is_renewed_then_run_once(
    any_backend: Backend,
) -> None:
    """The lease ran out but nobody claimed the message meanwhile: the task process
    renews the lease, runs the message once and acks it."""
    ran.clear()
    clock = ManualClock()
    message = submit(any_backend, clock)
    parent, child = Pipe()
    broker = LateReplies(any_backend, clock, LEASE_MS + 1, lambda: parent.send(("stop",)))
    reports = run_one_claim(broker, parent, child)

    assert ran == [message.uuid]
    assert broker.renewals == 1
    assert [report[0] for report in reports if report[0] != "answered"] == [
        "claimed",
        "started",
        "outcome",
        "recorded",
    ]
    assert not any_backend.exists(Broker(any_backend).get_message_name(message))


def test_a_prompt_reply_starts_without_asking_the_backend_again(any_backend: Backend) -> None:
    """A lease with more than half left is vouched for as it is: no extra round trip."""
    ran.clear()
    clock = ManualClock()
    message = submit(any_backend, clock)
    parent, child = Pipe()
    broker = LateReplies(any_backend, clock, LEASE_MS // 2 - 1, lambda: parent.send(("stop",)))
    run_one_claim(broker, parent, child)

    assert ran == [message.uuid]
    assert broker.renewals == 0


class Releases(Observer):
    def __init__(self) -> None:
        self.seen: list[Released] = []

    def on_released(self, event: Released) -> None:
        self.seen.append(event)


def process_slots() -> Slots:
    """The slots of a pool with one task process."""
    return Slots(
        Capacity(max_threads=0, max_processes=1),
        new_runner=lambda kind: None,
        interrupt=lambda: None,
        delegated=frozenset({"process"}),
    )


def test_the_pool_frees_the_slot_of_a_claim_its_process_let_go(any_backend: Backend) -> None:
    """The pool mirrors an ``abandoned`` report: the job is let go (its lease is not
    renewed any more) and its slot is free for the next claim."""
    slots = process_slots()
    releases = Releases()
    observers = Observers()
    observers.add(releases)
    broker = Broker(any_backend)
    mirror = Mirror(slots, {}, Consumer(broker), Executor(broker, LEASE_MS), observers, LEASE_MS)

    class Process:
        job = None
        idle_since = 0

    process = Process()
    name = f"queues:{QUEUE}:tasks:lease_checked:messages:m1"
    mirror.report(process, ("claimed", name, QUEUE, "t1", 1, -5))
    assert [job.token for job in slots.live()] == ["t1"]
    mirror.report(process, ("abandoned", "t1"))
    assert slots.live() == [] and process.job is None
    assert slots.state.load.processes == 0
    assert [(event.name, event.how) for event in releases.seen] == [(name, "abandoned")]


@pytest.mark.parametrize("state", [JobState.RUNNING, JobState.RECORDING])
def test_a_refused_renewal_warns_only_when_no_outcome_is_on_its_way(
    any_backend: Backend, state: JobState, caplog: pytest.LogCaptureFixture
) -> None:
    """A task process's ack rides on its next claim and is reported after it: the pool
    may renew a job whose message was just acked. While the outcome is being recorded,
    a refused renewal says nothing was lost (whoever records it reports a lost lease);
    while the task runs, it is a lost lease, and a warning."""
    message = submit(any_backend, ManualClock())
    broker = Broker(any_backend)
    [claim] = Consumer(broker, subset=QUEUE).claim_raw(("process",), 1).claims
    slots = process_slots()
    job = slots.adopt(claim, LEASE_MS, None)
    slots.step(job, JobEvent.START)
    if state is JobState.RECORDING:
        slots.step(job, JobEvent.FINISH)
    assert broker.ack(attrs.evolve(message, lock=claim.token))  # the ack that rode ahead
    monitor = Monitor(slots, broker, Executor(broker, LEASE_MS), LEASE_MS)
    with caplog.at_level(logging.DEBUG, logger="alsek.worker"):
        monitor._renew(monotonic_ms())
    assert job.lease_lost
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert bool(warned) == (state is JobState.RUNNING), warned
