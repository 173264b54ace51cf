"""Message transitions: new records of the same class, the input untouched."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.backoff import backoff_from_settings
from alsek.pure.message import Message
from alsek.pure.transitions import (
    claimed,
    crash_count,
    nack,
    retry,
    unclaimed,
    with_delay,
)
from tests.property.strategies import MAX_TIME, heavy, medium, messages, names, small_messages

nows = st.integers(min_value=0, max_value=MAX_TIME)
delays = st.integers(min_value=0, max_value=10**9)


@attrs.frozen(kw_only=True, repr=False)
class PublicMessage(Message):
    """Like the shell's public Message: a frozen subclass adding behaviour."""

    @property
    def shouted(self) -> str:
        return self.task_name.upper()


def as_public(message: Message) -> PublicMessage:
    """The same record as an instance of the subclass."""
    return PublicMessage(
        **{field.name: getattr(message, field.name) for field in attrs.fields(Message)}
    )


def either_class_of(base: st.SearchStrategy[Message]) -> st.SearchStrategy[Message]:
    """Messages of ``base``, half of them as the subclass."""
    return st.builds(lambda m, sub: as_public(m) if sub else m, base, st.booleans())


either_class = either_class_of(messages())
small_either_class = either_class_of(small_messages())


def changed_fields(before: Message, after: Message) -> set[str]:
    """Names of the fields whose values differ."""
    return {name for name, value in before.data.items() if after.data[name] != value}


def expected_backoff(message: Message, incidents: int) -> int:
    """The backoff a message's settings give after ``incidents`` incidents."""
    backoff = backoff_from_settings(message.backoff_settings)
    return 0 if backoff is None else backoff.get(incidents)


@heavy
@given(either_class, nows)
def test_retry(message: Message, now: int) -> None:
    snapshot = copy.deepcopy(message.data)
    result = retry(message, now)
    assert type(result) is type(message)
    assert result is not message
    assert result.retries == message.retries + 1
    assert result.updated_at == now
    assert result.delay == expected_backoff(message, message.retries + 1)
    assert result.ready_at == now + result.delay
    assert result.lock is None
    assert result.deliveries == 0
    allowed = {"retries", "updated_at", "delay", "lock", "deliveries"}
    assert changed_fields(message, result) <= allowed
    assert message.data == snapshot


@medium
@given(small_either_class, nows)
def test_retry_without_backoff_settings_does_not_wait(message: Message, now: int) -> None:
    result = retry(attrs.evolve(message, backoff_settings=None), now)
    assert result.delay == 0
    assert result.ready_at == now


@heavy
@given(either_class, nows, delays)
def test_nack(message: Message, now: int, delay: int) -> None:
    snapshot = copy.deepcopy(message.data)
    result = nack(message, now, delay)
    assert type(result) is type(message)
    assert result.retries == message.retries
    assert result.deliveries == message.deliveries
    assert (result.updated_at, result.delay, result.lock) == (now, delay, None)
    assert changed_fields(message, result) <= {"updated_at", "delay", "lock"}
    assert message.data == snapshot
    assert nack(message, now).delay == 0


@medium
@given(small_either_class, nows, delays)
def test_with_delay(message: Message, now: int, delay: int) -> None:
    result = with_delay(message, now, delay)
    assert type(result) is type(message)
    assert result.ready_at == now + delay
    assert changed_fields(message, result) <= {"updated_at", "delay"}


@medium
@given(small_either_class, nows, st.integers(max_value=-1))
def test_negative_delays_are_rejected(message: Message, now: int, delay: int) -> None:
    with pytest.raises(ValidationError):
        nack(message, now, delay)
    with pytest.raises(ValidationError):
        with_delay(message, now, delay)


@medium
@given(small_either_class, names, st.integers(min_value=0, max_value=50))
def test_claimed_and_unclaimed(message: Message, token: str, deliveries: int) -> None:
    held = claimed(message, token, deliveries)
    assert type(held) is type(message)
    assert (held.lock, held.deliveries) == (token, deliveries)
    assert changed_fields(message, held) <= {"lock", "deliveries"}
    free = unclaimed(held)
    assert type(free) is type(message)
    assert free.lock is None
    assert free == attrs.evolve(message, lock=None, deliveries=deliveries)
    assert unclaimed(free) is free


@medium
@given(small_either_class)
def test_crash_count(message: Message) -> None:
    assert crash_count(message) == max(message.deliveries - 1, 0)


@medium
@given(
    small_either_class, st.lists(st.tuples(st.sampled_from(["retry", "nack"]), nows), max_size=6)
)
def test_transitions_compose_and_keep_identity(message: Message, steps: list[Any]) -> None:
    current = message
    for kind, now in steps:
        current = retry(current, now) if kind == "retry" else nack(current, now, 5)
    assert type(current) is type(message)
    assert current.retries == message.retries + sum(kind == "retry" for kind, _ in steps)
    identity = ("uuid", "task_name", "queue", "args", "kwargs", "created_at", "priority")
    for name in identity:
        assert getattr(current, name) == getattr(message, name)
