"""Message transitions. Each returns a new record; none mutates.

Theory of operation: a message is *submitted* (``ready_at`` = created_at +
delay), *claimed* by one consumer under a lease (``lock`` = token,
``deliveries`` += 1), then leaves through exactly one door: *acked* (done),
*retried* (retries + 1, waits the backoff for that many incidents),
*released* (redelivered as is, e.g. after a crash), or *failed* (dead
letter). Retrying resets ``deliveries``: a new attempt starts a fresh count
of crash-redeliveries.
"""

from __future__ import annotations

from typing import TypeVar

import attrs

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.backoff import backoff_duration
from alsek.pure.message import Message

M = TypeVar("M", bound=Message)


def retry(message: M, now: int) -> M:
    """The message's next attempt: one more retry, after the backoff delay.

    A backoff without a ceiling grows without bound; past ``MAX_DELAY_MS``
    (100 years) it is clamped, so that every backend can store the delay.
    """
    retries = message.retries + 1
    return attrs.evolve(
        message,
        retries=retries,
        updated_at=now,
        delay=min(backoff_duration(message.backoff_settings, retries), defaults.MAX_DELAY_MS),
        lock=None,
        deliveries=0,
    )


def nack(message: M, now: int, delay: int = 0) -> M:
    """Give the message back unprocessed, claimable again after ``delay`` ms."""
    if delay < 0:
        raise ValidationError(f"nack delay must be >= 0, got {delay}")
    return attrs.evolve(message, updated_at=now, delay=delay, lock=None)


def claimed(message: M, token: str, deliveries: int) -> M:
    """The message as held by a consumer under lease ``token``."""
    return attrs.evolve(message, lock=token, deliveries=deliveries)


def unclaimed(message: M) -> M:
    """The message without a holder (what is persisted)."""
    if message.lock is None:
        return message
    return attrs.evolve(message, lock=None)


def with_delay(message: M, now: int, delay: int) -> M:
    """The message scheduled ``delay`` ms after ``now``."""
    if delay < 0:
        raise ValidationError(f"delay must be >= 0 ms, got {delay}")
    return attrs.evolve(message, updated_at=now, delay=delay)


def crash_count(message: M) -> int:
    """Deliveries of this attempt that ended (or will have ended) without an outcome.

    At claim time the current delivery is still running, so previous
    deliveries are ``deliveries - 1``.
    """
    return max(message.deliveries - 1, 0)
