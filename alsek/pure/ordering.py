"""Which message runs first.

Within a queue, lower ``priority`` integers run first; ties go to the one
that became ready first, then to the older one, then by message name (a
total order: the message name settles exact ties, as Redis and SQLite do).
Between queues, the consumer's order decides: the order given,
else alphabetical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from alsek.exceptions import ValidationError
from alsek.pure.keys import get_message_name, parse_message_name
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


#: Width of a time in a member: 8 digits of base 64 cover every ready time.
TIME_WIDTH = 8
#: The digits: 64 consecutive ASCII characters ('0' .. 'o'), so that text order is
#: number order.
_ZERO = 48


def sortable_ms(ms: int) -> str:
    """``ms`` (0 <= ms < 64**8) as 8 characters whose text order is number order."""
    if not 0 <= ms < 64**TIME_WIDTH:
        raise ValidationError(f"a time in ms must be within [0, 64**8), got {ms!r}")
    digits = []
    for _ in range(TIME_WIDTH):
        ms, digit = divmod(ms, 64)
        digits.append(chr(_ZERO + digit))
    return "".join(reversed(digits))


def ms_from_sortable(text: str) -> int:
    """The time ``sortable_ms`` wrote."""
    value = 0
    for char in text[:TIME_WIDTH]:
        value = value * 64 + ord(char) - _ZERO
    return value


def escaped_uuid(uuid: str) -> str:
    """``uuid`` with its two lowest characters escaped, so that a NUL can end it: text
    order is kept, and a uuid sorts before every longer one it starts."""
    return uuid.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")


def ready_member(ready: int, created_at: int, name: str) -> str:
    """A string whose text order matches (ready time, creation, uuid, name).

    Backends that sort equal-priority entries by text (Redis sorted sets with
    score = priority) use it as the member: the two times (``sortable_ms``), the
    uuid (escaped, ended by a NUL), then the task name and ``:``, which within one
    queue and uuid orders as the names do. 58 characters for a task named ``noop``.
    """
    return sortable_ms(ready) + member_rest(created_at, name)


def member_rest(created_at: int, name: str) -> str:
    """A ``ready_member`` after its ready time (for backends that add the ready time)."""
    _, task_name, uuid = parse_message_name(name)
    return sortable_ms(created_at) + escaped_uuid(uuid) + "\x00" + task_name + ":"


def member_name(member: str, queue: str) -> str:
    """The name of the message of ``queue`` that ``ready_member`` stands for."""
    uuid, task_name = member[2 * TIME_WIDTH : -1].split("\x00", 1)
    uuid = re.sub("\x01(.)", lambda pair: chr(ord(pair.group(1)) - 1), uuid, flags=re.DOTALL)
    return f"queues:{queue}:tasks:{task_name}:messages:{uuid}"
