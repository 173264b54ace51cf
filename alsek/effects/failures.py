"""Storing and reading a message's last error (``alsek.pure.failure``).

Written by the interpreter for every run that ends in anything but a
success; read by ``ResultStore.get`` (a final error becomes a
``TaskFailedError``) and by ``inspect``. Writing also wakes anyone waiting
for the message's result, so a waiting reader learns of the failure at once.
"""

from __future__ import annotations

from alsek import defaults
from alsek.effects.backends.base import Backend
from alsek.exceptions import DeserializationError, TaskFailedError, ValidationError
from alsek.pure import codec
from alsek.pure.failure import FailureRecord, error_name
from alsek.pure.keys import result_name


def write_failure(
    backend: Backend, record: FailureRecord, ttl: int = defaults.DEFAULT_ERROR_TTL_MS
) -> None:
    """Keep ``record`` as the last error of its message (replacing an older one)."""
    backend.set(error_name(record.uuid), codec.unstructure(record), ttl=ttl)
    if record.final:
        backend.notify_value(result_name(record.uuid))


def read_failure(backend: Backend, uuid: str) -> FailureRecord | None:
    """The last error of the message ``uuid``, if one is kept (an unreadable one is None)."""
    name = error_name(uuid)
    try:
        value = backend.get_or_none(name)
        if value is None:
            return None
        return codec.structure(value, FailureRecord, what=name)
    except (DeserializationError, ValidationError):
        return None


def failed_error(record: FailureRecord) -> TaskFailedError:
    """The error a reader of the result gets for a final failure."""
    return TaskFailedError(
        record.uuid,
        record.type_name,
        record.message,
        record.traceback,
        record.attempts,
        record.outcome,
    )
