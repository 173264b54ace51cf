"""Time arithmetic on messages and leases. ``now`` is always a parameter."""

from __future__ import annotations

from alsek.pure.message import Message


def ready_at(message: Message) -> int:
    """UTC ms at which ``message`` may next be processed."""
    return message.updated_at + message.delay


def ttr(message: Message, now: int) -> int:
    """Time to ready: milliseconds until ``message`` may run (0 when ready)."""
    return max(ready_at(message) - now, 0)


def is_ready(message: Message, now: int) -> bool:
    """Whether ``message`` may be processed at ``now``."""
    return ready_at(message) <= now


def lease_deadline(now: int, lease_ms: int) -> int:
    """When a lease taken (or renewed) at ``now`` expires."""
    return now + lease_ms


def renew_interval(lease_ms: int) -> int:
    """How often a holder renews its lease: three chances before it lapses."""
    return max(lease_ms // 3, 1)


def task_deadline(started_at: int, timeout: int) -> int:
    """When a task started at ``started_at`` times out."""
    return started_at + timeout
