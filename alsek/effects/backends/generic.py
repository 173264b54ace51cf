"""Lease records for backends that have only the five primitives.

Layout, besides the messages themselves::

    leases:{message name}:{n}    the n-th delivery's lease: {token, deadline, state}

The number of lease keys of a message is its delivery count; claiming
creates lease ``n + 1`` with ``nx``, so two consumers can never both win
the same delivery. Renew, ack and release check the lease and then act, in
two steps: a custom backend gets exclusive claims, but only Redis and
DiskCache fence those later steps atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alsek.effects.backends.records import CorruptPayload
from alsek.effects.backends.store import Store
from alsek.exceptions import DeserializationError
from alsek.pure.keys import subnamespace_pattern
from alsek.pure.message import slot_kind_of
from alsek.pure.queue_model import Claim, IndexEntry


class GenericLeases(Store):
    """Reading and taking leases, and a queue's waiting messages, by scanning."""

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
                slot_kind_of(str(payload.get("mechanism")), payload.get("is_async") is True),
                int(payload.get("priority", 0)),
                ready_at,
                int(payload["created_at"]),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            # An undecodable message is claimable at once, so that the
            # consumer can dead-letter it.
            return IndexEntry(queue, name, "*", 0, 0, 0)

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

    def _expire(self, queue: str, now: int) -> None:
        """Mark the leases of ``queue`` whose deadline passed as expired."""
        for _, _, _, lease_name, lease in self._waiting(queue, now):
            held = lease is not None and lease.get("state") == "held"
            if held and int(lease.get("deadline", 0)) <= now:
                self.set(lease_name, {**lease, "state": "expired"})

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

    def _drop_leases(self, name: str) -> None:
        for _, lease_name in self._lease_names().get(name, []):
            self.delete(lease_name, missing_ok=True)

