"""The simulated backend's waiting messages, indexed for fast claims.

The reference model (``alsek.pure.queue_model``) scans every slot per claim;
that is right but O(n). Here each (queue, mechanism) has a heap of ready
messages keyed by ``ordering.priority_key`` and one heap holds delayed
messages by ready time. ``promote(now)`` moves what became ready; ``take``
pops the smallest key among the allowed mechanisms of the first queue (in
consumption order) that has one: the same choice ``queue_model.claim`` makes.
Leased messages are not here: the engine holds them.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from alsek.pure.message import SLOT_KINDS, Message
from alsek.pure.ordering import PriorityKey, priority_key
from alsek.pure.timing import ready_at

ReadyEntry = tuple[PriorityKey, Message]


class Store:
    """Waiting (ready or delayed) messages of the consumed queues."""

    def __init__(self, queues: Sequence[str]) -> None:
        self.queues = tuple(queues)
        self.ready: dict[tuple[str, str], list[ReadyEntry]] = {
            (queue, kind): [] for queue in self.queues for kind in SLOT_KINDS
        }
        self.delayed: list[tuple[int, int, Message]] = []
        self.waiting: dict[str, int] = dict.fromkeys(self.queues, 0)
        self.size = 0
        self.ready_size = 0
        #: Messages placed so far (submissions, retries, redeliveries, expiries).
        self.placed = 0
        self._seq = 0

    def put(self, message: Message, now: int) -> None:
        """Add a message; it is claimable once ``ready_at <= now``."""
        at = ready_at(message)
        if at <= now:
            heapq.heappush(
                self.ready[(message.queue, message.slot_kind)], (priority_key(message), message)
            )
            self.ready_size += 1
        else:
            self._seq += 1
            heapq.heappush(self.delayed, (at, self._seq, message))
        self.waiting[message.queue] += 1
        self.size += 1
        self.placed += 1

    def promote(self, now: int) -> None:
        """Move messages whose ready time has come into the ready heaps."""
        delayed = self.delayed
        while delayed and delayed[0][0] <= now:
            message = heapq.heappop(delayed)[2]
            heapq.heappush(
                self.ready[(message.queue, message.slot_kind)], (priority_key(message), message)
            )
            self.ready_size += 1

    def take(self, mechanisms: Sequence[str]) -> Message | None:
        """Pop the next message to claim (call ``promote`` first), or None."""
        if not self.ready_size:
            return None
        for queue in self.queues:
            best: list[ReadyEntry] | None = None
            for mechanism in mechanisms:
                heap = self.ready[(queue, mechanism)]
                if heap and (best is None or heap[0][0] < best[0][0]):
                    best = heap
            if best is not None:
                message = heapq.heappop(best)[1]
                self.ready_size -= 1
                self.waiting[queue] -= 1
                self.size -= 1
                return message
        return None

    def next_ready_at(self) -> int | None:
        """When the earliest delayed message becomes ready (None if none is delayed)."""
        return self.delayed[0][0] if self.delayed else None

    def has_claimable(self, now: int) -> bool:
        """Whether a claim at ``now`` could find anything (for some mechanism)."""
        return self.ready_size > 0 or (bool(self.delayed) and self.delayed[0][0] <= now)
