"""The Broker: puts messages into queues and moves them between states.

Every state change goes through the backend's queue operations. Operations
on a claimed message carry its lease token (``message.lock``) and are
refused once the lease no longer holds, so a worker that lost its lease
(paused, partitioned) cannot ack or reschedule someone else's run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from alsek.effects.backends.base import Backend, ClaimBatch, ResultWrite, Submission
from alsek.effects.clock import Clock, is_virtual, system_clock
from alsek.effects.message import Message
from alsek.exceptions import LeaseLostError, MessageExistsError, NotFoundError, ValidationError
from alsek.pure import codec, transitions
from alsek.pure.cancel import CancelResult
from alsek.pure.dead_letter import DeadLetterRecord, record_for, resubmission
from alsek.pure.durations import Duration, to_ms
from alsek.pure.keys import (
    DLQ_PREFIX,
    dead_letter_name,
    get_message_name,
    get_subnamespace,
    parse_message_name,
)
from alsek.pure.message import Message as PureMessage
from alsek.pure.queue_model import DeliveryChange, entry_for
from alsek.pure.workers import WorkerRecord

log = logging.getLogger(__name__)


class Broker:
    """Submits and manages messages on a backend.

    Args:
        backend: where messages live.
        dlq_ttl: how long (ms or a ``timedelta``) dead letters are kept; None keeps them until
            removed or re-submitted.
        dlq: keep dead letters at all (False drops failed messages).
    """

    def __init__(
        self,
        backend: Backend,
        dlq_ttl: Duration | None = None,
        dlq: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(backend, Backend):
            raise ValidationError(f"Broker needs a Backend, got {backend!r}")
        dlq_ttl = to_ms("dlq_ttl", dlq_ttl)
        if dlq_ttl is not None and (not isinstance(dlq_ttl, int) or dlq_ttl <= 0):
            raise ValidationError(f"dlq_ttl must be a positive int (ms) or None, got {dlq_ttl!r}")
        self.backend = backend
        self.dlq_ttl = dlq_ttl
        self.dlq = dlq
        self.clock = clock
        #: Backends take this broker's times as given (a manual clock), instead of
        #: their own clock where they have one (Redis).
        self.virtual = is_virtual(clock)

    def __repr__(self) -> str:
        return f"Broker({self.backend!r})"

    @property
    def serializer(self) -> Any:
        """The backend's serializer."""
        return self.backend.serializer

    # -- names -------------------------------------------------------------------

    @staticmethod
    def get_subnamespace(queue: str | None = None, task_name: str | None = None) -> str:
        """The prefix under which messages of ``queue`` (and ``task_name``) live."""
        return get_subnamespace(queue, task_name)

    @staticmethod
    def get_message_name(message: PureMessage) -> str:
        """The full name of ``message``: its subnamespace plus its uuid."""
        return get_message_name(message)

    def exists(self, message: PureMessage) -> bool:
        """Whether ``message`` is in the backend."""
        return self.backend.exists(get_message_name(message))

    # -- producing ---------------------------------------------------------------

    def submit(self, message: PureMessage) -> PureMessage:
        """Put ``message`` in its queue; ready at ``message.ready_at``.

        Raises:
            MessageExistsError: a message with this uuid is already queued.
            SerializationError: the message cannot be encoded (nothing written).
        """
        name = get_message_name(message)
        stored = transitions.unclaimed(message)
        entry = entry_for(stored, name)
        if not self.backend.enqueue(entry, stored.data, self.clock.now(), virtual=self.virtual):
            raise MessageExistsError(name)
        return message

    def sync(self, message: PureMessage) -> PureMessage:
        """The stored version of ``message`` (keeping its lease token)."""
        name = get_message_name(message)
        data = self.backend.get_or_none(name)
        if data is None:
            raise NotFoundError(f"{message.summary} is not in the backend")
        stored = codec.message_from_data(data, type(message))
        return attrs.evolve(stored, lock=message.lock, deliveries=message.deliveries)

    # -- state changes -------------------------------------------------------------

    def release(
        self,
        message: PureMessage,
        token: str | None,
        deliveries: DeliveryChange = "keep",
    ) -> bool:
        """Store ``message`` as given and make it claimable at its ``ready_at``.

        ``token`` fences the change (None: unconditional). Returns False when
        the lease no longer holds.
        """
        name = get_message_name(message)
        stored = transitions.unclaimed(message)
        return self.backend.release(
            message.queue,
            name,
            token,
            entry_for(stored, name),
            stored.data,
            deliveries,
            self.clock.now(),
            virtual=self.virtual,
        )

    def retry(self, message: PureMessage) -> PureMessage:
        """Reschedule ``message`` with one more retry, after its backoff.

        Raises ``LeaseLostError`` if ``message`` was claimed and its lease no
        longer holds.
        """
        retried = transitions.retry(message, self.clock.now())
        if not self.release(retried, message.lock, "reset"):
            raise LeaseLostError(f"cannot retry {message.summary}: its lease no longer holds")
        return retried

    def nack(self, message: PureMessage, delay: Duration = 0) -> bool:
        """Give ``message`` back unprocessed, claimable again after ``delay`` (ms or a
        ``timedelta``)."""
        now = self.clock.now()
        return self.release(
            transitions.nack(message, now, to_ms("delay", delay)), message.lock, "keep"
        )

    def hand_back(self, message: PureMessage) -> bool:
        """Release a claim that never ran (shutdown): the delivery does not count."""
        return self.release(transitions.nack(message, self.clock.now()), message.lock, "uncount")

    def ack(self, message: PureMessage) -> bool:
        """Acknowledge ``message``: it is done and leaves the backend.

        Returns False when ``message`` was claimed and its lease no longer
        holds (another consumer may be running it), or it is already gone.
        """
        return self.backend.ack(message.queue, get_message_name(message), message.lock)

    def settle(
        self,
        message: PureMessage,
        token: str | None,
        result: ResultWrite | None,
        callback: PureMessage | None,
    ) -> bool:
        """Record a success in one step: ``result`` (written once), the submission of
        ``callback`` (unless already submitted) and the ack of ``message``, fenced by
        ``token``. False when the lease no longer holds (nothing written)."""
        submission = None
        if callback is not None:
            stored = transitions.unclaimed(callback)
            name = get_message_name(stored)
            submission = Submission(entry_for(stored, name), stored.data)
        return self.backend.settle(
            message.queue,
            get_message_name(message),
            token,
            result,
            submission,
            self.clock.now(),
            virtual=self.virtual,
        )

    def remove(self, message: PureMessage) -> bool:
        """Remove ``message`` from the backend (same as ``ack``)."""
        return self.ack(message)

    def fail(self, message: PureMessage, reason: str | None = None) -> bool:
        """Remove ``message`` and keep it in the dead-letter queue (when enabled)."""
        name = get_message_name(message)
        record = record_for(name, message, reason or "failed", self.clock.now())
        return self.dead_letter_name(message.queue, name, message.lock, record)

    def dead_letter_name(
        self, queue: str, name: str, token: str | None, record: DeadLetterRecord
    ) -> bool:
        """Move whatever is stored at ``name`` to the dead letters with ``record``."""
        dlq = dead_letter_name(name) if self.dlq else None
        value = codec.unstructure(record) if self.dlq else None
        return self.backend.dead_letter(queue, name, token, dlq, value, self.dlq_ttl)

    # -- consuming -----------------------------------------------------------------

    def claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        lease_ms: int,
        tokens: Sequence[str],
        now: int | None = None,
        acks: Sequence[PureMessage] = (),
        decode: bool = True,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """Ack ``acks`` (claimed messages, fenced by their tokens), then claim up to
        ``len(tokens)`` ready messages (with ``caps``, no more of a kind than its
        cap), in one backend round trip."""
        fenced = [(m.queue, get_message_name(m), m.lock or "") for m in acks]
        return self.backend.claim(
            queues,
            mechanisms,
            self.clock.now() if now is None else now,
            lease_ms,
            tokens,
            fenced,
            decode,
            virtual=self.virtual,
            caps=caps,
        )

    def renew(self, messages: Sequence[PureMessage], lease_ms: int) -> list[bool]:
        """Extend the leases of claimed ``messages``; False where a lease was lost."""
        leases = [(m.queue, get_message_name(m), m.lock or "") for m in messages]
        return self.renew_leases(leases, lease_ms)

    def renew_leases(self, leases: Sequence[tuple[str, str, str]], lease_ms: int) -> list[bool]:
        """Extend ``(queue, name, token)`` leases; False where a lease was lost."""
        return self.backend.renew_many(leases, self.clock.now(), lease_ms, virtual=self.virtual)

    def queues(self) -> list[str]:
        """Queues known to the backend, alphabetically."""
        return self.backend.known_queues()

    def counts(self, queue: str) -> dict[str, int]:
        """Ready, delayed and leased messages in ``queue``."""
        return self.backend.queue_counts(queue, self.clock.now(), virtual=self.virtual)

    # -- dead letters --------------------------------------------------------------

    def dead_letters(self, queue: str | None = None) -> Iterator[DeadLetterRecord]:
        """The dead letters (of ``queue``, or all), oldest first."""
        pattern = f"{DLQ_PREFIX}:{get_subnamespace(queue)}"
        records = []
        for name in self.backend.scan(pattern):
            value = self.backend.get_or_none(name)
            if value is not None:
                records.append(codec.structure(value, DeadLetterRecord, what=name))
        return iter(sorted(records, key=lambda r: (r.failed_at, r.name)))

    def get_dead_letter(self, uuid: str) -> DeadLetterRecord:
        """The dead letter of the message ``uuid``."""
        for record in self.dead_letters():
            if record.uuid == uuid:
                return record
        raise NotFoundError(f"no dead letter for message {uuid!r}")

    def resubmit_dead_letter(self, uuid: str, message_class: type[Message] = Message) -> Message:
        """Put a dead message back in its queue with a fresh retry budget."""
        record = self.get_dead_letter(uuid)
        if record.message is None:
            raise ValidationError(
                f"dead letter {record.name!r} holds an undecodable payload; it cannot run"
            )
        message = resubmission(
            codec.message_from_data(record.message, message_class), self.clock.now()
        )
        self.submit(message)
        self.backend.delete(dead_letter_name(record.name), missing_ok=True)
        return message

    def remove_dead_letter(self, uuid: str) -> None:
        """Delete the dead letter of the message ``uuid``."""
        record = self.get_dead_letter(uuid)
        self.backend.delete(dead_letter_name(record.name), missing_ok=True)

    @staticmethod
    def parse_name(name: str) -> tuple[str, str, str]:
        """``(queue, task_name, uuid)`` of a message name."""
        return parse_message_name(name)

    # -- operability (alsek.effects.backends.operations, alsek.effects.cancelling) --

    def oldest_ready_age(self, queue: str) -> int | None:
        """How long (ms) the oldest ready message of ``queue`` has been waiting to run
        since it became ready (None: nothing is ready)."""
        from alsek.effects.backends.operations_for import operations_for

        return operations_for(self.backend).oldest_ready_age(
            queue, self.clock.now(), virtual=self.virtual
        )

    def workers(self) -> list[WorkerRecord]:
        """The live worker pools' registry records (``alsek.pure.workers.WorkerRecord``)."""
        from alsek.effects.inspection import live_workers

        return live_workers(self)

    def cancel(self, message_or_uuid: PureMessage | str) -> CancelResult:
        """Cancel a message: removed if it waits (ready or delayed), stopped by the pool
        running it (on any host) if it runs; either way recorded as cancelled and never
        retried. Returns what was done (``REMOVED``, ``REQUESTED`` or ``NOT_FOUND``)."""
        from alsek.effects.cancelling import cancel

        return cancel(self, message_or_uuid)
