"""``Backend``: a ``Store`` with the ``QueueIndex`` operations built on its primitives.

Any subclass that implements the five primitives powers a Broker and a
ResultStore through these generic queue operations (correct, but every claim
scans the queue; the lease records are ``generic.py``'s). Redis and DiskCache
override them with server-side, indexed versions whose claim cost does not
grow with the queue. The semantics of every queue operation are those of
``alsek.pure.queue_model``; the integration state machine holds each backend
to that model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from alsek.effects.backends.generic import GenericLeases
from alsek.effects.backends.records import (
    ClaimBatch,
    CorruptPayload,
    Encoded,
    ResultWrite,
    Submission,
    is_glob,
)
from alsek.effects.backends.store import Store
from alsek.exceptions import ValidationError
from alsek.pure.keys import parse_message_name
from alsek.pure.queue_model import (
    Claim,
    DeliveryChange,
    IndexEntry,
    LeaseRef,
    delivery_update,
    open_kinds,
)

__all__ = [
    "Backend",
    "ClaimBatch",
    "CorruptPayload",
    "Encoded",
    "ResultWrite",
    "Store",
    "Submission",
    "is_glob",
]


class Backend(GenericLeases):
    """Base class of every backend: a ``Store`` with the ``QueueIndex``
    operations built generically on its five primitives (overridden natively
    by Redis and DiskCache)."""

    # -- queue operations (generic: scans; overridden by indexed backends) ------

    def known_queues(self) -> list[str]:
        """Queues that hold, or held, messages (alphabetical)."""
        queues = set()
        for name in self.scan("queues:*"):
            try:
                queues.add(parse_message_name(name)[0])
            except ValidationError:
                continue
        return sorted(queues)

    def enqueue(
        self, entry: IndexEntry, value: Any, now: int, nx: bool = True, virtual: bool = False
    ) -> bool:
        """Store a message and make it claimable at ``entry.ready_at``.

        With ``nx``, answer False (writing nothing) if the name exists.

        Times: ``now`` is the caller's clock. A backend with a clock of its own
        (Redis) reads ``entry.ready_at - now`` as a delay from its own now and
        takes every lease deadline from its own clock, so a client's clock
        skew cannot shorten a lease; with ``virtual`` (a test's manual clock)
        every backend takes the caller's times as given.
        """
        if nx:
            return self.set_if_absent(entry.name, value)
        self.set(entry.name, value)
        return True

    def enqueue_many(
        self, items: Sequence[tuple[IndexEntry, Any]], now: int, virtual: bool = False
    ) -> list[bool]:
        """``enqueue`` each ``(entry, value)`` with ``nx``, in as few round trips as the
        backend allows (Redis: one pipeline; DiskCache: one transaction). Used to put
        dead letters back in bulk."""
        return [self.enqueue(entry, value, now, nx=True, virtual=virtual) for entry, value in items]

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
        """Ack ``acks``, then claim up to ``len(tokens)``
        ready messages (see ``queue_model.claim``). With ``decode=False``,
        payloads may come back ``Encoded`` (this generic version decodes anyway:
        it needs them to order the queue)."""
        acked = tuple(self.ack(ack.queue, ack.name, ack.token) for ack in acks)
        order = list(queues) if queues is not None else self.known_queues()
        claims: list[Claim] = []
        taken: dict[str, int] = {}
        for token in tokens:
            claim = None
            kinds = open_kinds(mechanisms, caps, taken)
            for queue in order:
                if not kinds:
                    self._expire(queue, now)
                    continue
                claim = self._claim_one(queue, kinds, now, lease_ms, token)
                if claim is not None:
                    break
            if claim is None:
                break
            taken[claim.mechanism] = taken.get(claim.mechanism, 0) + 1
            claims.append(claim)
        next_wake = None if len(claims) == len(tokens) else self._next_wake(order, now)
        return ClaimBatch(tuple(claims), next_wake, acked)

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
        """Wait (up to ``block_ms``, or until work or ``wake(wake_key)``), then claim.

        Redis does both in one round trip: the claim is queued behind a
        blocking pop and runs the moment the pop returns.
        """
        self.wait_for_work(queues, block_ms, wake_key)
        return self.claim(
            queues, mechanisms, clock(), lease_ms, tokens, decode=decode, virtual=virtual,
            caps=caps,
        )

    def renew(
        self, queue: str, name: str, token: str, now: int, lease_ms: int, virtual: bool = False
    ) -> bool:
        """Extend the lease held with ``token``; False when it no longer holds."""
        _, lease_name, lease = self._current_lease(name)
        if lease is None or lease.get("state") != "held" or lease.get("token") != token:
            return False
        self.set(lease_name, {**lease, "deadline": now + lease_ms})
        return True

    def renew_many(
        self,
        leases: Sequence[LeaseRef],
        now: int,
        lease_ms: int,
        virtual: bool = False,
    ) -> list[bool]:
        """Renew several leases at once."""
        return [self.renew(ref.queue, ref.name, ref.token, now, lease_ms) for ref in leases]

    def ack(self, queue: str, name: str, token: str | None) -> bool:
        """Remove a finished message; False when the lease no longer holds."""
        if not self._holds(name, token):
            return False
        self.delete(name, missing_ok=True)
        self._drop_leases(name)
        return True

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
        """Store ``value`` and make the message claimable at ``entry.ready_at``."""
        if not self._holds(name, token):
            return False
        self.set(name, value)
        _, lease_name, lease = self._current_lease(name)
        # Deliveries are counted as lease records here: drop them all, or this one.
        update = delivery_update(deliveries)
        if update.reset:
            self._drop_leases(name)
        elif update.delta < 0 and lease_name:
            self.delete(lease_name, missing_ok=True)
        elif lease is not None:
            self.set(lease_name, {**lease, "state": "released"})
        return True

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
        """Move a message to ``dlq_name`` (or just drop it when None), kept ``dlq_ttl`` ms.

        ``failed_at`` (UTC ms) is when it failed: backends that index their dead
        letters (Redis, DiskCache) order them by it; this generic version, whose
        dead letters are found by a scan of ``dlq:*``, ignores it.
        """
        if not self._holds(name, token):
            return False
        if dlq_name is not None:
            self.set(dlq_name, dlq_value, ttl=dlq_ttl)
        self.delete(name, missing_ok=True)
        self._drop_leases(name)
        return True

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
        """Record a success: write ``result`` (once), submit ``callback`` (unless its
        name exists) and ack the message, fenced by ``token``.

        Returns False, writing nothing, when the lease no longer holds. Redis and
        DiskCache do it in one atomic step, so a worker that dies mid-outcome
        did all of it or none. This generic version checks the lease, then
        writes in that order: a worker that dies between the steps leaves the
        message to be redelivered, and a callback that already finished (and
        left the queue) can then be submitted again.
        """
        if not self._holds(name, token):
            return False
        if result is not None:
            self.set_and_notify(result.name, result.value, True, result.ttl, result.extra)
        if callback is not None:
            self.enqueue(callback.entry, callback.value, now, nx=True)
        return self.ack(queue, name, token)

    def queue_counts(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        """How many messages of ``queue`` are ready, delayed and leased."""
        tally = {"ready": 0, "delayed": 0, "leased": 0}
        for entry, _, _, _, lease in self._waiting(queue, now):
            if lease is not None and lease.get("state") == "held":
                tally["leased"] += 1
            elif entry.ready_at <= now:
                tally["ready"] += 1
            else:
                tally["delayed"] += 1
        return tally
