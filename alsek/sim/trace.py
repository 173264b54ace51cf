"""The event trace: what happened to every message, in processing order.

Each event is a plain tuple ``(t_ms, event, pool, uuid, detail)`` (pool -1
when no pool is involved, uuid ``""`` for pool events) and ``detail`` a tuple
of strings and ints, so a trace is JSON-serializable and two runs with the
same seed produce equal traces. Events and their details:

========== =====================================================
submit     (task, queue, priority, slot kind, ready_at, parent uuid or "")
claim      (deliveries, slot kinds the claim still allowed (under their caps), "+"-joined)
end        (outcome: succeeded/failed/timed_out/crashed, started_at)
retry      (ready_at, retries, deliveries)    a failed or timed-out run
redeliver  (ready_at, retries, deliveries)    a crashed run
ack        ()
dead       (reason,)                          dead-lettered
expire     (deliveries,)                      a killed pool's lease lapsed
kill       (messages held,)
restart    (0,)
========== =====================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alsek.pure.message import Message

TraceEvent = tuple[int, str, int, str, tuple[Any, ...]]
FIELDS = ("t_ms", "event", "pool", "uuid", "detail")


class Tracer:
    """Appends trace events when enabled; does nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.events: list[TraceEvent] | None = [] if enabled else None

    def submit(self, now: int, message: Message, at: int, parent: str) -> None:
        """A message entered its queue."""
        if self.events is not None:
            detail = (
                message.task_name,
                message.queue,
                message.priority,
                message.slot_kind,
                at,
                parent,
            )
            self.events.append((now, "submit", -1, message.uuid, detail))

    def claim(self, now: int, pool: int, message: Message, mechanisms: Sequence[str]) -> None:
        """A pool claimed a message (its ``deliveries`` already counts this one)."""
        if self.events is not None:
            detail = (message.deliveries, "+".join(mechanisms))
            self.events.append((now, "claim", pool, message.uuid, detail))

    def end(self, now: int, pool: int, uuid: str, outcome: str, started_at: int | None) -> None:
        """An attempt ended with ``outcome``."""
        if self.events is not None:
            self.events.append((now, "end", pool, uuid, (outcome, started_at)))

    def requeue(self, now: int, pool: int, message: Message, at: int, retry: bool) -> None:
        """A message went back to its queue (a retry or a redelivery)."""
        if self.events is not None:
            event = "retry" if retry else "redeliver"
            detail = (at, message.retries, message.deliveries)
            self.events.append((now, event, pool, message.uuid, detail))

    def final(self, now: int, pool: int, uuid: str, ok: bool, reason: str) -> None:
        """A message was acked or dead-lettered."""
        if self.events is not None:
            if ok:
                self.events.append((now, "ack", pool, uuid, ()))
            else:
                self.events.append((now, "dead", pool, uuid, (reason,)))

    def expire(self, now: int, pool: int, message: Message) -> None:
        """A dead pool's lease lapsed; the message is claimable again."""
        if self.events is not None:
            self.events.append((now, "expire", pool, message.uuid, (message.deliveries,)))

    def pool_event(self, now: int, pool: int, event: str, count: int) -> None:
        """A pool was killed or restarted."""
        if self.events is not None:
            self.events.append((now, event, pool, "", (count,)))
