"""Reading, re-submitting and removing dead letters (``Broker.dead_letters()`` and friends).

Reading goes through the backend's dead-letter store (an index on Redis and
DiskCache, a scan elsewhere: ``alsek.effects.backends.dead_letters``) and
never fails on a bad record: it comes back with its ``problem`` set.

Every action takes records as found and acts on the key where each was
found (``record.key``). A dead letter is named by the uuid of its message or
by that key (``dlq:queues:...``); the key is the way to reach one of several
dead letters of the same uuid, or one whose content names another message.

Re-submitting puts the message back in its queue (a fresh retry budget, ready
at once), then deletes the dead letter and the message's last error
(``errors:{uuid}``), so that ``inspect`` and readers of its result no longer
see the old final failure. Both happen in batches of ``BATCH``: on Redis one
pipeline of submissions and one script of deletions, on DiskCache one
transaction each. A crash between the two leaves both the message and its
dead letter (re-submitting again is refused while the message waits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

import attrs

from alsek.effects.backends.dead_letters import DeadLetterStore
from alsek.exceptions import NotFoundError, ValidationError
from alsek.pure import codec
from alsek.pure.dead_letter import DeadLetterRecord, cannot_resubmit, resubmission
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.failure import error_name
from alsek.pure.keys import dead_letter_message_name, dead_letter_name
from alsek.pure.message import Message

if TYPE_CHECKING:
    from alsek.effects.dead_letter_methods import DeadLetters

M = TypeVar("M", bound=Message)

#: Dead letters acted on per backend step (and per progress report).
BATCH = 500

#: Why a dead letter was not re-submitted although it could run.
QUEUED = "a message with this uuid is queued again; the dead letter is kept"

#: Told how many more dead letters were handled (a progress bar's ``update``).
Progress = Callable[[int], None]


@attrs.frozen
class Bulk:
    """What a bulk action did: the keys acted on, and the keys left alone with why."""

    done: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


def store_of(broker: DeadLetters) -> DeadLetterStore:
    """The dead-letter store of ``broker``'s backend."""
    from alsek.effects.backends.dead_letters_for import dead_letters_for

    return dead_letters_for(broker.backend)


def _sorted(records: Iterable[DeadLetterRecord]) -> list[DeadLetterRecord]:
    return sorted(records, key=lambda r: (r.failed_at, r.name))


def read(broker: DeadLetters, where: DeadLetterFilter) -> list[DeadLetterRecord]:
    """The dead letters matching ``where``, oldest first."""
    store = store_of(broker)
    return _sorted(r for r in store.read(store.entries(where)) if where.admits(r))


def find(broker: DeadLetters, uuid_or_key: str) -> list[DeadLetterRecord]:
    """The dead letters of the message ``uuid_or_key`` (a uuid, or a ``dlq:`` key),
    oldest first; a lookup, never a listing."""
    store = store_of(broker)
    name = dead_letter_message_name(uuid_or_key)
    entries = [(name, None)] if name is not None else store.lookup(uuid_or_key)
    return _sorted(store.read(entries))


def only(records: Sequence[DeadLetterRecord], uuid_or_key: str) -> DeadLetterRecord:
    """The one dead letter found for ``uuid_or_key``; a clear error otherwise."""
    if not records:
        raise NotFoundError(f"no dead letter for message {uuid_or_key!r}")
    if len(records) > 1:
        keys = ", ".join(repr(r.key) for r in records)
        raise ValidationError(
            f"{len(records)} dead letters hold message {uuid_or_key!r} ({keys}); "
            "name the one you mean by its key"
        )
    return records[0]


def revive(record: DeadLetterRecord, message_class: type[M], now: int) -> M:
    """The message to submit again for ``record``, or a clear error why there is none."""
    why = cannot_resubmit(record)
    if why is not None:
        raise ValidationError(f"dead letter {record.key!r}: {why}")
    assert record.message is not None  # cannot_resubmit says so
    return resubmission(codec.message_from_data(record.message, message_class), now)


def resubmit(
    broker: DeadLetters,
    records: Iterable[DeadLetterRecord],
    message_class: type[Message] = Message,
    progress: Progress | None = None,
) -> Bulk:
    """Put the messages of ``records`` back in their queues, in batches; those that
    cannot run, or whose uuid is queued again meanwhile, are skipped with why."""
    store = store_of(broker)
    done: list[str] = []
    skipped: list[tuple[str, str]] = []
    for batch in _batches(list(records)):
        revived: list[tuple[DeadLetterRecord, Message]] = []
        for record in batch:
            why = cannot_resubmit(record)
            if why is None:
                revived.append((record, revive(record, message_class, broker.clock.now())))
            else:
                skipped.append((record.key, why))
        accepted = broker.submit_many([message for _, message in revived])
        submitted = []
        for (record, _), ok in zip(revived, accepted, strict=True):
            if ok:
                submitted.append(record)
            else:
                skipped.append((record.key, QUEUED))
        store.drop([r.name for r in submitted], [error_name(r.uuid) for r in submitted])
        done += [r.key for r in submitted]
        if progress is not None:
            progress(len(batch))
    return Bulk(tuple(done), tuple(skipped))


def matching_names(broker: DeadLetters, where: DeadLetterFilter) -> list[str]:
    """The message names of the dead letters matching ``where``, without reading the
    records where the index can tell (``since`` is then the time the index holds)."""
    store = store_of(broker)
    if where.since is None or store.indexed:
        return [name for name, _ in store.entries(where)]
    return [record.name for record in read(broker, where)]


def remove(broker: DeadLetters, names: Sequence[str], progress: Progress | None = None) -> Bulk:
    """Delete the dead letters of the messages ``names`` for good (readable or not),
    in batches."""
    store = store_of(broker)
    done: list[str] = []
    for start in range(0, len(names), BATCH):
        batch = list(names[start : start + BATCH])
        store.drop(batch)
        done += [dead_letter_name(name) for name in batch]
        if progress is not None:
            progress(len(batch))
    return Bulk(tuple(done))


def _batches(records: list[DeadLetterRecord]) -> list[list[DeadLetterRecord]]:
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
