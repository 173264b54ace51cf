"""A run's outcome, with the task's hooks asked: ``do_callback`` after a success,
``do_retry`` after a failure or a timeout.

The hooks are user code: their answers enter the pure core as data, and a
hook that raises is logged and read as "no". A hook may be ``async def``:
its answer is awaited here (on a helper thread's loop when an event loop
runs this code), so keep it quick.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from alsek.effects.errors import error_info
from alsek.effects.loops import settle_now
from alsek.effects.message import Message
from alsek.exceptions import TaskTimeoutError
from alsek.pure.callbacks import has_callback
from alsek.pure.outcome import Failed, Succeeded, TimedOut

if TYPE_CHECKING:
    from alsek.effects.task import Task

log = logging.getLogger("alsek.effects.task")


def succeeded(task: Task[Any, Any], message: Message, result: Any) -> Succeeded:
    """The outcome of ``message`` returning ``result`` (asks ``do_callback``)."""
    try:
        approved = settle_now(task.do_callback(message, result)) if has_callback(message) else True
    except Exception:
        # The task itself succeeded: keep its result, skip only the callback.
        log.exception("do_callback of %s raised; the callback is skipped", message.summary)
        approved = False
    return Succeeded(result, callback_approved=bool(approved))


def _retry(task: Task[Any, Any], message: Message, error: BaseException) -> bool:
    try:
        return bool(settle_now(task.do_retry(message, error)))
    except Exception:
        log.exception("do_retry of %s raised; not retrying", message.summary)
        return False


def failed(task: Task[Any, Any], message: Message, error: BaseException) -> Failed:
    """The outcome of ``message`` failing with ``error`` (asks ``do_retry``)."""
    return Failed(error_info(error), retry_approved=_retry(task, message, error))


def timed_out(
    task: Task[Any, Any], message: Message, raised: BaseException | None = None
) -> TimedOut:
    """The outcome of ``message`` overrunning its timeout (asks ``do_retry``); ``raised``
    is the error that stopped it, whose traceback says where it was."""
    error = TaskTimeoutError(f"{message.summary} timed out after {message.timeout} ms")
    where = "" if raised is None else error_info(raised).traceback
    return TimedOut(message.timeout, retry_approved=_retry(task, message, error), traceback=where)
