"""The compact stored form of a message: lossless, small, and strict about what it reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.backoff import ExponentialBackoff
from alsek.pure.codec import message_from_data
from alsek.pure.keys import get_message_name
from alsek.pure.message import FIELDS, Message
from alsek.pure.payload import (
    compact_payload,
    expand_payload,
    is_compact,
    is_complete,
    is_full,
)
from tests.property.strategies import heavy, light, messages, plain, small_messages

IMPLIED = ("created_at", "priority", "mechanism")


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@heavy
@given(messages())
def test_the_compact_form_reads_back_as_the_message(message: Message) -> None:
    name = get_message_name(message)
    compact = compact_payload(message.data)
    assert is_compact(compact) and not is_full(compact)
    assert expand_payload(through_json(compact), name) == plain(message.data)
    assert message_from_data(expand_payload(through_json(compact), name)) == message


@heavy
@given(messages())
def test_fields_kept_elsewhere_are_left_out_and_given_back(message: Message) -> None:
    name = get_message_name(message)
    compact = compact_payload(message.data, IMPLIED)
    assert not {"c", "p", "m"} & compact.keys()
    implied = {field: message.data[field] for field in IMPLIED}
    assert message_from_data(expand_payload(through_json(compact), name, implied)) == message


@light
@given(small_messages())
def test_only_what_differs_from_a_default_is_kept(message: Message) -> None:
    compact = compact_payload(message.data)
    for short, value in compact.items():
        assert value is not None or short in ("b", "cbx")
    assert len(json.dumps(compact)) < len(json.dumps(message.data))


def test_a_task_s_no_op_message_keeps_its_creation_time_only() -> None:
    message = Message(
        task_name="noop",
        queue="peers",
        uuid="u",
        created_at=1_700_000_000_000,
        mechanism="thread",
        backoff_settings=ExponentialBackoff().settings,
    )
    assert compact_payload(message.data) == {"c": 1_700_000_000_000, "m": "thread"}
    assert compact_payload(message.data, IMPLIED) == {}
    # No backoff is not the default one: it is spelled out.
    assert compact_payload(Message(task_name="t", uuid="u", created_at=1).data) == {
        "c": 1,
        "b": None,
    }


def test_values_equal_to_a_default_but_of_another_type_are_kept() -> None:
    data = Message(task_name="t", uuid="u", created_at=5, metadata=0).data
    data["backoff_settings"] = {
        "algorithm": "ExponentialBackoff",
        "parameters": {"base": 4, "factor": 10_000, "floor": 60_000, "ceiling": 3_600_000,
                       "zero_override": 1},
    }
    compact = compact_payload(data)
    assert compact["md"] == 0 and compact["b"] == data["backoff_settings"]
    assert expand_payload(compact, "queues:alsek_queue:tasks:t:messages:u") == plain(data)


def test_a_callback_that_is_not_a_message_s_data_is_kept_as_it_is() -> None:
    data = Message(task_name="t", uuid="u", created_at=5).data
    data["callback_message_data"] = {"not": "a message"}
    compact = compact_payload(data)
    assert compact["cbx"] == {"not": "a message"}
    expanded = expand_payload(through_json(compact), "queues:alsek_queue:tasks:t:messages:u")
    assert expanded["callback_message_data"] == {"not": "a message"}


@pytest.mark.parametrize(
    ("compact", "error"),
    [
        ({"c": 1, "zz": 2}, r"unknown field\(s\) \['zz'\]"),
        ({"a": []}, "no creation time"),
        ([1, 2], "expected a dict, got list"),
        ({"c": 1, "cb": {"c": 2}}, "invalid stored callback"),
    ],
)
def test_what_is_not_a_compact_message_is_refused_naming_where(compact: Any, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        expand_payload(compact, "queues:q:tasks:t:messages:u")


def test_only_a_message_s_whole_data_is_compacted() -> None:
    data = Message(task_name="t", uuid="u", created_at=5).data
    assert is_complete(data)
    assert not is_complete({**data, "extra": 1})
    partial = {key: data[key] for key in FIELDS[:5]}
    assert not is_complete(partial)
    with pytest.raises(ValidationError, match="missing"):
        compact_payload(partial)


@light
@given(st.dictionaries(st.sampled_from(["task_name", "x", "c"]), st.integers(), min_size=1))
def test_the_full_form_and_the_compact_one_never_look_alike(data: dict[str, int]) -> None:
    assert not (is_full(data) and is_compact(data))
