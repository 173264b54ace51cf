"""Which message runs first.

Within a queue, lower ``priority`` integers run first; ties go to the one
that became ready first, then to the older one, then by message name (a
total order: the message name settles exact ties, as Redis and SQLite do).
Between queues, the consumer's order decides: the order given,
else alphabetical.
"""

from __future__ import annotations

from collections.abc import Iterable

from alsek.exceptions import ValidationError
from alsek.pure.keys import get_message_name
from alsek.pure.message import Message, check_name
from alsek.pure.timing import ready_at

PriorityKey = tuple[int, int, int, str, str]


def name_tail(name: str) -> str:
    """The last segment of a message name: its uuid."""
    return name.rsplit(":", 1)[-1]


def priority_key(message: Message) -> PriorityKey:
    """Sort key of ``message`` within its queue (smaller runs first).

    Exact ties (same priority, ready time and creation ms) go to the smaller
    uuid; uuids made by Alsek grow with time, so they keep a producer's order.
    """
    name = get_message_name(message)
    return (message.priority, ready_at(message), message.created_at, message.uuid, name)


def queue_order(subset: Iterable[str] | None, known: Iterable[str]) -> tuple[str, ...]:
    """Queues in consumption order: ``subset`` as given (deduplicated), else sorted ``known``."""
    if subset is None:
        return tuple(sorted(set(known)))
    ordered: list[str] = []
    for queue in subset:
        check_name("queue", queue)
        if queue not in ordered:
            ordered.append(queue)
    return tuple(ordered)


def parse_queues(text: str | None) -> tuple[str, ...] | None:
    """Parse a comma-separated ``-q/--queues`` value, keeping its order."""
    if text is None:
        return None
    queues = tuple(part.strip() for part in text.split(",") if part.strip())
    if not queues:
        raise ValidationError(f"--queues needs at least one queue name, got {text!r}")
    return queue_order(queues, ())


def ready_member(ready: int, created_at: int, name: str) -> str:
    """A string whose lexicographic order matches (ready time, creation, uuid, name).

    Backends that sort equal-priority entries lexicographically (Redis
    sorted sets with score = priority) use it as the member.
    """
    return f"{ready:015d}|{created_at:015d}|{name_tail(name)}|{name}"


def member_name(member: str) -> str:
    """The message name inside a ``ready_member`` string."""
    return member.split("|", 3)[3]
