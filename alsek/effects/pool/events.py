"""What a worker pool tells its observers: claims, starts, outcomes, releases.

Metrics, the worker registry, the dashboard and benchmarks plug in here
instead of overriding the pool's methods: subclass ``Observer`` and
override the events you want. They are called on the pool's own threads,
so they must be quick; an observer that raises is logged and the pool
carries on. Times are this host's monotonic
milliseconds (``alsek.effects.clock.monotonic_ms``) plus, where it helps,
the wall clock in UTC milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from alsek.effects.clock import utcnow_ms
from alsek.effects.message import Message
from alsek.exceptions import ValidationError
from alsek.pure.decisions import Effect
from alsek.pure.outcome import Outcome
from alsek.pure.queue_model import Claim

log = logging.getLogger("alsek.worker")


@attrs.frozen
class Claimed:
    """The pool claimed the message stored at ``name`` (not decoded yet)."""

    name: str
    queue: str
    mechanism: str
    deliveries: int
    token: str
    at: int


@attrs.frozen
class Started:
    """A task started running ``message``."""

    message: Message
    mechanism: str
    at: int


@attrs.frozen
class Finished:
    """``message`` ended with ``outcome``; ``effects`` is what the pool recorded for it."""

    message: Message
    mechanism: str
    outcome: Outcome
    effects: tuple[Effect, ...]
    duration_ms: int | None
    token: str
    at: int


@attrs.frozen
class Released:
    """The pool let go of ``name`` without running it to an outcome.

    ``how`` is ``"refused"`` (dead-lettered before running: poison, unknown
    task, crash loop), ``"handed_back"`` (at shutdown) or ``"abandoned"``
    (an internal error or a lost lease: the lease expires and it is
    redelivered).
    """

    name: str
    queue: str
    mechanism: str
    how: str
    token: str
    at: int


Event = Claimed | Started | Finished | Released


def claimed_event(claim: Claim) -> Claimed:
    """The event of ``claim``."""
    return Claimed(
        claim.name, claim.queue, claim.mechanism, claim.deliveries, claim.token, utcnow_ms()
    )


def released_event(claim: Claim, how: str) -> Released:
    """The event of letting ``claim`` go (``how``: refused, handed_back, abandoned)."""
    return Released(claim.name, claim.queue, claim.mechanism, how, claim.token, utcnow_ms())


class Observer:
    """Base class of pool observers: every method is a no-op to override."""

    def on_claimed(self, event: Claimed) -> None:
        """A message was claimed."""

    def on_started(self, event: Started) -> None:
        """A task started."""

    def on_outcome(self, event: Finished) -> None:
        """A task ended and its outcome was recorded (or the recording was attempted)."""

    def on_released(self, event: Released) -> None:
        """A claimed message was let go without an outcome."""


class Observers:
    """The pool's observers; ``emit`` tells each of them."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self.observers: list[Observer] = []
        for observer in observers:
            self.add(observer)

    def add(self, observer: Observer) -> None:
        """Start telling ``observer``."""
        if not isinstance(observer, Observer):
            raise ValidationError(f"a pool observer must subclass Observer, got {observer!r}")
        self.observers.append(observer)

    def emit(self, event: Event) -> None:
        """Tell every observer about ``event``; a failing observer is logged."""
        for observer in self.observers:
            try:
                if isinstance(event, Claimed):
                    observer.on_claimed(event)
                elif isinstance(event, Started):
                    observer.on_started(event)
                elif isinstance(event, Finished):
                    observer.on_outcome(event)
                else:
                    observer.on_released(event)
            except Exception:
                log.exception("observer %r failed on %s", observer, type(event).__name__)
