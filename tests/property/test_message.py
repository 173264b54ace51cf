"""Properties of the Message record: data, summary, repr, validation."""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.message import FIELDS, Message, check_name, format_timestamp
from tests.property.strategies import (
    FORBIDDEN,
    heavy,
    light,
    medium,
    messages,
    names,
    small_messages,
)

TOUR_CREATED_AT = 1617861556424


def make(**overrides: Any) -> Message:
    """A minimal valid message with ``overrides`` applied."""
    fields: dict[str, Any] = {"task_name": "task", "uuid": "id-1", "created_at": 0}
    fields.update(overrides)
    return Message(**fields)


@heavy
@given(messages())
def test_data_is_every_field_in_order(message: Message) -> None:
    assert tuple(message.data) == FIELDS
    assert set(FIELDS) == {field.name for field in attrs.fields(Message)}
    for name, value in message.data.items():
        assert value == getattr(message, name)


@heavy
@given(messages())
def test_summary_and_repr(message: Message) -> None:
    assert message.summary == (
        f"Message(uuid={message.uuid!r}, queue={message.queue!r}, task={message.task_name!r})"
    )
    text = repr(message)
    assert text.startswith("Message(\n") and text.endswith("\n)")
    shown = [line.strip().split("=", 1)[0] for line in text.splitlines()[1:-1]]
    assert shown == list(FIELDS)
    for name in ("created_at", "updated_at"):
        expected = f"{name}={format_timestamp(getattr(message, name))!r}"
        assert expected in text
    for name in ("uuid", "kwargs", "args", "callback_message_data", "priority"):
        assert f"{name}={getattr(message, name)!r}" in text


def test_repr_timestamp_matches_the_tour() -> None:
    message = make(created_at=TOUR_CREATED_AT)
    assert format_timestamp(TOUR_CREATED_AT) == "2021-04-08 05:59:16.424000"
    assert "    created_at='2021-04-08 05:59:16.424000',\n" in repr(message)
    assert "    updated_at='2021-04-08 05:59:16.424000',\n" in repr(message)
    assert repr(message).endswith("    deliveries=0\n)")


@light
@given(st.integers(min_value=0, max_value=10**13))
def test_format_timestamp_shape_and_millisecond_precision(ms: int) -> None:
    text = format_timestamp(ms)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}000", text)
    assert int(text[-6:-3]) == ms % 1000


@light
@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=0, max_value=10**9))
def test_ready_at_and_updated_at_default(created_at: int, delay: int) -> None:
    message = make(created_at=created_at, delay=delay)
    assert message.updated_at == created_at
    assert message.ready_at == created_at + delay


@light
@given(names, st.sampled_from(FORBIDDEN), st.sampled_from(["task_name", "queue", "uuid"]))
def test_names_with_key_syntax_are_rejected(name: str, bad: str, field: str) -> None:
    poisoned = name[: len(name) // 2] + bad + name[len(name) // 2 :]
    with pytest.raises(ValidationError, match=field):
        make(**{field: poisoned})
    with pytest.raises(ValidationError):
        check_name("queue", poisoned)


@light
@given(names)
def test_valid_names_pass_check_name(name: str) -> None:
    assert check_name("queue", name) == name


INVALID_FIELDS: list[tuple[str, Any]] = [
    ("task_name", ""),
    ("task_name", 5),
    ("queue", None),
    ("retries", -1),
    ("retries", True),
    ("retries", 1.5),
    ("timeout", 0),
    ("created_at", -1),
    ("updated_at", -5),
    ("delay", -1),
    ("result_ttl", 0),
    ("priority", defaults.MAX_PRIORITY + 1),
    ("priority", defaults.MIN_PRIORITY - 1),
    ("mechanism", "fork"),
    ("kwargs", [1, 2]),
    ("kwargs", {1: "x"}),
    ("args", "abc"),
    ("args", 5),
    ("progenitor", 7),
    ("lock", 7),
    ("callback_message_data", "x"),
    ("backoff_settings", [1]),
    ("deliveries", -1),
]


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS)
def test_constructor_rejects_invalid_fields(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        make(**{field: value})


@medium
@given(small_messages())
def test_records_are_frozen(message: Message) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.retries = 99  # type: ignore[misc]
