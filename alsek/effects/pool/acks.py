"""Acks of finished tasks that ride along with a claim: kept, batched, flushed, reported.

A success whose only effect is an ack does not pay a round trip of its own
(``alsek.pure.pool.route_ack``): it waits here for the dispatcher's next
claim, which carries it. At shutdown what is left is flushed in one batch.
The list is only touched under the pool's lock (``Slots.cond``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alsek.effects.clock import monotonic_ns
from alsek.effects.consumer import Consumer
from alsek.effects.interpreter import persist
from alsek.effects.message import Message
from alsek.effects.pool.events import Observers, answered_event

log = logging.getLogger("alsek.worker")


class Acks:
    """Pending acks (guarded by the pool's lock)."""

    def __init__(self) -> None:
        self.pending: list[Message] = []

    def add(self, message: Message) -> None:
        """Keep ``message``'s ack for the next claim."""
        self.pending.append(message)

    def take(self) -> list[Message]:
        """Every pending ack, for the claim about to be sent."""
        taken, self.pending = self.pending, []
        return taken

    def put_back(self, messages: Sequence[Message]) -> None:
        """Acks whose claim failed: first in line for the next one."""
        self.pending[:0] = messages


def report(acks: Sequence[Message], accepted: Sequence[bool]) -> None:
    """Log the acks the backend refused: another consumer holds those messages now."""
    for message, ok in zip(acks, accepted, strict=False):
        if not ok:
            log.warning(
                "lease on %s no longer holds: another consumer took it over; this run's "
                "outcome is discarded",
                message.summary,
            )


def flush(consumer: Consumer, acks: Sequence[Message], observers: Observers) -> None:
    """Send ``acks`` now, in one batch (at shutdown); never raises."""
    if not acks:
        return
    try:
        sent_ns = monotonic_ns()
        found = persist(
            lambda: consumer.claim_raw((), 0, acks), "acking finished tasks", patience_ms=10_000
        )
        report(acks, found.acked)
        observers.emit(answered_event("shutdown", 0, found, acks, sent_ns, False))
    except Exception as error:
        log.warning(
            "could not ack %d finished tasks (%s); they will be redelivered", len(acks), error
        )
