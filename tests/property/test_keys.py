"""Storage names: layout, round trips and rejection of key syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.keys import (
    dead_letter_name,
    descendant_marker_name,
    descendants_pattern,
    get_message_name,
    get_subnamespace,
    lock_slot_name,
    parse_message_name,
    result_name,
    uuid_from_descendant_marker,
)
from alsek.pure.message import Message
from tests.property.strategies import FORBIDDEN, light, medium, names, small_messages


@medium
@given(small_messages())
def test_message_name_layout_and_round_trip(message: Message) -> None:
    name = get_message_name(message)
    assert name == f"queues:{message.queue}:tasks:{message.task_name}:messages:{message.uuid}"
    assert parse_message_name(name) == (message.queue, message.task_name, message.uuid)
    assert name.startswith(get_subnamespace(message.queue, message.task_name) + ":")
    assert name.startswith(get_subnamespace(message.queue) + ":")
    assert name.startswith(get_subnamespace() + ":")


@medium
@given(small_messages(), small_messages())
def test_distinct_identities_get_distinct_names(a: Message, b: Message) -> None:
    same = (a.queue, a.task_name, a.uuid) == (b.queue, b.task_name, b.uuid)
    assert (get_message_name(a) == get_message_name(b)) == same


@medium
@given(small_messages())
def test_dead_letter_and_result_names(message: Message) -> None:
    name = get_message_name(message)
    assert dead_letter_name(name) == f"dlq:{name}"
    assert result_name(message.uuid) == f"results:{message.uuid}"


@light
@given(names, names)
def test_descendant_markers_round_trip(progenitor: str, uuid: str) -> None:
    marker = descendant_marker_name(progenitor, uuid)
    assert uuid_from_descendant_marker(marker) == uuid
    assert marker.startswith(descendants_pattern(progenitor)[:-1])


@light
@given(names, st.integers(min_value=0, max_value=100))
def test_lock_slot_names(name: str, slot: int) -> None:
    assert lock_slot_name(name, slot) == f"locks:{name}:{slot}"


def test_task_without_queue_is_rejected() -> None:
    with pytest.raises(ValidationError, match="queue"):
        get_subnamespace(None, "task")


@light
@given(names, st.sampled_from(FORBIDDEN))
def test_subnamespace_rejects_key_syntax(name: str, bad: str) -> None:
    with pytest.raises(ValidationError, match="queue"):
        get_subnamespace(name + bad)
    with pytest.raises(ValidationError, match="task_name"):
        get_subnamespace("q", bad + name)


@pytest.mark.parametrize(
    "name",
    ["queues:q:tasks:t", "queue:q:tasks:t:messages:u", "queues:q:task:t:messages:u", "x", ""],
)
def test_parse_rejects_non_message_names(name: str) -> None:
    with pytest.raises(ValidationError):
        parse_message_name(name)
