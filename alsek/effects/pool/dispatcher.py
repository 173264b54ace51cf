"""The dispatcher: claims what free slots can start and hands it to runners.

It asks ``alsek.pure.pool.plan`` what to do, then does it: claim (carrying
pending acks), wait for work and claim in one round trip, or pause until a
slot frees. It never dies: outages and bugs of ours are logged and retried
with a growing, jittered pause, and acks of a failed claim go with the next.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence

from alsek.effects.clock import monotonic_ns
from alsek.effects.consumer import Consumer
from alsek.effects.events import Observers, answered_event, claimed_event
from alsek.effects.pool import acks as ack_batches
from alsek.effects.pool.slots import Slots
from alsek.exceptions import BackendUnavailableError
from alsek.pure import pool as policy
from alsek.pure.queue_model import Claim, LeaseRef

log = logging.getLogger("alsek.worker")


def backoff_pause(previous: float, ceiling: float = 5.0) -> float:
    """The next pause of a loop that keeps failing: doubled, capped, with jitter."""
    return min(previous * 2, ceiling) * random.uniform(0.75, 1.25)


class Dispatcher:
    """The claim loop of one pool (``run`` blocks until ``stopping`` is set)."""

    def __init__(
        self,
        slots: Slots,
        consumer: Consumer,
        observers: Observers,
        lease_ms: int,
        batch: int,
        wake_key: str,
        stopping: threading.Event,
    ) -> None:
        self.slots = slots
        self.consumer = consumer
        self.observers = observers
        self.lease_ms = lease_ms
        self.batch = batch
        self.wake_key = wake_key
        self.stopping = stopping
        self.next_wake: int | None = None

    def interrupt(self) -> None:
        """Wake the dispatcher wherever it waits (the lock, or the backend)."""
        with self.slots.cond:
            self.slots.cond.notify_all()
        try:
            self.consumer.broker.backend.wake(self.wake_key)
        except Exception as error:  # it wakes by itself within a second
            log.debug("could not wake the dispatcher: %s", error)

    def run(self) -> None:
        """Claim and dispatch until the pool stops."""
        pause = 0.05
        while not self.stopping.is_set():
            action, acks = self.slots.plan(self.batch)
            if isinstance(action, policy.Stop):
                return
            if isinstance(action, policy.Pause):
                self.slots.wait_for_slot(1.0)
                continue
            try:
                found = self._claim(action, acks)
            except Exception as error:  # outages, server refusals, bugs of ours: never die
                self.slots.failed(acks)
                if isinstance(error, BackendUnavailableError):
                    log.warning("backend unavailable (%s); retrying in %.2fs", error, pause)
                else:
                    log.exception("claiming failed; retrying in %.2fs", pause)
                self.stopping.wait(pause)
                pause = backoff_pause(pause)
                continue
            if action.wait or found:
                pause = 0.05  # (an empty claim may succeed where the wait fails)

    def _claim(self, action: policy.Claim, acks: list) -> int:  # type: ignore[type-arg]
        plan = action.plan
        sent_ns = monotonic_ns()
        if action.wait:
            batch = self.consumer.wait_and_claim_raw(
                plan.mechanisms, plan.limit, self.next_wake, self.wake_key, plan.limits
            )
        else:
            batch = self.consumer.claim_raw(plan.mechanisms, plan.limit, acks, plan.limits)
        ack_batches.report(acks, batch.acked)
        self.slots.answered(plan.limit, len(batch.claims))
        self.next_wake = batch.next_wake
        answered = answered_event("dispatcher", plan.limit, batch, acks, sent_ns, action.wait)
        self.observers.emit(answered)
        for claim in batch.claims:
            self.observers.emit(claimed_event(claim))
        for claim, left_ms in self._vouch(batch.claims):
            self.slots.dispatch(claim, left_ms)
        return len(batch.claims)

    def _vouch(self, claims: Sequence[Claim]) -> list[tuple[Claim, int]]:
        """The claims a runner may start, in claim order, each with how long (ms) its lease
        has left; the others are let go (redelivered when their lease runs out).

        A claim's reply can arrive late (a server that stalled before answering, a pool
        held up): a lease with more than half left is safe to start under; a shorter one
        is renewed first, and one already taken over by another consumer is not run
        (``alsek.pure.pool.start_check``).
        """
        broker = self.consumer.broker
        now = broker.clock.now()
        left: dict[str, int] = {}
        stale: list[Claim] = []
        for claim in claims:
            if policy.start_check(claim.deadline, now, self.lease_ms) is policy.StartCheck.START:
                left[claim.token] = claim.deadline - now
            else:
                stale.append(claim)
        if stale:
            refs = [LeaseRef(claim.queue, claim.name, claim.token) for claim in stale]
            try:
                held = broker.renew_leases(refs, self.lease_ms)
            except Exception as error:  # an outage: they come back when their leases run out
                log.warning(
                    "not running %d claimed message(s): their leases ran low before they "
                    "started and could not be renewed (%s)",
                    len(stale),
                    error,
                )
                held = [False] * len(stale)
            for claim, ok in zip(stale, held, strict=True):
                if ok:
                    left[claim.token] = self.lease_ms
                else:
                    log.warning(
                        "not running %s: its lease ran out before it started, and another "
                        "consumer took the message over",
                        claim.name,
                    )
        return [(claim, left[claim.token]) for claim in claims if claim.token in left]
