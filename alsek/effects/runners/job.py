"""A claimed message on its way through a worker pool."""

from __future__ import annotations

from typing import Any

import attrs

from alsek.effects.message import Message
from alsek.effects.task import Task
from alsek.pure.lifecycle import JobState
from alsek.pure.queue_model import Claim


@attrs.define(eq=False)
class Job:
    """Mutable bookkeeping for one claimed message (owned by the pool).

    ``state`` follows ``alsek.pure.lifecycle``: it changes only through the
    pool's ``step`` under the pool's lock, which also gives the slot back.
    Local times (``lease_expires``, ``deadline``, ...) are monotonic
    milliseconds of this host: the backend's clock decides the lease itself.
    The dispatcher hands out raw claims; the runner decodes the message and
    finds its task (``message``/``task`` are set once it is prepared), so
    decoding happens in parallel with the dispatcher's next claim.
    """

    claim: Claim
    lease_expires: int
    message: Message | None = None
    task: Task[Any, Any] | None = None
    state: JobState = JobState.CLAIMED
    started_at: int | None = None
    deadline: int | None = None
    interrupted_at: int | None = None
    lease_lost: bool = False
    slow_renewal_logged: bool = False
    worker: Any = None

    @property
    def token(self) -> str:
        """The lease token this pool holds the message under."""
        return self.claim.token

    @property
    def mechanism(self) -> str:
        """``'thread'`` or ``'process'`` (from the queue index)."""
        return self.claim.mechanism

    @property
    def label(self) -> str:
        """How logs name this job."""
        return self.message.summary if self.message is not None else self.claim.name
