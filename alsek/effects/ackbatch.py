"""Acks sent in batches, riding on claims: reporting refused ones, flushing the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alsek.effects.clock import monotonic_ns
from alsek.effects.consumer import Consumer
from alsek.effects.events import Observers, answered_event
from alsek.effects.interpreter import persist
from alsek.effects.message import Message

log = logging.getLogger("alsek.worker")


def report(acks: Sequence[Message], accepted: Sequence[bool]) -> None:
    """Log the acks the backend refused: another consumer holds those messages now."""
    for message, ok in zip(acks, accepted, strict=False):
        if not ok:
            log.warning(
                "lease on %s no longer holds: another consumer took it over; this run's "
                "outcome is discarded",
                message.summary,
            )


def flush(consumer: Consumer, acks: Sequence[Message], observers: Observers | None = None) -> None:
    """Send ``acks`` now, in one batch (at shutdown); never raises."""
    if not acks:
        return
    try:
        sent_ns = monotonic_ns()
        found = persist(
            lambda: consumer.claim_raw((), 0, acks), "acking finished tasks", patience_ms=10_000
        )
        report(acks, found.acked)
        if observers is not None:
            observers.emit(answered_event("shutdown", 0, found, acks, sent_ns, False))
    except Exception as error:
        log.warning(
            "could not ack %d finished tasks (%s); they will be redelivered", len(acks), error
        )
