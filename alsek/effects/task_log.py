"""One log line per finished task run, on the ``alsek.task`` logger.

The line names the task, a short id (the last 8 characters of the message
uuid), the outcome and the duration, and what follows::

    add 4c1d9e07 succeeded in 3 ms
    boom 9f3b2a61 failed in 2 ms: RuntimeError: kaboom; retry 1 in 100 ms
    boom 9f3b2a61 failed in 1 ms: RuntimeError: kaboom; giving up after 2 attempts

A success is INFO; a failure, timeout or crash is WARNING when a retry or
redelivery follows and ERROR when it is final, with the task's full
traceback attached the way ``logging`` attaches one (``exc_text``), so any
formatter prints it. Every record carries ``uuid``, ``task``, ``queue``,
``outcome``, ``duration_ms`` and ``attempts`` attributes for structured
formatters (``--log-format json``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from alsek.effects.message import Message
from alsek.pure.decisions import Cancel, Effect, Reschedule
from alsek.pure.outcome import (
    Cancelled,
    Crashed,
    Failed,
    Outcome,
    Succeeded,
    TimedOut,
    failure_of,
    outcome_name,
)

log = logging.getLogger("alsek.task")


def short_id(uuid: str) -> str:
    """The last 8 characters of a uuid (its random part, for time-ordered ids)."""
    return uuid[-8:]


def _headline(outcome: Outcome, duration_ms: int | None) -> str:
    took = "" if duration_ms is None else f" in {duration_ms} ms"
    if isinstance(outcome, Failed):
        return f"failed{took}: {outcome.error.summary}"
    if isinstance(outcome, TimedOut):
        return f"timed out after {outcome.timeout} ms"
    if isinstance(outcome, Crashed):
        return f"crashed: {outcome.detail}"
    if isinstance(outcome, Cancelled):
        return f"cancelled{took}: {outcome.reason}"
    return f"succeeded{took}"


def _what_follows(message: Message, terminal: Effect) -> str:
    if isinstance(terminal, Reschedule) and terminal.kind == "retry":
        return f"retry {terminal.message.retries} in {terminal.message.delay} ms"
    if isinstance(terminal, Reschedule):
        return "redelivering"
    if isinstance(terminal, Cancel):
        return "removed"
    attempts = message.retries + 1
    return f"giving up after {attempts} attempt{'' if attempts == 1 else 's'}"


def log_outcome(
    message: Message, outcome: Outcome, effects: Sequence[Effect], duration_ms: int | None
) -> None:
    """Log the run of ``message`` that ended with ``outcome`` (decided: ``effects``)."""
    final = not isinstance(effects[-1], Reschedule)
    if isinstance(outcome, Succeeded):
        level = logging.INFO
    else:
        level = logging.ERROR if final and not isinstance(effects[-1], Cancel) else logging.WARNING
    if not log.isEnabledFor(level):
        return
    text = f"{message.task_name} {short_id(message.uuid)} {_headline(outcome, duration_ms)}"
    error = failure_of(outcome)
    traceback = ""
    if error is not None:
        text += f"; {_what_follows(message, effects[-1])}"
        traceback = error.traceback.rstrip("\n")
    extra: dict[str, Any] = {
        "uuid": message.uuid,
        "task": message.task_name,
        "queue": message.queue,
        "outcome": outcome_name(outcome),
        "duration_ms": duration_ms,
        "attempts": message.retries + 1,
    }
    record = log.makeRecord(log.name, level, __file__, 0, text, (), None, extra=extra)
    if traceback:
        record.exc_text = traceback
    log.handle(record)
