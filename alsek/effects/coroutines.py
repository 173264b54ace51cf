"""Running ``async def`` tasks: on an event loop, cancelled at their timeout.

A task's coroutine runs between its ``pre_op`` and ``post_op`` hooks (either
may be ``async def`` too) inside ``asyncio.timeout``: at the timeout it is
cancelled, and the run ends ``TimedOut`` (``do_retry`` is asked, as for any
timeout). ``run_async`` is what an event loop awaits (the worker pool's
loop thread); ``run_blocking`` runs one from synchronous code, on this
thread's own event loop, kept for the next one (a task process has one loop
for its life; the test mode and ``run_message`` use the caller's thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alsek.effects.loops import Deadline, run_coroutine, settle
from alsek.effects.message import Message
from alsek.effects.outcomes import failed, succeeded, timed_out
from alsek.pure.outcome import Outcome

if TYPE_CHECKING:
    from alsek.effects.task import Task


async def execute_async(task: Task[Any, Any], message: Message) -> Any:
    """``pre_op``, the coroutine, ``post_op``; returns the coroutine's result."""
    await settle(task.pre_op(message))
    result = await settle(task.function(*message.args, **task.call_kwargs(message)))
    await settle(task.post_op(message, result))
    return result


async def run_async(
    task: Task[Any, Any], message: Message, timeout_s: float | None = None
) -> Outcome:
    """Run ``message``'s coroutine within ``timeout_s`` seconds (default: the message's
    timeout) and report what happened, hooks' answers included.

    A cancellation from outside (``asyncio.CancelledError``) is not an outcome:
    it propagates, for the caller who cancelled to say what it means."""
    seconds = message.timeout / 1000 if timeout_s is None else max(timeout_s, 0.0)
    deadline = Deadline(seconds)
    try:
        async with deadline:
            result = await execute_async(task, message)
    except TimeoutError as error:
        if deadline.expired():
            return timed_out(task, message, error)
        return failed(task, message, error)
    except Exception as error:
        return failed(task, message, error)
    return succeeded(task, message, result)


def run_blocking(task: Task[Any, Any], message: Message) -> Outcome:
    """``run_async`` from synchronous code (``run_coroutine``)."""
    return run_coroutine(run_async(task, message))
