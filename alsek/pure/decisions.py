"""The decision after a task runs: outcome in, effects out.

``decide`` is total over (outcome kind) and always returns exactly one of
``Ack``, ``Reschedule``, ``DeadLetter`` or ``Cancel``, preceded (after a
success) by an optional ``StoreResult`` and ``SubmitCallback``, or (after
anything else) by a ``RecordFailure`` saying what went wrong. The order of the tuple is
the order the shell must carry them out: a result is written before the
message is acknowledged, so a redelivered message never loses its result,
and a callback is submitted before the ack, so a crash in between can only
duplicate it (callbacks are submitted with ``nx``, so even that is refused).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from alsek.pure.callbacks import has_callback, next_callback
from alsek.pure.message import Message
from alsek.pure.outcome import (
    Cancelled,
    Crashed,
    ErrorInfo,
    Failed,
    Outcome,
    Succeeded,
    TimedOut,
    failure_of,
    outcome_name,
)
from alsek.pure.policy import TaskPolicy
from alsek.pure.transitions import crash_count, nack, retry


@attrs.frozen
class StoreResult:
    """Write ``result`` for ``message`` (kept ``ttl`` ms, forever if None)."""

    message: Message
    result: Any
    ttl: int | None


@attrs.frozen
class SubmitCallback:
    """Submit ``message``, the next link of a callback chain."""

    message: Message


@attrs.frozen
class Ack:
    """The message is done: remove it from the queue."""

    message: Message


@attrs.frozen
class Reschedule:
    """Put ``message`` (the new record) back in its queue.

    ``kind="retry"`` replaces the stored message (retries + 1, backoff
    delay, fresh delivery count); ``kind="redeliver"`` hands the same
    message out again, keeping its delivery count.
    """

    message: Message
    kind: Literal["retry", "redeliver"]


@attrs.frozen
class DeadLetter:
    """Move ``message`` to the dead-letter queue, recording why."""

    message: Message
    reason: str
    at: int


@attrs.frozen
class Cancel:
    """The message was cancelled: remove it for good (never retried)."""

    message: Message
    reason: str
    at: int


@attrs.frozen
class RecordFailure:
    """Keep what went wrong with this run of ``message`` (its last error).

    ``final`` says no retry or redelivery follows: a reader of its result
    then gets the error instead of waiting. ``attempts`` counts runs that
    ended in an outcome (the retries so far plus this one).
    """

    message: Message
    outcome: str
    error: ErrorInfo
    attempts: int
    final: bool
    at: int


Effect = StoreResult | SubmitCallback | Ack | Reschedule | DeadLetter | Cancel | RecordFailure
Terminal = (Ack, Reschedule, DeadLetter, Cancel)


def _after_failure(message: Message, approved: bool, what: str, now: int) -> Effect:
    if approved:
        return Reschedule(retry(message, now), "retry")
    retried = f" after {message.retries} retr{'y' if message.retries == 1 else 'ies'}"
    return DeadLetter(message, f"{what}{retried}", now)


def decide(message: Message, policy: TaskPolicy, outcome: Outcome, now: int) -> tuple[Effect, ...]:
    """The effects that follow ``outcome`` of running ``message`` at ``now``."""
    if isinstance(outcome, Succeeded):
        return _after_success(message, outcome, now)
    terminal = _terminal(message, policy, outcome, now)
    error = failure_of(outcome)
    assert error is not None  # every outcome but a success describes a failure
    final = not isinstance(terminal, Reschedule)
    record = RecordFailure(message, outcome_name(outcome), error, message.retries + 1, final, now)
    return (record, terminal)


def _after_success(message: Message, outcome: Succeeded, now: int) -> tuple[Effect, ...]:
    effects: list[Effect] = []
    if message.store_result:
        effects.append(StoreResult(message, outcome.result, message.result_ttl))
    if outcome.callback_approved and has_callback(message):
        follower = next_callback(message, outcome.result, now)
        assert follower is not None  # has_callback guarantees it
        effects.append(SubmitCallback(follower))
    effects.append(Ack(message))
    return tuple(effects)


def _terminal(message: Message, policy: TaskPolicy, outcome: Outcome, now: int) -> Effect:
    """Where a message goes after anything but a success."""
    if isinstance(outcome, Failed):
        return _after_failure(message, outcome.retry_approved, outcome.error.summary, now)
    if isinstance(outcome, TimedOut):
        what = f"TimeoutError: timed out after {outcome.timeout} ms"
        return _after_failure(message, outcome.retry_approved, what, now)
    if isinstance(outcome, Crashed):
        if message.deliveries > policy.max_redeliveries:
            reason = (
                f"crashed on {message.deliveries} deliveries "
                f"(limit {policy.max_redeliveries} redeliveries): {outcome.detail}"
            )
            return DeadLetter(message, reason, now)
        return Reschedule(nack(message, now), "redeliver")
    if isinstance(outcome, Cancelled):
        return Cancel(message, outcome.reason, now)
    raise TypeError(f"decide() got an unknown outcome {outcome!r}")


def decide_on_claim(message: Message, policy: TaskPolicy, now: int) -> tuple[Effect, ...]:
    """Before running a claimed message: dead-letter it if earlier deliveries all vanished.

    A worker that dies mid-task leaves no outcome; the message comes back
    when its lease expires with ``deliveries`` one higher. Past the
    redelivery limit it is a crash loop and must not run again.
    """
    crashes = crash_count(message)
    if crashes > policy.max_redeliveries:
        reason = (
            f"delivered {message.deliveries} times without an outcome "
            f"(limit {policy.max_redeliveries} redeliveries): the worker was lost each time"
        )
        return (DeadLetter(message, reason, now),)
    return ()


def reject(message: Message, reason: str, now: int) -> tuple[Effect, ...]:
    """A message that must never run (unknown task, invalid) goes to the dead letters."""
    return (DeadLetter(message, reason, now),)
