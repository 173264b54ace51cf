"""Storage names. Every name is relative to a backend's namespace.

Layout (kept from the original Alsek so existing data stays readable)::

    queues:{queue}:tasks:{task}:messages:{uuid}       a message
    dlq:queues:{queue}:tasks:{task}:messages:{uuid}   its dead letter
    results:{uuid}                                    a result
    descendants:{progenitor}:{uuid}                   marks a descendant's result
    descendants:{progenitor}                          (Redis) the set of those uuids
    locks:{name}:{slot}                               a lock slot
"""

from __future__ import annotations

from alsek.exceptions import ValidationError
from alsek.pure.message import Message, check_name

DLQ_PREFIX = "dlq"
SEPARATOR = ":"
#: Not allowed in a namespace: the separator (``app:staging`` would live inside
#: ``app``), glob syntax of Redis, SQLite and fnmatch (a namespace is matched as a
#: literal prefix), braces (Redis Cluster hash tags) and ``/`` (DiskCache names
#: its wake-up pipes after the namespace). Whitespace and control characters
#: are refused too.
NAMESPACE_FORBIDDEN = ":*?[]\\{}/"


def _namespace_forbids(char: str) -> bool:
    return char in NAMESPACE_FORBIDDEN or char.isspace() or not char.isprintable()


def check_namespace(value: object) -> str:
    """Validate a backend namespace: a non-empty string that every scan can match
    exactly, so that nothing done in namespace ``app`` touches any other."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"namespace must be a non-empty string, got {value!r}")
    bad = [c for c in dict.fromkeys(value) if _namespace_forbids(c)]
    if bad:
        raise ValidationError(
            f"namespace {value!r} must not contain {', '.join(repr(c) for c in bad)} "
            "(the key separator, glob syntax, braces and whitespace are refused, so that "
            "the namespace matches exactly); use e.g. 'app_staging', not 'app:staging'"
        )
    return value


def get_subnamespace(queue: str | None = None, task_name: str | None = None) -> str:
    """The prefix under which messages of ``queue`` (and ``task_name``) live."""
    if queue is None:
        if task_name is not None:
            raise ValidationError("a task_name needs a queue to form a subnamespace")
        return "queues"
    subnamespace = f"queues:{check_name('queue', queue)}"
    if task_name is not None:
        subnamespace += f":tasks:{check_name('task_name', task_name)}"
    return subnamespace


def subnamespace_pattern(queue: str | None = None, task_name: str | None = None) -> str:
    """The glob matching every message of ``queue`` (and ``task_name``).

    Names are free of glob syntax (``check_name``), so it matches exactly these.
    """
    return f"{get_subnamespace(queue, task_name)}:*"


def dead_letters_pattern(queue: str | None = None) -> str:
    """The glob matching every dead letter (of ``queue``)."""
    return f"{DLQ_PREFIX}:{subnamespace_pattern(queue)}"


def get_message_name(message: Message) -> str:
    """The full name of ``message``: its subnamespace plus its uuid."""
    return f"{get_subnamespace(message.queue, message.task_name)}:messages:{message.uuid}"


def parse_message_name(name: str) -> tuple[str, str, str]:
    """Split a message name into ``(queue, task_name, uuid)``."""
    parts = name.split(":")
    if len(parts) != 6 or parts[0] != "queues" or parts[2] != "tasks" or parts[4] != "messages":
        raise ValidationError(
            f"{name!r} is not a message name (queues:{{queue}}:tasks:{{task}}:messages:{{uuid}})"
        )
    return parts[1], parts[3], parts[5]


def dead_letter_name(message_name: str) -> str:
    """Where the dead letter of the message stored at ``message_name`` lives."""
    return f"{DLQ_PREFIX}:{message_name}"


def dead_letter_message_name(key: str) -> str | None:
    """The message name a dead-letter key (``dlq:...``) stands for (None: not one)."""
    prefix = f"{DLQ_PREFIX}{SEPARATOR}"
    return key[len(prefix) :] if key.startswith(prefix) and len(key) > len(prefix) else None


def result_name(uuid: str) -> str:
    """Where the result of the message ``uuid`` lives."""
    return f"results:{uuid}"


def descendant_marker_name(progenitor: str, uuid: str) -> str:
    """A marker saying ``uuid`` descends from ``progenitor`` and has a result."""
    return f"descendants:{progenitor}:{uuid}"


def descendants_set_name(progenitor: str) -> str:
    """The set of the direct descendants of ``progenitor`` (backends that keep sets)."""
    return f"descendants:{progenitor}"


def descendants_pattern(progenitor: str) -> str:
    """Pattern matching the markers of the direct descendants of ``progenitor``."""
    return f"descendants:{progenitor}:*"


def uuid_from_descendant_marker(name: str) -> str:
    """The descendant's uuid in a marker name."""
    return name.rsplit(":", 1)[-1]


def lock_slot_name(name: str, slot: int) -> str:
    """The name of slot ``slot`` of the lock called ``name``."""
    return f"locks:{name}:{slot}"
