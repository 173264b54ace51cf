"""The Broker: puts messages into queues and moves them between states.

Every state change goes through the backend's queue operations. Operations
on a claimed message carry its lease token (``message.lock``) and are
refused once the lease no longer holds, so a worker that lost its lease
(paused, partitioned) cannot ack or reschedule someone else's run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from alsek import defaults
from alsek.effects.backends.base import Backend, ClaimBatch, ResultWrite, Submission
from alsek.effects.clock import Clock, is_virtual, system_clock
from alsek.effects.dead_letter_methods import DeadLetters
from alsek.exceptions import LeaseLostError, MessageExistsError, NotFoundError, ValidationError
from alsek.pure import codec, transitions
from alsek.pure.cancel import CancelResult
from alsek.pure.dead_letter import DeadLetterRecord, dead_letter_ttl, record_for
from alsek.pure.durations import Duration, to_ms
from alsek.pure.keys import (
    dead_letter_name,
    get_message_name,
    get_subnamespace,
    parse_message_name,
)
from alsek.pure.message import Message as PureMessage
from alsek.pure.queue_model import DeliveryChange, LeaseRef, entry_for, lease_of
from alsek.pure.workers import WorkerRecord

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class Broker(DeadLetters):
    """Submits and manages messages on a backend.

    Args:
        backend: where messages live.
        dlq_ttl: how long (ms or a ``timedelta``) dead letters are kept: a week by
            default. None keeps none: a message that fails for good is dropped (its
            failure is still logged, and kept as its last error for ``inspect``).
    """

    def __init__(
        self,
        backend: Backend,
        dlq_ttl: Duration | None = defaults.DEFAULT_DLQ_TTL_MS,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(backend, Backend):
            raise ValidationError(f"Broker needs a Backend, got {backend!r}")
        self.backend = backend
        self.dlq_ttl = dead_letter_ttl(to_ms("dlq_ttl", dlq_ttl))
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

    def submit_many(self, messages: Sequence[PureMessage]) -> list[bool]:
        """Submit ``messages`` in as few backend round trips as it allows; False where a
        message with that uuid is already queued (nothing written for it)."""
        entries = []
        for message in messages:
            stored = transitions.unclaimed(message)
            entries.append((entry_for(stored, get_message_name(message)), stored.data))
        return self.backend.enqueue_many(entries, self.clock.now(), virtual=self.virtual)

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
        """Move whatever is stored at ``name`` to the dead letters with ``record`` (kept
        ``dlq_ttl`` ms; just removed when ``dlq_ttl`` is None)."""
        if self.dlq_ttl is None:
            return self.backend.dead_letter(queue, name, token, None, None, None)
        value = {k: v for k, v in codec.unstructure(record).items() if k != "problem"}
        return self.backend.dead_letter(
            queue,
            name,
            token,
            dead_letter_name(name),
            value,
            self.dlq_ttl,
            failed_at=record.failed_at,
        )

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
        fenced = [lease_of(m) for m in acks]
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
        return self.renew_leases([lease_of(m) for m in messages], lease_ms)

    def renew_leases(self, leases: Sequence[LeaseRef], lease_ms: int) -> list[bool]:
        """Extend ``leases``; False where a lease was lost."""
        return self.backend.renew_many(leases, self.clock.now(), lease_ms, virtual=self.virtual)

    def queues(self) -> list[str]:
        """Queues known to the backend, alphabetically."""
        return self.backend.known_queues()

    def counts(self, queue: str) -> dict[str, int]:
        """Ready, delayed and leased messages in ``queue``."""
        return self.backend.queue_counts(queue, self.clock.now(), virtual=self.virtual)

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
