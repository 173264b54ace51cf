"""Everything the dashboard reads from and does to a running system, as plain data.

Each page renders the same dict its JSON API returns. Queues come from
their indexes and workers from the registry (``alsek.effects.inspection``);
dead letters only through the public ``Broker`` methods (``dead_letters()``,
``get_dead_letter``, ``resubmit_dead_letter``, ``remove_dead_letter``), so
that how they are stored can change underneath. Task arguments are replaced
by ``HIDDEN`` unless the dashboard was started with ``--show-args``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from alsek.effects.backends.operations_for import operations_for
from alsek.effects.broker import Broker
from alsek.effects.clock import utcnow_ms
from alsek.effects.failures import read_failure
from alsek.effects.inspection import live_workers, locate, queue_statuses
from alsek.effects.result import ResultStore
from alsek.exceptions import AlsekError, NotFoundError, ValidationError
from alsek.pure.dead_letter import DeadLetterRecord
from alsek.pure.keys import parse_message_name
from alsek.pure.message import check_name
from alsek.pure.observation import observe, outcomes_per_minute
from alsek.sim.forecast import forecast
from alsek.sim.forecast_inputs import ForecastInputs, QueueBacklog

HIDDEN = "(hidden: start the dashboard with --show-args to see arguments)"
#: Message fields that carry a task's input.
ARGUMENT_FIELDS = ("args", "kwargs", "previous_result")
EMPTY: tuple[object, ...] = (None, {}, [], ())
#: Message fields shown on its page, in this order.
SHOWN = (
    "task_name", "queue", "args", "kwargs", "previous_result", "priority", "mechanism",
    "retries", "timeout", "delay", "created_at", "updated_at", "progenitor", "metadata",
    "callback_message_data",
)  # fmt: skip


@attrs.frozen
class Source:
    """What the dashboard looks at: a broker, the tasks' result stores and queues."""

    broker: Broker
    stores: tuple[ResultStore, ...] = ()
    queues: tuple[str, ...] = ()
    show_args: bool = False


def hide_arguments(data: Any) -> Any:
    """A message's data with its arguments, and its callbacks', replaced by ``HIDDEN``
    (empty ones are left as they are: there is nothing to hide)."""
    if not isinstance(data, dict):
        return data
    hidden = {
        key: HIDDEN if key in ARGUMENT_FIELDS and value not in EMPTY else value
        for key, value in data.items()
    }
    if isinstance(data.get("callback_message_data"), dict):
        hidden["callback_message_data"] = hide_arguments(data["callback_message_data"])
    return hidden


def _shown(source: Source, data: Any) -> Any:
    return data if source.show_args else hide_arguments(data)


def checked_uuid(uuid: str) -> str:
    """``uuid`` if it can name a message (no key syntax), else ``ValidationError``."""
    return check_name("message uuid", uuid.strip())


# -- overview and workers ----------------------------------------------------------------


def overview(source: Source) -> dict[str, Any]:
    """Per queue counts and the oldest ready age; outcomes per minute over the last
    hour; how many pools are alive."""
    now = utcnow_ms()
    queues = [attrs.asdict(row) for row in queue_statuses(source.broker, source.queues)]
    records = live_workers(source.broker)
    minutes = [
        {"at": at, "succeeded": ok, "failed": bad}
        for at, ok, bad in outcomes_per_minute(records, now)
    ]
    totals = {
        key: sum(q[key] for q in queues) for key in ("ready", "delayed", "running", "dead")
    }
    return {
        "at": now,
        "queues": queues,
        "totals": totals,
        "workers": len(records),
        "minutes": minutes,
    }


def workers(source: Source) -> dict[str, Any]:
    """Each live pool: where, since when, its slots and running tasks, its rate."""
    now = utcnow_ms()
    pools = []
    for record in live_workers(source.broker):
        pools.append(
            {
                "id": record.id,
                "host": record.host,
                "pid": record.pid,
                "started_at": record.started_at,
                "uptime_ms": record.uptime_ms(now),
                "heartbeat_age_ms": max(now - record.heartbeat_at, 0),
                "queues": list(record.queues),
                "slots": record.slots,
                "busy": record.busy,
                "slots_used": record.slots_used,
                "slots_total": record.slots_total,
                "tasks_per_s": record.tasks_per_s,
                "processed": record.processed,
                "failed": record.failed,
                "running": [
                    {**attrs.asdict(task), "running_ms": max(now - task.started_at, 0)}
                    for task in record.running
                ],
            }
        )
    return {"at": now, "workers": pools}


# -- one message -------------------------------------------------------------------------


def message(source: Source, uuid: str) -> dict[str, Any]:
    """Where the message is and all that is known of it (see ``locate``)."""
    now = utcnow_ms()
    location = locate(source.broker, checked_uuid(uuid), source.stores)
    data = _shown(source, location.message) or {}
    fields = [(name, data[name]) for name in SHOWN if data.get(name) not in (None, {}, [])]
    place = location.place
    worker = location.worker
    running = None
    if worker is not None:
        started = next((t.started_at for t in worker.running if t.uuid == location.uuid), None)
        running = {
            "worker": worker.id,
            "host": worker.host,
            "pid": worker.pid,
            "running_ms": None if started is None else max(now - started, 0),
        }
    dead = location.dead_letter
    error = location.last_error
    return {
        "at": now,
        "uuid": location.uuid,
        "where": location.where,
        "name": location.name,
        "fields": [{"name": name, "value": value} for name, value in fields],
        "deliveries": None if place is None else place.deliveries,
        "ready_in_ms": None if place is None else place.ready_in_ms,
        "lease_left_ms": None if place is None else place.lease_left_ms,
        "running": running,
        "dead_letter": None if dead is None else {"reason": dead.reason, "at": dead.failed_at},
        "result": location.result,
        "last_error": None if error is None else attrs.asdict(error),
        "cancellable": location.where in ("ready", "delayed", "running"),
    }


def cancel(source: Source, uuid: str) -> dict[str, Any]:
    """Cancel a message (``Broker.cancel``): removed if waiting, stopped if running."""
    result = source.broker.cancel(checked_uuid(uuid))
    return {"uuid": uuid, "result": result.value}


# -- dead letters -----------------------------------------------------------------------


@attrs.frozen
class Filters:
    """Which dead letters: of a task, of a queue, failed at or after ``since`` (ms)."""

    task: str | None = None
    queue: str | None = None
    since: int | None = None


def _task_queue(record: DeadLetterRecord) -> tuple[str, str]:
    data = record.message or {}
    task, queue = data.get("task_name"), data.get("queue")
    if isinstance(task, str) and isinstance(queue, str):
        return task, queue
    try:
        queue, task, _ = parse_message_name(record.name)
    except ValidationError:
        return "?", "?"
    return task, queue


def _matching(source: Source, filters: Filters) -> list[DeadLetterRecord]:
    """Dead letters that match, newest first."""
    found = source.broker.dead_letters(filters.queue, filters.task or None, filters.since)
    return list(found)[::-1]


def dead_letters(
    source: Source, filters: Filters, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """One page of matching dead letters (newest first), each with its last error."""
    records = _matching(source, filters)
    pages = max((len(records) + per_page - 1) // per_page, 1)
    page = min(max(page, 1), pages)
    rows = []
    for record in records[(page - 1) * per_page : page * per_page]:
        task, queue = _task_queue(record)
        error = read_failure(source.broker.backend, record.uuid)
        rows.append(
            {
                "uuid": record.uuid,
                "task": task,
                "queue": queue,
                "failed_at": record.failed_at,
                "reason": record.reason,
                "args": _shown(source, record.message or {}).get("args"),
                "runnable": record.message is not None,
                "raw": record.raw if source.show_args else (record.raw and HIDDEN),
                "traceback": None if error is None else error.traceback,
                "error": None if error is None else error.summary,
            }
        )
    return {
        "filters": attrs.asdict(filters),
        "total": len(records),
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "dead_letters": rows,
    }


def matching_uuids(source: Source, filters: Filters) -> list[str]:
    """The uuids of every matching dead letter (for "all")."""
    return [record.uuid for record in _matching(source, filters)]


def _each(uuids: Iterable[str], act: Any) -> dict[str, Any]:
    done, failed = [], []
    for uuid in uuids:
        try:
            act(checked_uuid(uuid))
        except (AlsekError, NotFoundError) as error:
            failed.append({"uuid": uuid, "error": str(error)})
        else:
            done.append(uuid)
    return {"done": done, "failed": failed}


def resubmit(source: Source, uuids: Sequence[str]) -> dict[str, Any]:
    """Put dead messages back in their queues (``Broker.resubmit_dead_letter``)."""
    return _each(uuids, source.broker.resubmit_dead_letter)


def remove(source: Source, uuids: Sequence[str]) -> dict[str, Any]:
    """Delete dead letters for good (``Broker.remove_dead_letter``)."""
    return _each(uuids, source.broker.remove_dead_letter)


# -- the forecast -----------------------------------------------------------------------


def forecast_inputs(source: Source, minutes: int) -> ForecastInputs:
    """What the forecast is computed from: the live pools' last ``minutes``, the ready
    backlog of every queue, and the pools' slots."""
    now = utcnow_ms()
    records = live_workers(source.broker)
    observation = observe(records, now, minutes)
    broker = source.broker
    operations = operations_for(broker.backend)
    backlog = []
    for queue in sorted({*broker.queues(), *source.queues}):
        ready = broker.counts(queue)["ready"]
        by_mechanism = operations.ready_by_mechanism(queue, now, virtual=broker.virtual)
        backlog.append(QueueBacklog(queue, ready, broker.oldest_ready_age(queue), by_mechanism))
    slots = tuple((r.slots.get("thread", 0), r.slots.get("process", 0)) for r in records)
    return ForecastInputs(observation, tuple(backlog), len(records), slots)


def capacity_forecast(source: Source, minutes: int, seed: int = 0) -> dict[str, Any]:
    """The forecast for the last ``minutes`` of observations, as plain data."""
    result = forecast(forecast_inputs(source, minutes), seed)
    data: dict[str, Any] = attrs.asdict(result, recurse=True)
    data["window_minutes"] = minutes
    data["computed_at"] = result.inputs.observation.now
    data["span_ms"] = result.inputs.observation.span_ms
    return data
