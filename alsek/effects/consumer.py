"""Consumers claim ready messages, each under a lease only one consumer holds.

A pass claims, in queue order (the order given, else alphabetical) and
priority order within a queue. After a pass that finds nothing the
consumer waits (its backoff, but never past the next delayed message or
lease expiry) and is woken early by a submission where the backend can
signal one. Undecodable or invalid payloads are dead-lettered here and never
handed to a worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence

import attrs

from alsek import defaults
from alsek.effects.backends.base import ClaimBatch, CorruptPayload, Encoded
from alsek.effects.broker import Broker
from alsek.effects.clock import new_token
from alsek.effects.interpreter import persist
from alsek.effects.message import Message
from alsek.exceptions import BackendUnavailableError, DeserializationError, ValidationError
from alsek.pure import codec
from alsek.pure.backoff import DEFAULT_CONSUMER_BACKOFF, Backoff
from alsek.pure.dead_letter import DeadLetterRecord
from alsek.pure.keys import parse_message_name
from alsek.pure.message import SLOT_KINDS, SlotKind
from alsek.pure.ordering import queue_order
from alsek.pure.queue_model import Claim

log = logging.getLogger("alsek.consumer")

#: Default consumer backoff: the longest wait between passes when nothing
#: signals new work (Redis signals submissions, so this is rarely reached).


@attrs.frozen
class Pass:
    """What one pass over the queues found (and which ridden-along acks held)."""

    messages: tuple[Message, ...]
    next_wake: int | None
    acked: tuple[bool, ...] = ()
    claimed: int = 0  # claims the backend returned, poison included


def identity_mismatch(claim: Claim, message: Message) -> str | None:
    """Why a payload must not run under the key it was claimed from (None: it matches).

    A message runs the task its key names, in the queue its key names: a
    payload edited by hand or copied to another key would otherwise run some
    other task, and every fenced step would address a key it does not hold.
    """
    try:
        queue, task_name, uuid = parse_message_name(claim.name)
    except ValidationError as error:
        return f"claimed from a key that is not a message name: {error}"
    found = (message.queue, message.task_name, message.uuid)
    expected = (claim.queue, task_name, uuid)
    if queue == claim.queue and found == expected:
        return None
    return (
        f"payload does not match its key {claim.name!r}: it names queue {message.queue!r}, "
        f"task {message.task_name!r}, uuid {message.uuid!r}"
    )


class Consumer:
    """Streams messages from a broker.

    Args:
        broker: where to claim from.
        subset: queues to consume, in priority order (None: all, alphabetically).
        backoff: wait after empty passes (by their count).
        lease_ms: how long a claimed message stays reserved without renewal.
    """

    def __init__(
        self,
        broker: Broker,
        subset: Sequence[str] | None = None,
        backoff: Backoff | None = DEFAULT_CONSUMER_BACKOFF,
        lease_ms: int = defaults.DEFAULT_LEASE_MS,
    ) -> None:
        if isinstance(subset, str):
            subset = [subset]
        self.broker = broker
        self.subset = None if subset is None else queue_order(subset, ())
        self.backoff = backoff or DEFAULT_CONSUMER_BACKOFF
        if not isinstance(lease_ms, int) or lease_ms < 1:
            raise ValidationError(f"lease_ms must be a positive int, got {lease_ms!r}")
        self.lease_ms = lease_ms
        self.stop_event = threading.Event()
        self._empty_passes = 0

    def __repr__(self) -> str:
        return f"Consumer({self.broker!r}, subset={self.subset!r})"

    def stop(self) -> None:
        """Make ``stream()`` return after its current wait."""
        self.stop_event.set()

    def decode(self, claim: Claim) -> Message | None:
        """The claimed message, or None after dead-lettering an undecodable or
        invalid payload (it never runs)."""
        reason = None
        payload = claim.payload
        if isinstance(payload, Encoded):
            try:
                payload = self.broker.backend.decode(claim.name, payload.raw)
            except DeserializationError as error:
                payload = CorruptPayload(payload.raw, str(error))
        claim = attrs.evolve(claim, payload=payload)
        if isinstance(claim.payload, CorruptPayload):
            reason = f"undecodable payload: {claim.payload.error}"
        elif not isinstance(claim.payload, dict):
            reason = f"invalid Message: expected a dict, got {type(claim.payload).__name__}"
        else:
            # Built with its lease in one go: one validation, no evolve.
            data = {**claim.payload, "lock": claim.token, "deliveries": claim.deliveries}
            try:
                message = codec.message_from_data(data, Message)
                reason = identity_mismatch(claim, message)
                if reason is None:
                    return message
            except ValidationError as error:
                reason = str(error)
        raw = claim.payload.raw if isinstance(claim.payload, CorruptPayload) else claim.payload
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else repr(raw)
        record = DeadLetterRecord(
            name=claim.name, reason=str(reason), failed_at=self.broker.clock.now(), raw=text[:65536]
        )
        log.error("dead-lettering %s without running it: %s", claim.name, reason)
        persist(
            lambda: self.broker.dead_letter_name(claim.queue, claim.name, claim.token, record),
            f"dead-lettering {claim.name}",
        )
        return None

    def fetch(self, claim: Claim) -> Message | None:
        """The message stored under a claim whose payload was not kept (None: gone or
        unreadable)."""
        try:
            data = self.broker.backend.get_or_none(claim.name)
        except DeserializationError:
            return None
        if not isinstance(data, dict):
            return None
        data = {**data, "lock": claim.token, "deliveries": claim.deliveries}
        try:
            return codec.message_from_data(data, Message)
        except ValidationError:
            return None

    def claim_raw(
        self,
        mechanisms: Sequence[SlotKind] = SLOT_KINDS,
        limit: int = 1,
        acks: Sequence[Message] = (),
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """One pass, undecoded: ack ``acks`` and claim up to ``limit`` messages (with
        ``caps``, no more of a kind than its cap)."""
        tokens = [new_token() for _ in range(limit)]
        batch = self.broker.claim(
            self.subset, mechanisms, self.lease_ms, tokens, acks=acks, decode=False, caps=caps
        )
        if batch.claims:
            self._empty_passes = 0
        return batch

    def claim(
        self,
        mechanisms: Sequence[SlotKind] = SLOT_KINDS,
        limit: int = 1,
        acks: Sequence[Message] = (),
    ) -> Pass:
        """One pass: ack ``acks`` and claim up to ``limit`` messages, one round trip."""
        return self._pass(self.claim_raw(mechanisms, limit, acks))

    def _pass(self, batch: ClaimBatch) -> Pass:
        messages = tuple(m for m in (self.decode(c) for c in batch.claims) if m is not None)
        return Pass(messages, batch.next_wake, batch.acked, len(batch.claims))

    def _backoff_ms(self, next_wake: int | None) -> int:
        return self._wait_plan(next_wake)[0]

    def _wait_plan(self, next_wake: int | None) -> tuple[int, bool]:
        """How long to wait, and whether the wait ends at a known ready time."""
        self._empty_passes += 1
        wait_ms = self.backoff.get(self._empty_passes)
        timed = False
        if next_wake is not None:
            until = max(next_wake - self.broker.clock.now(), 0)
            timed = until <= wait_ms
            wait_ms = min(wait_ms, until)
        return (0 if self.stop_event.is_set() else wait_ms), timed

    def wait(self, next_wake: int | None, wake_key: str | None = None) -> None:
        """Back off after an empty pass, waking early on new work (or ``wake_key``)."""
        wait_ms = self._backoff_ms(next_wake)
        if wait_ms > 0:
            self.broker.backend.wait_for_work(self.subset, wait_ms, wake_key)

    def wait_and_claim_raw(
        self,
        mechanisms: Sequence[SlotKind],
        limit: int,
        next_wake: int | None,
        wake_key: str | None = None,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """Back off after an empty pass, then claim (undecoded); on Redis one round
        trip does both, unless the wait ends at a delayed message's ready time:
        then the claim must read the clock after the wait, not before."""
        wait_ms, timed = self._wait_plan(next_wake)
        if timed:
            if wait_ms > 0:
                self.broker.backend.wait_for_work(self.subset, wait_ms, wake_key)
            return self.claim_raw(mechanisms, limit, caps=caps)
        tokens = [new_token() for _ in range(limit)]
        batch = self.broker.backend.wait_and_claim(
            self.subset,
            mechanisms,
            self.broker.clock.now,
            self.lease_ms,
            tokens,
            wait_ms,
            wake_key,
            decode=False,
            virtual=self.broker.virtual,
            caps=caps,
        )
        if batch.claims:
            self._empty_passes = 0
        return batch

    def wait_and_claim(
        self,
        mechanisms: Sequence[SlotKind],
        limit: int,
        next_wake: int | None,
        wake_key: str | None = None,
    ) -> Pass:
        """Back off after an empty pass, then claim; on Redis one round trip does both."""
        return self._pass(self.wait_and_claim_raw(mechanisms, limit, next_wake, wake_key))

    def stream(self) -> Iterator[Message]:
        """Yield claimed messages until ``stop()``; each is leased to this consumer."""
        pause = 0.05
        while not self.stop_event.is_set():
            try:
                found = self.claim()
            except BackendUnavailableError as error:
                log.warning("backend unavailable (%s); retrying in %.2fs", error, pause)
                self.stop_event.wait(pause)
                pause = min(pause * 2, 5.0)
                continue
            pause = 0.05
            if found.messages:
                yield from found.messages
            else:
                self.wait(found.next_wake)
