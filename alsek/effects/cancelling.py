"""``Broker.cancel``: remove a waiting message, or ask its pool to stop a running one.

A waiting message (ready or delayed) is removed atomically by the backend
and recorded as cancelled (its last error, read by ``inspect`` and by
result readers). A running one is left to the pool that runs it: a request
at ``cancel:{name}`` is found by that pool's monitor within a fraction of a
second, wherever it runs, and the pool stops the task and records the
``Cancelled`` outcome itself (``alsek.pure.cancel``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from alsek import defaults
from alsek.effects.backends.operations_for import operations_for
from alsek.effects.failures import write_failure
from alsek.effects.message import Message
from alsek.exceptions import DeserializationError, ValidationError
from alsek.pure import codec
from alsek.pure.cancel import CancelResult
from alsek.pure.decisions import RecordFailure, decide
from alsek.pure.failure import failure_record
from alsek.pure.keys import get_message_name, parse_message_name
from alsek.pure.message import Message as PureMessage
from alsek.pure.outcome import Cancelled
from alsek.pure.policy import TaskPolicy

if TYPE_CHECKING:
    from alsek.effects.broker import Broker

log = logging.getLogger("alsek.broker")


def message_name_of(broker: Broker, message_or_uuid: PureMessage | str) -> str | None:
    """The key of a message given as a record or a uuid (None: no such message queued)."""
    if isinstance(message_or_uuid, PureMessage):
        return get_message_name(message_or_uuid)
    if not isinstance(message_or_uuid, str) or not message_or_uuid:
        raise ValidationError(f"cancel() needs a Message or a uuid, got {message_or_uuid!r}")
    names = operations_for(broker.backend).find(message_or_uuid)
    return names[0] if names else None


def _record_removed(broker: Broker, payload: Any, name: str, now: int) -> None:
    """Keep the cancellation of a message removed while it waited as its last error."""
    try:
        message = codec.message_from_data(payload, Message)
    except (ValidationError, DeserializationError, TypeError):
        queue, task, uuid = parse_message_name(name)
        message = Message(task_name=task, queue=queue, uuid=uuid, created_at=now)
    record, _ = decide(message, TaskPolicy(), Cancelled("cancelled while queued"), now)
    assert isinstance(record, RecordFailure)
    write_failure(broker.backend, failure_record(record))


def cancel(broker: Broker, message_or_uuid: PureMessage | str) -> CancelResult:
    """Cancel a message (see the module docstring); returns what was done."""
    name = message_name_of(broker, message_or_uuid)
    if name is None:
        return CancelResult.NOT_FOUND
    queue = parse_message_name(name)[0]
    operations = operations_for(broker.backend)
    now = broker.clock.now()
    try:
        payload = broker.backend.get_or_none(name)
    except DeserializationError:
        payload = None
    state = operations.cancel_waiting(queue, name, now, virtual=broker.virtual)
    if state == "removed":
        _record_removed(broker, payload, name, now)
        log.info("cancelled %s while it waited", name)
        return CancelResult.REMOVED
    if state == "running":
        request = {"requested_at": now}
        operations.request_cancel(name, request, defaults.CANCEL_REQUEST_TTL_MS)
        log.info("asked the pool running %s to stop it", name)
        return CancelResult.REQUESTED
    return CancelResult.NOT_FOUND
