"""A claimed message on its way through a worker pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from alsek.effects.message import Message
from alsek.effects.task import Task

if TYPE_CHECKING:
    from alsek.pure.outcome import Outcome


@attrs.define(eq=False)
class Job:
    """Mutable bookkeeping for one claimed message (owned by the pool)."""

    message: Message
    task: Task
    claimed_at: int
    lease_deadline: int
    started_at: int | None = None
    deadline: int | None = None
    interrupted_at: int | None = None
    finished: bool = False
    abandoned: bool = False
    lease_lost: bool = False
    worker: Any = None

    @property
    def token(self) -> str:
        """The lease token this pool holds the message under."""
        return self.message.lock or ""

    @property
    def mechanism(self) -> str:
        """``'thread'`` or ``'process'``."""
        return self.message.mechanism


class Pool:  # pragma: no cover - structural interface for runners
    """What a runner needs from its pool."""

    def complete(self, job: Job, outcome: Outcome, duration_ms: int | None = None) -> None: ...

    def started(self, job: Job) -> None: ...
