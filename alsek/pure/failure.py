"""The last error of a message, as stored: what went wrong, where, after how many runs.

Every run that ends in anything but a success leaves one record at
``errors:{uuid}`` (the newest replaces the older): ``inspect`` shows it, and
when it is ``final`` (no retry follows: dead-lettered or cancelled) a reader
of the message's result gets a ``TaskFailedError`` built from it instead of
waiting for a result that will never come.
"""

from __future__ import annotations

import attrs

from alsek.pure.decisions import RecordFailure

ERRORS_PREFIX = "errors"


def error_name(uuid: str) -> str:
    """Where the last error of the message ``uuid`` lives."""
    return f"{ERRORS_PREFIX}:{uuid}"


@attrs.frozen
class FailureRecord:
    """One message's last error.

    ``outcome`` is ``failed``, ``timed_out``, ``crashed`` or ``cancelled``;
    ``attempts`` counts runs that ended in an outcome (retries + 1);
    ``deliveries`` is how often the message was handed out since its last
    recorded outcome; ``at`` is UTC ms.
    """

    uuid: str
    task: str
    queue: str
    outcome: str
    type_name: str
    message: str
    traceback: str
    attempts: int
    deliveries: int
    final: bool
    at: int

    @property
    def summary(self) -> str:
        """``'TypeName: message'``."""
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


def failure_record(effect: RecordFailure) -> FailureRecord:
    """The record a ``RecordFailure`` effect stores."""
    message, error = effect.message, effect.error
    return FailureRecord(
        uuid=message.uuid,
        task=message.task_name,
        queue=message.queue,
        outcome=effect.outcome,
        type_name=error.type_name,
        message=error.message,
        traceback=error.traceback,
        attempts=effect.attempts,
        deliveries=message.deliveries,
        final=effect.final,
        at=effect.at,
    )
