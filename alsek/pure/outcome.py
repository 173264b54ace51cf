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
    """The task ran past its ``timeout`` and was stopped."""

    timeout: int
    retry_approved: bool


@attrs.frozen
class Crashed:
    """The delivery ended without an outcome: the process died, the worker vanished."""

    detail: str


Outcome = Succeeded | Failed | TimedOut | Crashed
