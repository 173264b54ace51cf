"""Where dead letters are found: an index on Redis and DiskCache, a scan elsewhere.

``dead_letters_for(backend)`` (in ``dead_letters_for``) returns the store of a
backend. This generic one works on any backend through its five primitives:
it finds dead letters with ``scan`` and explicit globs (``dlq:queues:*``,
``dlq:queues:{queue}:*``, ``dlq:queues:*:tasks:*:messages:{uuid}``), so it is
correct on a custom backend whose ``scan`` is a plain glob, and costs a scan.
Redis (``redis_dead_letters``) and DiskCache (``disk_dead_letters``) read an
index kept in the same atomic step as every dead letter written.

Every store answers with names of messages (a dead letter lives at
``dlq:{name}``) and turns what it reads into records with
``alsek.pure.dead_letter.read_record``, which never fails: a bad record is
returned with its ``problem``, never raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alsek.effects.backends.base import Backend
from alsek.exceptions import DeserializationError, ValidationError
from alsek.pure.dead_letter import DeadLetterRecord, read_record, unreadable, uuid_of
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.keys import (
    dead_letter_message_name,
    dead_letter_name,
    dead_letters_pattern,
    parse_message_name,
)

#: A dead letter's message name, and the time it failed as an index recorded it
#: (None where there is no index).
Entry = tuple[str, int | None]


def queue_label(name: str) -> str:
    """The queue a dead letter is counted under (``'?'``: not a message name)."""
    try:
        return parse_message_name(name)[0]
    except ValidationError:
        return "?"


def raw_text(raw: object) -> str:
    """Stored bytes or text, for showing an unreadable record."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw)


class DeadLetterStore:
    """Dead letters on any backend, found by scanning (the generic version)."""

    #: Whether this store keeps an index (``reindex`` has something to do).
    indexed = False

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # -- finding -----------------------------------------------------------------

    def entries(self, where: DeadLetterFilter) -> list[Entry]:
        """Dead letters that may match ``where`` (queue and task are applied; the
        time may be left to the caller, who reads the records anyway)."""
        names = (
            dead_letter_message_name(key)
            for key in self.backend.scan(dead_letters_pattern(where.queue))
        )
        return [(name, None) for name in names if name and where.admits_name(name)]

    def lookup(self, uuid: str) -> list[Entry]:
        """Dead letters of messages whose uuid is ``uuid``."""
        pattern = dead_letter_name(f"queues:*:tasks:*:messages:{uuid}")
        names = (dead_letter_message_name(key) for key in self.backend.scan(pattern))
        return [(name, None) for name in names if name and uuid_of(name) == uuid]

    def counts(self) -> dict[str, int]:
        """How many dead letters each queue has."""
        tally: dict[str, int] = {}
        for name, _ in self.entries(DeadLetterFilter()):
            queue = queue_label(name)
            tally[queue] = tally.get(queue, 0) + 1
        return tally

    # -- reading -----------------------------------------------------------------

    def read(self, entries: Sequence[Entry]) -> list[DeadLetterRecord]:
        """The records of ``entries`` (gone ones are left out, and dropped from an index)."""
        records = []
        for name, failed_at in entries:
            try:
                value = self.backend.get_or_none(dead_letter_name(name))
            except DeserializationError as error:
                records.append(unreadable(name, f"undecodable: {error}", None, failed_at))
                continue
            if value is not None:
                records.append(read_record(name, value, failed_at))
        return records

    # -- writing -----------------------------------------------------------------

    def drop(self, names: Sequence[str], also: Iterable[str] = ()) -> int:
        """Delete the dead letters of ``names`` (and the names in ``also``); returns
        how many dead letters were there."""
        dropped = 0
        for name in names:
            key = dead_letter_name(name)
            if self.backend.exists(key):
                self.backend.delete(key, missing_ok=True)
                dropped += 1
        for other in also:
            self.backend.delete(other, missing_ok=True)
        return dropped

    def reindex(self) -> int:
        """Index every dead letter stored (returns how many); nothing to do here."""
        return 0
