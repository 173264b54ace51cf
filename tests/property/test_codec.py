"""Round trips and validation of the one converter."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.codec import message_from_data, message_to_data, structure, unstructure
from alsek.pure.message import FIELDS, Message
from alsek.pure.outcome import ErrorInfo
from alsek.pure.queue_model import IndexEntry
from tests.property.strategies import (
    error_infos,
    heavy,
    index_entries,
    light,
    medium,
    messages,
    small_messages,
)


@attrs.frozen(kw_only=True, repr=False)
class Tagged(Message):
    """A subclass, as the public Message is."""


@heavy
@given(messages())
def test_round_trips(message: Message) -> None:
    assert message_to_data(message) == message.data
    assert message_from_data(message.data) == message
    assert message_from_data(json.loads(json.dumps(message.data))) == message
    rebuilt = message_from_data(message.data, Tagged)
    assert type(rebuilt) is Tagged
    assert rebuilt.data == message.data


@medium
@given(small_messages(), st.dictionaries(st.sampled_from(["extra", "other"]), st.integers()))
def test_reading_is_tolerant(message: Message, extra: dict[str, int]) -> None:
    assert message_from_data({**message.data, **extra}) == message
    minimal = {name: message.data[name] for name in ("task_name", "uuid", "created_at")}
    rebuilt = message_from_data(minimal)
    assert rebuilt == Message(**minimal)
    assert rebuilt.queue == defaults.DEFAULT_QUEUE
    assert rebuilt.updated_at == message.created_at


@light
@given(index_entries)
def test_structure_unstructure_round_trip_index_entry(entry: IndexEntry) -> None:
    assert structure(unstructure(entry), IndexEntry) == entry


@light
@given(error_infos)
def test_structure_unstructure_round_trip_error_info(info: ErrorInfo) -> None:
    data = unstructure(info)
    assert structure(json.loads(json.dumps(data)), ErrorInfo) == info


# Each value must be rejected, and the error must name the field.
INVALID_DATA: list[tuple[str, Any]] = [
    ("task_name", 5),
    ("task_name", ""),
    ("task_name", "a:b"),
    ("queue", None),
    ("uuid", 3),
    ("retries", -1),
    ("retries", "3"),
    ("retries", 1.5),
    ("retries", None),
    ("timeout", None),
    ("delay", True),
    ("created_at", "yesterday"),
    ("created_at", 5.0),
    ("store_result", "no"),
    ("store_result", 1),
    ("result_ttl", "5"),
    ("mechanism", "fork"),
    ("mechanism", None),
    ("priority", defaults.MAX_PRIORITY + 1),
    ("priority", defaults.MIN_PRIORITY - 1),
    ("priority", 1.0),
    ("kwargs", [1]),
    ("kwargs", {1: 2}),
    ("args", "abc"),
    ("args", 5),
    ("progenitor", 5),
    ("lock", 1),
    ("backoff_settings", []),
    ("callback_message_data", "x"),
    ("deliveries", -2),
]


@pytest.mark.parametrize(("field", "value"), INVALID_DATA)
def test_invalid_field_raises_validation_error_naming_it(field: str, value: Any) -> None:
    data = Message(task_name="t", uuid="u", created_at=1).data
    data[field] = value
    with pytest.raises(ValidationError, match=field):
        message_from_data(data)


@medium
@given(small_messages(), st.sampled_from(["task_name", "uuid", "created_at"]))
def test_missing_required_field_is_named(message: Message, field: str) -> None:
    data = message.data
    del data[field]
    with pytest.raises(ValidationError, match=field):
        message_from_data(data)


@pytest.mark.parametrize("data", [None, [], "{}", 5, ("task_name", "t")])
def test_non_dict_is_rejected(data: Any) -> None:
    with pytest.raises(ValidationError, match="expected a dict"):
        message_from_data(data)


@medium
@given(small_messages())
def test_reading_data_back_does_not_share_nested_state(message: Message) -> None:
    data = json.loads(json.dumps(message.data))
    rebuilt = message_from_data(data)
    data["kwargs"]["injected"] = 1
    data["args"].append("injected")
    assert rebuilt == message
    assert tuple(rebuilt.data) == FIELDS
