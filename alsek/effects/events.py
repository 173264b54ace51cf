"""What a worker pool tells its observers: claims and their round trips, starts, outcomes,
releases.

Metrics, the worker registry, the dashboard and benchmarks plug in here
instead of overriding the pool's methods: subclass ``Observer`` and
override the events you want. They are called on the pool's own threads,
so they must be quick; an observer that raises is logged and the pool
carries on.

Every event says when it happened twice: ``at`` on the wall clock (UTC
milliseconds, to show and to compare across hosts) and ``clock_ns`` on
this host's monotonic clock (nanoseconds, for intervals: a claim round
trip or an ack's way to the backend takes well under a millisecond).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import attrs

from alsek.effects.backends.base import ClaimBatch
from alsek.effects.clock import monotonic_ns, utcnow_ms
from alsek.effects.message import Message
from alsek.exceptions import ValidationError
from alsek.pure.decisions import Effect
from alsek.pure.outcome import Outcome
from alsek.pure.queue_model import Claim

log = logging.getLogger("alsek.worker")

#: Whose claim a ``ClaimAnswered`` reports.
ClaimSource = Literal["dispatcher", "runner", "shutdown"]


@attrs.frozen
class Claimed:
    """The pool claimed the message stored at ``name`` (not decoded yet)."""

    name: str
    queue: str
    mechanism: str
    deliveries: int
    token: str
    at: int
    clock_ns: int = attrs.field(factory=monotonic_ns, kw_only=True)


@attrs.frozen
class ClaimAnswered:
    """A claim round trip answered: what it asked for, claimed and acked (empty ones too).

    ``by`` says whose claim it was: the dispatcher's, a process runner's
    claim of its next message (carrying its finished task's ack) or the
    flush of pending acks when the pool stops (``"shutdown"``, asking for
    nothing). ``tokens`` are the leases of the messages it claimed (each
    also gets a ``Claimed``); ``acked`` the lease tokens of the finished
    tasks whose acks rode along and held: their outcome is recorded now.
    ``sent_ns`` is when it was sent; a claim that ``waited`` for work first
    was sent when the wait began.
    """

    by: ClaimSource
    asked: int
    tokens: tuple[str, ...]
    acked: tuple[str, ...]
    waited: bool
    sent_ns: int
    at: int
    clock_ns: int = attrs.field(factory=monotonic_ns, kw_only=True)


@attrs.frozen
class Started:
    """A task started running ``message``."""

    message: Message
    mechanism: str
    at: int
    clock_ns: int = attrs.field(factory=monotonic_ns, kw_only=True)


@attrs.frozen
class Finished:
    """``message`` ended with ``outcome``; ``effects`` is what the pool recorded for it.

    ``ended_ns`` is when the runner handed the outcome to the pool, and the
    event comes once it is recorded, so ``clock_ns - ended_ns`` is what
    recording took; except for a success whose only effect is an ack kept
    for the dispatcher's next claim: it is recorded when the
    ``ClaimAnswered`` listing ``token`` in ``acked`` answers.
    """

    message: Message
    mechanism: str
    outcome: Outcome
    effects: tuple[Effect, ...]
    duration_ms: int | None
    token: str
    at: int
    ended_ns: int
    clock_ns: int = attrs.field(factory=monotonic_ns, kw_only=True)


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
    clock_ns: int = attrs.field(factory=monotonic_ns, kw_only=True)


Event = Claimed | ClaimAnswered | Started | Finished | Released


def claimed_event(claim: Claim) -> Claimed:
    """The event of ``claim``."""
    return Claimed(
        claim.name, claim.queue, claim.mechanism, claim.deliveries, claim.token, utcnow_ms()
    )


def answered_event(
    by: ClaimSource,
    asked: int,
    batch: ClaimBatch,
    acks: Sequence[Message],
    sent_ns: int,
    waited: bool,
) -> ClaimAnswered:
    """The event of a claim round trip that answered ``batch`` (``acks``: the acks it carried)."""
    held = tuple(
        message.lock for message, ok in zip(acks, batch.acked, strict=False) if ok and message.lock
    )
    tokens = tuple(claim.token for claim in batch.claims)
    return ClaimAnswered(by, asked, tokens, held, waited, sent_ns, utcnow_ms())


def released_event(claim: Claim, how: str) -> Released:
    """The event of letting ``claim`` go (``how``: refused, handed_back, abandoned)."""
    return Released(claim.name, claim.queue, claim.mechanism, how, claim.token, utcnow_ms())


class Observer:
    """Base class of pool observers: every method is a no-op to override."""

    def on_claimed(self, event: Claimed) -> None:
        """A message was claimed."""

    def on_claim_answered(self, event: ClaimAnswered) -> None:
        """A claim round trip answered (told before the ``Claimed`` of each message it took)."""

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
                elif isinstance(event, ClaimAnswered):
                    observer.on_claim_answered(event)
                elif isinstance(event, Started):
                    observer.on_started(event)
                elif isinstance(event, Finished):
                    observer.on_outcome(event)
                else:
                    observer.on_released(event)
            except Exception:
                log.exception("observer %r failed on %s", observer, type(event).__name__)
