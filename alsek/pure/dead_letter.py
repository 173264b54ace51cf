"""Dead letters: messages that will not run again, with the reason why.

A dead letter lives at ``dlq:{message name}`` and holds a ``DeadLetterRecord``.
Reading one never fails: ``read_record`` turns whatever is stored there
(hand-edited JSON, a wrong type, missing fields, a record whose key and
content disagree) into a record, and marks the ones that cannot be trusted
with the ``problem`` found, so that they can be listed and removed by key
like any other but are never re-submitted.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from alsek.exceptions import ValidationError
from alsek.pure import codec
from alsek.pure.keys import dead_letter_name, get_message_name, parse_message_name
from alsek.pure.message import Message
from alsek.pure.validate import check_duration

M = TypeVar("M", bound=Message)

#: How much of an unreadable record's stored text is kept for display.
RAW_LIMIT = 4096


@attrs.frozen
class DeadLetterRecord:
    """What the dead-letter queue keeps for one message.

    ``name`` is the message's name (``queues:{queue}:tasks:{task}:messages:{uuid}``);
    ``message`` its data when it could be decoded, ``raw`` the stored text
    otherwise (a garbage payload is kept, never executed); ``traceback`` and
    ``attempts`` describe the last failure, when there was one. ``problem``
    is set on reading, never stored: why the record cannot be trusted.
    """

    name: str
    reason: str
    failed_at: int
    message: dict[str, Any] | None = None
    raw: str | None = None
    traceback: str | None = None
    attempts: int | None = None
    problem: str | None = None

    @property
    def key(self) -> str:
        """Where the record is stored (inside the backend's namespace)."""
        return dead_letter_name(self.name)

    @property
    def uuid(self) -> str:
        """The message's uuid, as its name says."""
        return uuid_of(self.name)

    @property
    def queue(self) -> str | None:
        """The message's queue, as its name says (None: not a message name)."""
        parts = _parts(self.name)
        return None if parts is None else parts[0]

    @property
    def task_name(self) -> str | None:
        """The message's task, as its name says (None: not a message name)."""
        parts = _parts(self.name)
        return None if parts is None else parts[1]

    @property
    def readable(self) -> bool:
        """Whether the record was read as written (no ``problem``)."""
        return self.problem is None


def _parts(name: str) -> tuple[str, str, str] | None:
    try:
        return parse_message_name(name)
    except ValidationError:
        return None


def uuid_of(name: str) -> str:
    """The uuid at the end of a message name (its last ``:`` part)."""
    return name.rsplit(":", 1)[-1]


def dead_letter_ttl(value: object) -> int | None:
    """How long dead letters are kept: None (keep none) or an int of ms in
    ``[1, MAX_DURATION_MS]``; anything else is refused, naming ``dlq_ttl``."""
    if value is None:
        return None
    return check_duration("dlq_ttl", value, 1)


def record_for(
    name: str,
    message: Message | None,
    reason: str,
    now: int,
    raw: str | None = None,
    traceback: str | None = None,
    attempts: int | None = None,
) -> DeadLetterRecord:
    """The dead-letter record of ``message`` stored at ``name``."""
    data = None if message is None else attrs.evolve(message, lock=None).data
    return DeadLetterRecord(
        name=name,
        reason=reason,
        failed_at=now,
        message=data,
        raw=raw,
        traceback=traceback,
        attempts=attempts,
    )


def unreadable(
    name: str, problem: str, raw: str | None = None, failed_at: int | None = None
) -> DeadLetterRecord:
    """A record standing for what is stored at ``dlq:{name}`` but cannot be read."""
    return DeadLetterRecord(
        name=name,
        reason="unreadable",
        failed_at=failed_at or 0,
        raw=None if raw is None else raw[:RAW_LIMIT],
        problem=problem,
    )


def _stored_time(value: Any, fallback: int | None) -> int | None:
    found = value.get("failed_at") if isinstance(value, dict) else None
    if isinstance(found, int) and not isinstance(found, bool):
        return found
    return fallback


def _disagreement(name: str, record: DeadLetterRecord) -> str | None:
    """Why ``record`` does not belong at ``dlq:{name}`` (None: it does)."""
    if record.name != name:
        return f"the record is about {record.name!r} but is stored at {dead_letter_name(name)!r}"
    if record.message is None:
        return None
    try:
        message: Message = codec.message_from_data(record.message)
    except ValidationError as error:
        return str(error)
    if get_message_name(message) != name:
        return (
            f"it holds message {message.uuid!r} of task {message.task_name!r} in queue "
            f"{message.queue!r}, not the one its key {dead_letter_name(name)!r} names"
        )
    return None


def read_record(name: str, value: Any, failed_at: int | None = None) -> DeadLetterRecord:
    """The record stored at ``dlq:{name}``, whatever it holds; never raises.

    ``failed_at`` is the time an index recorded for it, used when the
    record itself does not say. Anything that is not a well-formed record of
    the message ``name`` comes back with its ``problem``.
    """
    when = _stored_time(value, failed_at)
    if not isinstance(value, dict):
        problem = f"expected a dead-letter record (a dict), got {type(value).__name__}"
        return unreadable(name, problem, repr(value), when)
    try:
        record = codec.structure(value, DeadLetterRecord, what="dead letter")
    except ValidationError as error:
        return unreadable(name, str(error), repr(value), when)
    record = attrs.evolve(record, problem=None)  # a stored "problem" means nothing
    why = _disagreement(name, record)
    if why is not None:
        return unreadable(name, why, repr(value), when)
    return record


def cannot_resubmit(record: DeadLetterRecord) -> str | None:
    """Why ``record`` cannot be put back in its queue (None: it can)."""
    if not record.readable:
        return f"it cannot be read ({record.problem}); it can only be removed"
    if record.message is None:
        return "it holds an undecodable payload; it cannot run"
    return None


def resubmission(message: M, now: int) -> M:
    """A dead message given a fresh start: no retries used, ready at once."""
    return attrs.evolve(message, retries=0, deliveries=0, lock=None, updated_at=now, delay=0)
