"""Dead letters: messages that will not run again, with the reason why."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from alsek.pure.message import Message

M = TypeVar("M", bound=Message)


@attrs.frozen
class DeadLetterRecord:
    """What the dead-letter queue keeps for one message.

    ``message`` is the message's data when it could be decoded; ``raw`` is
    the stored text otherwise (a garbage payload is kept, never executed).
    """

    name: str
    reason: str
    failed_at: int
    message: dict[str, Any] | None = None
    raw: str | None = None

    @property
    def uuid(self) -> str:
        """The message's uuid (from its data, else from its name)."""
        if self.message and isinstance(self.message.get("uuid"), str):
            return str(self.message["uuid"])
        return self.name.rsplit(":", 1)[-1]


def record_for(
    name: str, message: Message | None, reason: str, now: int, raw: str | None = None
) -> DeadLetterRecord:
    """The dead-letter record of ``message`` stored at ``name``."""
    data = None if message is None else attrs.evolve(message, lock=None).data
    return DeadLetterRecord(name=name, reason=reason, failed_at=now, message=data, raw=raw)


def resubmission(message: M, now: int) -> M:
    """A dead message given a fresh start: no retries used, ready at once."""
    return attrs.evolve(message, retries=0, deliveries=0, lock=None, updated_at=now, delay=0)
