"""The Broker's dead-letter methods (``Broker`` inherits them), kept apart to keep the
Broker readable; the work is done in ``alsek.effects.dead_letters``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from alsek.effects.message import Message
from alsek.pure.dead_letter import DeadLetterRecord
from alsek.pure.dead_letter_filter import DeadLetterFilter
from alsek.pure.failure import error_name

if TYPE_CHECKING:
    from alsek.effects.backends.base import Backend
    from alsek.effects.clock import Clock
    from alsek.effects.dead_letters import Bulk
    from alsek.pure.message import Message as PureMessage


class DeadLetters:
    """Reading, re-submitting and removing dead letters."""

    if TYPE_CHECKING:
        backend: Backend
        clock: Clock

        def submit(self, message: PureMessage) -> PureMessage: ...

        def submit_many(self, messages: Sequence[PureMessage]) -> list[bool]: ...

    def dead_letters(
        self, queue: str | None = None, task: str | None = None, since: int | None = None
    ) -> Iterator[DeadLetterRecord]:
        """The dead letters (of ``queue``, of ``task``, failed at or after ``since``, UTC
        ms), oldest first. A record that cannot be read is listed too, with its
        ``problem``: it can be removed, never re-submitted."""
        from alsek.effects import dead_letters

        return iter(dead_letters.read(self, DeadLetterFilter(queue, task, since)))

    def dead_letter_counts(self) -> dict[str, int]:
        """How many dead letters each queue has (from the index: records are not read)."""
        from alsek.effects.dead_letters import store_of

        return store_of(self).counts()

    def find_dead_letters(self, uuid_or_key: str) -> list[DeadLetterRecord]:
        """Every dead letter of the message ``uuid_or_key`` (its uuid, or the key
        ``dlq:...`` of one dead letter), found without listing the others."""
        from alsek.effects import dead_letters

        return dead_letters.find(self, uuid_or_key)

    def get_dead_letter(self, uuid_or_key: str) -> DeadLetterRecord:
        """The dead letter of the message ``uuid_or_key`` (a uuid or a ``dlq:`` key).

        Raises:
            NotFoundError: there is none.
            ValidationError: several messages with that uuid are dead (name the key).
        """
        from alsek.effects import dead_letters

        return dead_letters.only(self.find_dead_letters(uuid_or_key), uuid_or_key)

    def resubmit_dead_letter(
        self, uuid_or_key: str, message_class: type[Message] = Message
    ) -> Message:
        """Put a dead message back in its queue with a fresh retry budget, and delete its
        dead letter and its last error (``errors:{uuid}``).

        Raises:
            NotFoundError: no such dead letter.
            ValidationError: it cannot be read or holds an undecodable payload.
            MessageExistsError: a message with its uuid is queued (the dead letter stays).
        """
        from alsek.effects import dead_letters

        record = self.get_dead_letter(uuid_or_key)
        message = dead_letters.revive(record, message_class, self.clock.now())
        self.submit(message)
        dead_letters.store_of(self).drop([record.name], [error_name(record.uuid)])
        return message

    def remove_dead_letter(self, uuid_or_key: str) -> None:
        """Delete the dead letter of the message ``uuid_or_key`` (readable or not)."""
        from alsek.effects import dead_letters

        record = self.get_dead_letter(uuid_or_key)
        dead_letters.store_of(self).drop([record.name])

    def resubmit_dead_letters(
        self,
        records: Iterable[DeadLetterRecord] | None = None,
        message_class: type[Message] = Message,
        progress: Callable[[int], None] | None = None,
    ) -> Bulk:
        """Re-submit ``records`` (default: every dead letter) in batches; those that
        cannot run are skipped, with why. ``progress(n)`` hears of each batch."""
        from alsek.effects import dead_letters

        chosen = self.dead_letters() if records is None else records
        return dead_letters.resubmit(self, chosen, message_class, progress)

    def remove_dead_letters(
        self,
        records: Iterable[DeadLetterRecord] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Bulk:
        """Delete ``records`` (default: every dead letter, found without reading them)
        for good, in batches."""
        from alsek.effects import dead_letters

        if records is None:
            names = dead_letters.matching_names(self, DeadLetterFilter())
        else:
            names = [record.name for record in records]
        return dead_letters.remove(self, names, progress)

    def reindex_dead_letters(self) -> int:
        """Index every stored dead letter (e.g. written by an older Alsek); returns how
        many. Backends without an index (custom ones, which scan) return 0."""
        from alsek.effects.dead_letters import store_of

        return store_of(self).reindex()
