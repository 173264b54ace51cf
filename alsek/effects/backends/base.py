"""The storage interface: five primitives, plus queue operations built on them.

A backend stores serialized values under names inside a namespace. Any
subclass that implements ``exists``, ``set``, ``get``, ``delete`` and
``scan`` powers a Broker and a ResultStore through the generic queue
operations below (correct, but every claim scans the queue). Redis and
DiskCache override the queue operations with server-side, indexed versions
whose claim cost does not grow with the queue. The semantics of every queue
operation are those of ``alsek.pure.queue_model``; the integration state
machine holds each backend to that model.

Generic layout, besides the messages themselves::

    leases:{message name}:{n}    the n-th delivery's lease: {token, deadline, state}

The number of lease keys of a message is its delivery count; claiming
creates lease ``n + 1`` with ``nx``, so two consumers can never both win
the same delivery. Renew, ack and release here check the lease and then
act, in two steps: a custom backend gets exclusive claims, but only Redis
and DiskCache fence those later steps atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alsek.effects.backends.records import (
    ClaimBatch,
    CorruptPayload,
    Encoded,
    ResultWrite,
    Submission,
    is_glob,
)
from alsek.effects.backends.store import Store
from alsek.exceptions import DeserializationError, ValidationError
from alsek.pure.keys import parse_message_name, subnamespace_pattern
from alsek.pure.queue_model import (
    Claim,
    DeliveryChange,
    IndexEntry,
    LeaseRef,
    delivery_update,
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


class Backend(Store):
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

    def _lease_names(self) -> dict[str, list[tuple[int, str]]]:
        leases: dict[str, list[tuple[int, str]]] = {}
        for lease_name in self.scan("leases:*"):
            message_name, _, number = lease_name[len("leases:") :].rpartition(":")
            if number.isdigit():
                leases.setdefault(message_name, []).append((int(number), lease_name))
        for entries in leases.values():
            entries.sort()
        return leases

    def _current_lease(self, message_name: str) -> tuple[int, str, dict[str, Any] | None]:
        entries = self._lease_names().get(message_name, [])
        if not entries:
            return 0, "", None
        number, lease_name = entries[-1]
        return number, lease_name, self.get_or_none(lease_name)

    def _holds(self, name: str, token: str | None) -> bool:
        if not self.exists(name):
            return False
        if token is None:
            return True
        _, _, lease = self._current_lease(name)
        return lease is not None and lease.get("state") == "held" and lease.get("token") == token

    @staticmethod
    def _entry_of(queue: str, name: str, payload: Any) -> IndexEntry:
        if isinstance(payload, CorruptPayload):
            return IndexEntry(queue, name, "*", 0, 0, 0)
        try:
            ready_at = int(payload["updated_at"]) + int(payload["delay"])
            return IndexEntry(
                queue,
                name,
                str(payload.get("mechanism", "process")),
                int(payload.get("priority", 0)),
                ready_at,
                int(payload["created_at"]),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            # An undecodable message is claimable at once, so that the
            # consumer can dead-letter it.
            return IndexEntry(queue, name, "*", 0, 0, 0)

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
    ) -> ClaimBatch:
        """Ack ``acks``, then claim up to ``len(tokens)``
        ready messages (see ``queue_model.claim``). With ``decode=False``,
        payloads may come back ``Encoded`` (this generic version decodes anyway:
        it needs them to order the queue)."""
        acked = tuple(self.ack(ack.queue, ack.name, ack.token) for ack in acks)
        order = list(queues) if queues is not None else self.known_queues()
        claims: list[Claim] = []
        for token in tokens:
            claim = None
            for queue in order:
                claim = self._claim_one(queue, mechanisms, now, lease_ms, token)
                if claim is not None:
                    break
            if claim is None:
                break
            claims.append(claim)
        next_wake = None if len(claims) == len(tokens) else self._next_wake(order, now)
        return ClaimBatch(tuple(claims), next_wake, acked)

    def _waiting(self, queue: str, now: int) -> list[tuple[IndexEntry, Any, int, str, Any]]:
        leases = self._lease_names()
        found = []
        for name in self.scan(subnamespace_pattern(queue)):
            try:
                payload = self.get_or_none(name)
            except DeserializationError as error:
                payload = CorruptPayload(None, str(error))
            if payload is None:
                continue
            entries = leases.get(name, [])
            number, lease_name = entries[-1] if entries else (0, "")
            lease = self.get_or_none(lease_name) if lease_name else None
            found.append((self._entry_of(queue, name, payload), payload, number, lease_name, lease))
        return found

    def _claim_one(
        self, queue: str, mechanisms: Sequence[str], now: int, lease_ms: int, token: str
    ) -> Claim | None:
        candidates = []
        for entry, payload, number, lease_name, lease in self._waiting(queue, now):
            if lease is not None and lease.get("state") == "held":
                if int(lease.get("deadline", 0)) > now:
                    continue
                # Expired: it no longer holds, whether or not we take it.
                self.set(lease_name, {**lease, "state": "expired"})
            if entry.ready_at > now or (
                entry.mechanism not in mechanisms and entry.mechanism != "*"
            ):
                continue
            candidates.append((entry.sort_key, entry, payload, number))
        for _, entry, payload, number in sorted(candidates, key=lambda c: c[0]):
            lease_name = f"leases:{entry.name}:{number + 1}"
            value = {"token": token, "deadline": now + lease_ms, "state": "held"}
            if self.set_if_absent(lease_name, value):
                mechanism = entry.mechanism if entry.mechanism != "*" else mechanisms[0]
                return Claim(
                    entry.name, queue, payload, token, number + 1, now + lease_ms, mechanism
                )
        return None

    def _next_wake(self, queues: Sequence[str], now: int) -> int | None:
        times = []
        for queue in queues:
            for entry, _, _, _, lease in self._waiting(queue, now):
                if lease is not None and lease.get("state") == "held":
                    times.append(int(lease.get("deadline", now)))
                elif entry.ready_at > now:
                    times.append(entry.ready_at)
        return min(times, default=None)

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
    ) -> ClaimBatch:
        """Wait (up to ``block_ms``, or until work or ``wake(wake_key)``), then claim.

        Redis does both in one round trip: the claim is queued behind a
        blocking pop and runs the moment the pop returns.
        """
        self.wait_for_work(queues, block_ms, wake_key)
        return self.claim(
            queues, mechanisms, clock(), lease_ms, tokens, decode=decode, virtual=virtual
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

    def _drop_leases(self, name: str) -> None:
        for _, lease_name in self._lease_names().get(name, []):
            self.delete(lease_name, missing_ok=True)

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
    ) -> bool:
        """Move a message to ``dlq_name`` (or just drop it when None)."""
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
