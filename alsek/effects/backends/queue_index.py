"""``QueueIndex``: the queue operations a broker needs from its backend.

``Backend`` implements them generically over any ``Store`` (by scanning);
Redis (Lua scripts) and DiskCache (SQLite transactions) implement them
natively, indexed and atomic. Every implementation follows
``alsek.pure.queue_model``, and the backend-vs-model state machine holds
each one to it. Fenced calls name their lease with a ``LeaseRef`` (or its
parts); a token of '' or None acts unconditionally (administrative use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from alsek.effects.backends.records import ClaimBatch, ResultWrite, Submission
from alsek.pure.queue_model import DeliveryChange, IndexEntry, LeaseRef


@runtime_checkable
class QueueIndex(Protocol):
    """Enqueue, claim, renew, ack, release, dead-letter, settle, count and check."""

    def check(self) -> None:
        """Raise when the store cannot serve (auth errors are not outages)."""

    def known_queues(self) -> list[str]:
        """Every queue ever used, sorted."""

    def enqueue(
        self, entry: IndexEntry, value: Any, now: int, nx: bool = True, virtual: bool = False
    ) -> bool:
        """Store a message, claimable at ``entry.ready_at``; False if ``nx`` refused it."""

    def enqueue_many(
        self, items: Sequence[tuple[IndexEntry, Any]], now: int, virtual: bool = False
    ) -> list[bool]:
        """``enqueue`` each ``(entry, value)`` with ``nx``, in as few round trips as can be."""

    def claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        now: int,
        lease_ms: int,
        tokens: Sequence[str],
        acks: Sequence[LeaseRef] = (),
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """Ack ``acks``, then lease up to ``len(tokens)`` ready messages (no more of a
        slot kind than its cap in ``caps``)."""

    def wait_and_claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        clock: Callable[[], int],
        lease_ms: int,
        tokens: Sequence[str],
        block_ms: int,
        wake_key: str | None = None,
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """Wait up to ``block_ms`` for work (or ``wake(wake_key)``), then claim."""

    def renew_many(
        self, leases: Sequence[LeaseRef], now: int, lease_ms: int, virtual: bool = False
    ) -> list[bool]:
        """Extend the leases that still hold; False for each one lost."""

    def ack(self, queue: str, name: str, token: str | None) -> bool:
        """Forget a finished message; False when the lease no longer holds."""

    def release(
        self,
        queue: str,
        name: str,
        token: str | None,
        entry: IndexEntry,
        value: Any,
        deliveries: DeliveryChange = "keep",
        now: int = 0,
        virtual: bool = False,
    ) -> bool:
        """Put a leased message back with a new payload and ready time."""

    def dead_letter(
        self,
        queue: str,
        name: str,
        token: str | None,
        dlq_name: str | None,
        dlq_value: Any,
        dlq_ttl: int | None,
        failed_at: int | None = None,
    ) -> bool:
        """Store the dead-letter record (unless ``dlq_name`` is None) and forget the message."""

    def settle(
        self,
        queue: str,
        name: str,
        token: str | None,
        result: ResultWrite | None,
        callback: Submission | None,
        now: int,
        virtual: bool = False,
    ) -> bool:
        """Write the result, submit the callback and ack, fenced (atomic where native)."""

    def queue_counts(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        """Ready, delayed and leased messages of ``queue``."""
