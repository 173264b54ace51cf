"""What operators ask of a backend: where a message is, how old a queue's work is,
which workers are alive, and cancelling.

``operations_for(backend)`` returns the implementation for a backend:
Redis and DiskCache read their own indexes (``redis_operations``,
``disk_operations``); any other backend gets the generic version here, built
on the five primitives and the generic queue layout (correct, and it scans).
None of these reads the whole keyspace on Redis or DiskCache.

Names used (inside the backend's namespace)::

    workers:{id}              a worker pool's heartbeat record (expires)
    cancel:{message name}     a request to stop a running message (expires)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from alsek.effects.backends.base import Backend
from alsek.exceptions import DeserializationError
from alsek.pure.cancel import cancel_marker_name
from alsek.pure.keys import parse_message_name

WORKERS_PREFIX = "workers"


def worker_name(worker_id: str) -> str:
    """Where the record of the worker pool ``worker_id`` lives."""
    return f"{WORKERS_PREFIX}:{worker_id}"


@attrs.frozen
class Place:
    """Where a queued message stands in its queue.

    ``state`` is ``ready``, ``delayed`` or ``running`` (leased); ``deliveries``
    counts claims since its last recorded outcome; ``ready_in_ms`` is how long
    until it is ready (negative: ready since); ``lease_left_ms`` how long its
    lease still holds (running only).
    """

    state: str
    deliveries: int
    ready_in_ms: int | None = None
    lease_left_ms: int | None = None


class Operations:
    """The generic version, over any backend's primitives (scans)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def describe(self) -> str:
        """Where the backend is (for errors)."""
        return repr(self.backend)

    # -- queues --------------------------------------------------------------------

    def oldest_ready_age(self, queue: str, now: int, virtual: bool = False) -> int | None:
        """How long (ms) the oldest ready message of ``queue`` has been ready (None:
        nothing is ready)."""
        oldest = None
        for entry, _, _, _, lease in self.backend._waiting(queue, now):
            held = lease is not None and lease.get("state") == "held"
            if held and int(lease.get("deadline", 0)) > now:
                continue
            if entry.ready_at <= now and (oldest is None or entry.ready_at < oldest):
                oldest = entry.ready_at
        return None if oldest is None else now - oldest

    def ready_by_mechanism(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        """Ready messages of ``queue`` per mechanism (``thread``, ``process``, or ``*``
        when the index does not say); they add up to its ready count."""
        counts: dict[str, int] = {}
        for entry, _, _, _, lease in self.backend._waiting(queue, now):
            held = lease is not None and lease.get("state") == "held"
            if (held and int(lease.get("deadline", 0)) > now) or entry.ready_at > now:
                continue
            counts[entry.mechanism] = counts.get(entry.mechanism, 0) + 1
        return counts

    def find(self, uuid: str) -> list[str]:
        """Names of queued messages whose uuid is ``uuid``."""
        return sorted(self.backend.scan(f"queues:*:tasks:*:messages:{uuid}"))

    def place(self, name: str, now: int, virtual: bool = False) -> Place | None:
        """Where the message stored at ``name`` stands (None: it is not queued)."""
        try:
            payload = self.backend.get_or_none(name)
        except DeserializationError:
            payload = None
        if payload is None and not self.backend.exists(name):
            return None
        number, _, lease = self.backend._current_lease(name)
        queue = parse_message_name(name)[0]
        entry = self.backend._entry_of(queue, name, payload)
        ready_in = entry.ready_at - now
        if lease is not None and lease.get("state") == "held":
            left = int(lease.get("deadline", 0)) - now
            if left > 0:
                return Place("running", number, ready_in, left)
        return Place("ready" if ready_in <= 0 else "delayed", number, ready_in)

    # -- cancelling ----------------------------------------------------------------

    def cancel_waiting(self, queue: str, name: str, now: int, virtual: bool = False) -> str:
        """Remove the message at ``name`` unless it is running: ``'removed'``,
        ``'running'`` (left alone) or ``'missing'``. Not atomic in this generic form."""
        place = self.place(name, now, virtual)
        if place is None:
            return "missing"
        if place.state == "running":
            return "running"
        return "removed" if self.backend.ack(queue, name, None) else "missing"

    def request_cancel(self, name: str, value: Any, ttl_ms: int) -> None:
        """Leave a request for whichever pool runs ``name`` to stop it."""
        self.backend.set(cancel_marker_name(name), value, ttl=ttl_ms)

    def cancel_requested(self, names: Sequence[str]) -> list[bool]:
        """Whether each of ``names`` has a pending cancel request (one round trip where
        the backend allows)."""
        return [self.backend.exists(cancel_marker_name(name)) for name in names]

    # -- the worker registry ---------------------------------------------------------

    def put_worker(self, worker_id: str, record: Any, ttl_ms: int) -> None:
        """Write a worker pool's record, kept ``ttl_ms`` unless written again."""
        self.backend.set(worker_name(worker_id), record, ttl=ttl_ms)

    def drop_worker(self, worker_id: str) -> None:
        """Remove a worker pool's record (a clean stop)."""
        self.backend.delete(worker_name(worker_id), missing_ok=True)

    def workers(self) -> list[Any]:
        """Every live worker pool's record (expired ones are gone)."""
        records = []
        for name in self.backend.scan(f"{WORKERS_PREFIX}:*"):
            try:
                value = self.backend.get_or_none(name)
            except DeserializationError:
                continue
            if value is not None:
                records.append(value)
        return records
