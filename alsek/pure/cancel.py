"""Cancelling a message: the request, and how a pool stops a running one.

A waiting (ready or delayed) message is removed at once, atomically, by the
backend. A running one cannot be removed under its worker: the canceller
leaves a *request* at ``cancel:{message name}``, and every pool looks up the
requests of the messages it runs (one round trip for all of them) a few
times a second. The pool that finds one stops the task (a thread gets
``TaskCancelledError`` raised in it, a process is terminated) and records
the ``Cancelled`` outcome: the message is removed, never retried, and its
last error says it was cancelled. A task that ignores the stop is cut loose
after a grace: its thread is abandoned, its process killed.
"""

from __future__ import annotations

import enum

CANCEL_PREFIX = "cancel"


def cancel_marker_name(message_name: str) -> str:
    """Where a request to stop the running message ``message_name`` is left."""
    return f"{CANCEL_PREFIX}:{message_name}"


class CancelResult(enum.Enum):
    """What ``Broker.cancel`` did."""

    REMOVED = "removed"  # it was waiting (ready or delayed): removed and recorded
    REQUESTED = "requested"  # it is running: its pool was asked to stop it
    NOT_FOUND = "not_found"  # no such message is queued (done, dead, or never there)


class StopAction(enum.Enum):
    """What a pool does next about a running job whose message was cancelled."""

    STOP = "stop"  # raise in its thread / terminate its process
    WAIT = "wait"  # stopped already; give it until the grace ends
    FORCE = "force"  # it ignored the stop: abandon its thread / kill its process


def stop_step(now: int, stopped_at: int | None, grace_ms: int) -> tuple[StopAction, int]:
    """The next step for a cancelled running job, and when to look again (ms).

    ``stopped_at`` is when the pool first tried to stop it (None: not yet).
    """
    if stopped_at is None:
        return StopAction.STOP, now + grace_ms
    due = stopped_at + grace_ms
    if now >= due:
        return StopAction.FORCE, now
    return StopAction.WAIT, due
