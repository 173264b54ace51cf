"""Reading a running system: queues, workers and single messages, for ``status`` and
``inspect`` (and the dashboard).

Everything reads indexes (``alsek.effects.backends.operations``, and the
dead-letter index behind ``Broker.dead_letter_counts``) and named keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from alsek.effects.backends.operations import Place
from alsek.effects.backends.operations_for import operations_for
from alsek.effects.failures import read_failure
from alsek.effects.result import ResultStore
from alsek.exceptions import DeserializationError, ValidationError
from alsek.pure import codec
from alsek.pure.dead_letter import DeadLetterRecord
from alsek.pure.failure import FailureRecord
from alsek.pure.keys import result_name
from alsek.pure.workers import WorkerRecord

if TYPE_CHECKING:
    from alsek.effects.broker import Broker


@attrs.frozen
class QueueStatus:
    """One queue's counts, and how long its oldest ready message has waited (ms)."""

    queue: str
    ready: int
    delayed: int
    running: int
    dead: int
    oldest_ready_ms: int | None


def dead_letter_counts(broker: Broker) -> dict[str, int]:
    """Dead letters per queue, from the backend's dead-letter index (no record is read;
    a scan on custom backends)."""
    return broker.dead_letter_counts()


def queue_statuses(broker: Broker, also: Iterable[str] = ()) -> list[QueueStatus]:
    """Every known queue (plus ``also``, e.g. the tasks' queues), alphabetically."""
    dead = dead_letter_counts(broker)
    queues = sorted({*broker.queues(), *dead, *also})
    rows = []
    for queue in queues:
        counts = broker.counts(queue)
        rows.append(
            QueueStatus(
                queue,
                counts["ready"],
                counts["delayed"],
                counts["leased"],
                dead.get(queue, 0),
                broker.oldest_ready_age(queue),
            )
        )
    return rows


def live_workers(broker: Broker) -> list[WorkerRecord]:
    """The registry's live worker pools, by host and pid (unreadable records skipped)."""
    records = []
    for value in operations_for(broker.backend).workers():
        try:
            records.append(codec.structure(value, WorkerRecord, what="worker record"))
        except ValidationError:
            continue
    return sorted(records, key=lambda r: (r.host, r.pid, r.id))


@attrs.frozen
class Location:
    """Where a message is and what is known of it.

    ``where``: ``ready``, ``delayed``, ``running``, ``dead``, ``done`` (a result
    is stored), ``cancelled``, ``failed`` (final error, no dead letter kept) or
    ``unknown``. ``message`` is its stored data; ``worker`` the pool running it.
    """

    uuid: str
    where: str
    name: str | None = None
    message: dict[str, Any] | None = None
    place: Place | None = None
    worker: WorkerRecord | None = None
    dead_letter: DeadLetterRecord | None = None
    result: dict[str, Any] | None = None
    last_error: FailureRecord | None = None


def _stored_result(stores: Sequence[ResultStore], uuid: str) -> dict[str, Any] | None:
    for store in stores:
        try:
            record = store.backend.get_or_none(result_name(uuid))
        except DeserializationError:
            continue
        if isinstance(record, dict) and "result" in record:
            return {key: value for key, value in record.items() if key != "order"}
    return None


def _dead_letter(broker: Broker, uuid: str) -> DeadLetterRecord | None:
    """The newest dead letter of ``uuid``, if any."""
    found = broker.find_dead_letters(uuid)
    return found[-1] if found else None


def _running_on(broker: Broker, uuid: str) -> WorkerRecord | None:
    for worker in live_workers(broker):
        if any(task.uuid == uuid for task in worker.running):
            return worker
    return None


def locate(broker: Broker, uuid: str, stores: Sequence[ResultStore] = ()) -> Location:
    """Where the message ``uuid`` is: queued (and how), running (and on which pool),
    dead, done, cancelled or failed; with its fields, deliveries and last error."""
    operations = operations_for(broker.backend)
    last_error = read_failure(broker.backend, uuid)
    stores = [ResultStore(broker.backend), *stores]
    for name in operations.find(uuid):
        place = operations.place(name, broker.clock.now(), virtual=broker.virtual)
        if place is None:
            continue
        try:
            data = broker.backend.get_or_none(name)
        except DeserializationError:
            data = None
        worker = _running_on(broker, uuid) if place.state == "running" else None
        return Location(
            uuid,
            place.state,
            name,
            data if isinstance(data, dict) else None,
            place,
            worker,
            last_error=last_error,
        )
    dead = _dead_letter(broker, uuid)
    result = _stored_result(stores, uuid)
    if dead is not None:
        return Location(
            uuid,
            "dead",
            dead.name,
            dead.message,
            dead_letter=dead,
            result=result,
            last_error=last_error,
        )
    if result is not None:
        return Location(uuid, "done", result=result, last_error=last_error)
    if last_error is not None and last_error.final:
        where = "cancelled" if last_error.outcome == "cancelled" else "failed"
        return Location(uuid, where, last_error=last_error)
    return Location(uuid, "unknown", last_error=last_error)
