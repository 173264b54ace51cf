"""What happened when a task ran. The shell observes; these records report.

User hooks run in the shell, never here: their answers arrive as data
(``callback_approved`` from ``do_callback``, ``retry_approved`` from
``do_retry``).
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ErrorInfo:
    """A picklable, serializable description of an exception."""

    type_name: str
    message: str
    traceback: str = ""

    @property
    def summary(self) -> str:
        """``'TypeName: message'``."""
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


@attrs.frozen
class Succeeded:
    """The task returned ``result``."""

    result: Any
    callback_approved: bool = True


@attrs.frozen
class Failed:
    """The task (or a hook) raised."""

    error: ErrorInfo
    retry_approved: bool


@attrs.frozen
class TimedOut:
    """The task ran past its ``timeout`` and was stopped (``traceback``: where a thread
    task was when it was interrupted; empty for a terminated process)."""

    timeout: int
    retry_approved: bool
    traceback: str = ""


@attrs.frozen
class Crashed:
    """The delivery ended without an outcome: the process died, the worker vanished."""

    detail: str


@attrs.frozen
class Cancelled:
    """Someone asked for the message to stop (``Broker.cancel``); it is never retried."""

    reason: str = "cancelled"


Outcome = Succeeded | Failed | TimedOut | Crashed | Cancelled

#: The name of each outcome kind, as logs, metrics and records spell it.
OUTCOME_NAMES: dict[type, str] = {
    Succeeded: "succeeded",
    Failed: "failed",
    TimedOut: "timed_out",
    Crashed: "crashed",
    Cancelled: "cancelled",
}


def outcome_name(outcome: Outcome) -> str:
    """``'succeeded'``, ``'failed'``, ``'timed_out'``, ``'crashed'`` or ``'cancelled'``."""
    return OUTCOME_NAMES[type(outcome)]


def failure_of(outcome: Outcome) -> ErrorInfo | None:
    """What went wrong, as an error description (None for a success).

    A timeout reads as ``TaskTimeoutError``, a crash as ``TaskCrashedError`` and a
    cancellation as ``TaskCancelledError``, so every failure has a type, a message
    and (where one exists) a traceback.
    """
    if isinstance(outcome, Failed):
        return outcome.error
    if isinstance(outcome, TimedOut):
        text = f"timed out after {outcome.timeout} ms"
        return ErrorInfo("TaskTimeoutError", text, outcome.traceback)
    if isinstance(outcome, Crashed):
        return ErrorInfo("TaskCrashedError", outcome.detail)
    if isinstance(outcome, Cancelled):
        return ErrorInfo("TaskCancelledError", outcome.reason)
    return None
