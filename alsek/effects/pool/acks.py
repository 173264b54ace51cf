"""Acks of finished tasks that ride along with a claim: kept, batched, flushed, reported.

A success whose only effect is an ack does not pay a round trip of its own
(``alsek.pure.pool.route_ack``): it waits here for the dispatcher's next
claim, which carries it. At shutdown what is left is flushed in one batch.
The list is only touched under the pool's lock (``Slots.cond``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alsek.effects.ackbatch import flush, report
from alsek.effects.message import Message

__all__ = ["Acks", "flush", "report"]


class Acks:
    """Pending acks (guarded by the pool's lock)."""

    def __init__(self) -> None:
        self.pending: list[Message] = []

    def add(self, message: Message) -> None:
        """Keep ``message``'s ack for the next claim."""
        self.pending.append(message)

    def take(self) -> list[Message]:
        """Every pending ack, for the claim about to be sent."""
        taken, self.pending = self.pending, []
        return taken

    def put_back(self, messages: Sequence[Message]) -> None:
        """Acks whose claim failed: first in line for the next one."""
        self.pending[:0] = messages
