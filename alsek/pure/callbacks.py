"""Callback chains.

A callback is a message stored (as data) inside the message it follows.
A tuple ``(a, b, c)`` is nested into ``a`` carrying ``b`` carrying ``c``, so
``callback=(a, b, c)`` and ``callback=a_with(b_with(c))`` produce identical
``callback_message_data``. After a success, ``next_callback`` prepares the
follower: ``previous_result`` is the result, ``progenitor`` the finished
message (not the root), and its clock starts now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import attrs

from alsek.exceptions import ValidationError
from alsek.pure.codec import message_from_data
from alsek.pure.message import Message

M = TypeVar("M", bound=Message)


def nest(messages: Sequence[M]) -> M:
    """Nest a flat sequence of messages into one chain rooted at the first.

    Only the last message of the sequence may carry callbacks of its own;
    they stay at the end of the chain.
    """
    if not messages:
        raise ValidationError("a callback tuple must contain at least one message")
    for position, message in enumerate(messages[:-1]):
        if message.callback_message_data is not None:
            raise ValidationError(
                f"callback {position} ({message.summary}) already has a callback; "
                "only the last message of a callback tuple may have one"
            )
    chain = messages[-1]
    for message in reversed(messages[:-1]):
        chain = attrs.evolve(message, callback_message_data=chain.data)
    return chain


def attach(message: M, callback: Message | Sequence[Message] | None) -> M:
    """``message`` with ``callback`` (one message or a tuple) as its chain."""
    if callback is None:
        return message
    if isinstance(callback, Message):
        nested: Message = callback
    elif isinstance(callback, (tuple, list)):
        if not all(isinstance(item, Message) for item in callback):
            raise ValidationError("every item of a callback tuple must be a Message")
        nested = nest(tuple(callback))
    else:
        raise ValidationError(
            f"callback must be a Message or a tuple of Messages, got {type(callback).__name__}"
        )
    return attrs.evolve(message, callback_message_data=nested.data)


def flatten(message: M) -> tuple[M, ...]:
    """The chain as a flat tuple: ``message`` first, then each callback in turn.

    Links come without their tails (the inverse of ``nest``), so
    ``nest(flatten(m)) == m`` and ``flatten(nest(ms)) == tuple(ms)``.
    """
    chain = [message]
    while chain[-1].callback_message_data is not None:
        chain.append(message_from_data(chain[-1].callback_message_data, type(message)))
    return tuple(attrs.evolve(link, callback_message_data=None) for link in chain)


def has_callback(message: Message) -> bool:
    """Whether a callback follows ``message``."""
    return message.callback_message_data is not None


def next_callback(done: M, result: Any, now: int) -> M | None:
    """The callback to submit after ``done`` succeeded with ``result`` (None if none)."""
    if done.callback_message_data is None:
        return None
    follower = message_from_data(done.callback_message_data, type(done))
    return attrs.evolve(
        follower,
        previous_result=result,
        progenitor=done.uuid,
        updated_at=now,
        lock=None,
        deliveries=0,
    )
