"""The one error tree. Every error says what failed and where.

Each class also derives from the builtin a caller would naturally catch
(``ValueError``, ``KeyError``, ``TimeoutError``, ``ConnectionError``), so
code written against the standard library keeps working.
"""

from __future__ import annotations

from typing import Any


class AlsekError(Exception):
    """Root of every error Alsek raises on purpose."""


class ValidationError(AlsekError, ValueError):
    """An option, field or message failed validation."""


class SerializationError(AlsekError, TypeError):
    """A value could not be encoded; nothing was written."""

    def __init__(self, key: str | None, value: Any, cause: BaseException | None = None) -> None:
        self.key = key
        self.value_type = type(value).__name__
        where = f" for key {key!r}" if key is not None else ""
        because = f": {cause}" if cause is not None else ""
        super().__init__(f"cannot serialize a value of type {self.value_type!r}{where}{because}")


class DeserializationError(AlsekError, ValueError):
    """A stored value could not be decoded."""

    def __init__(self, key: str | None, cause: BaseException | None = None) -> None:
        self.key = key
        where = f" stored at {key!r}" if key is not None else ""
        because = f": {cause}" if cause is not None else ""
        super().__init__(f"cannot deserialize the value{where}{because}")


class KeyExistsError(AlsekError, KeyError):
    """``set(..., nx=True)`` found the name already present."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"name {name!r} already exists (set with nx=True)")

    def __str__(self) -> str:
        return str(self.args[0])


class MessageExistsError(KeyExistsError):
    """A message with this uuid was already submitted."""


class NotFoundError(AlsekError, KeyError):
    """A name, message or result is not in the backend."""

    def __init__(self, what: str) -> None:
        super().__init__(what)

    def __str__(self) -> str:
        return str(self.args[0])


class ResultTimeoutError(AlsekError, TimeoutError):
    """No result arrived within the requested timeout."""


class TaskTimeoutError(AlsekError, TimeoutError):
    """A task ran past its timeout."""


class BackendUnavailableError(AlsekError, ConnectionError):
    """The storage backend cannot serve requests for now (unreachable, restarting,
    out of memory, read-only after a failover, locked...): retry later."""


class BackendAuthError(AlsekError, PermissionError):
    """The storage backend refused the credentials or the permission: not an
    outage, retrying will not help. The message names where (without the password)."""


class LeaseLostError(AlsekError):
    """The lease on a message no longer holds: another consumer may own it."""


class TaskNotFoundError(AlsekError, LookupError):
    """A message names a task this process does not know."""


class SchedulingError(AlsekError):
    """A triggered task could not be scheduled."""


class DiscoveryError(AlsekError):
    """The CLI could not collect tasks from the given package."""


class LockError(AlsekError):
    """A lock operation was used incorrectly."""


class TaskCancelledError(AlsekError):
    """Raised inside a running thread task whose message was cancelled."""


class TaskFailedError(AlsekError, RuntimeError):
    """The task of a message ended for good without a result: it failed, timed out,
    crashed or was cancelled, and no retry follows.

    Carries what went wrong: ``type_name``, ``error_message``, ``traceback`` (the
    task's own, where there is one), ``attempts`` (runs that ended in an outcome)
    and ``outcome`` (``failed``, ``timed_out``, ``crashed`` or ``cancelled``).
    """

    def __init__(
        self,
        uuid: str,
        type_name: str,
        error_message: str,
        traceback: str = "",
        attempts: int = 1,
        outcome: str = "failed",
    ) -> None:
        self.uuid = uuid
        self.type_name = type_name
        self.error_message = error_message
        self.traceback = traceback
        self.attempts = attempts
        self.outcome = outcome
        what = f"{type_name}: {error_message}" if error_message else type_name
        runs = f"{attempts} attempt{'' if attempts == 1 else 's'}"
        super().__init__(f"message {uuid!r} {outcome.replace('_', ' ')} after {runs}: {what}")


class SimulationRunawayError(AlsekError, RuntimeError):
    """A simulation handled more events than its budget allows: the engine is looping.

    A sound run handles a bounded number of events per message and per
    simulated millisecond; one that does not would otherwise never end.
    """


class StillBusyError(AlsekError):
    """In test mode: the queues did not become idle within the allowed number of runs."""
