"""Callback chains: the tuple form and the nested form are the same chain."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.callbacks import attach, flatten, has_callback, nest, next_callback
from alsek.pure.codec import message_from_data
from alsek.pure.message import Message
from tests.property.strategies import (
    MAX_TIME,
    heavy,
    json_scalars,
    json_values,
    medium,
    message_lists,
    names,
    plain,
    small_messages,
)


@attrs.frozen(kw_only=True, repr=False)
class PublicMessage(Message):
    """A frozen subclass, as the shell's public Message is."""


EXTRA = small_messages(uuid=st.just("extra"))


def nested_by_hand(messages: list[Message]) -> Message:
    """The nested form a user writes: ``a.generate(callback=b.generate(callback=c))``."""
    chain = messages[-1]
    for message in reversed(messages[:-1]):
        chain = attrs.evolve(message, callback_message_data=chain.data)
    return chain


def nested_dicts(messages: list[Message]) -> dict[str, Any]:
    """The expected persisted form of the chain, built from plain dicts only."""
    data = plain(messages[-1].data)
    for message in reversed(messages[:-1]):
        data = {**plain(message.data), "callback_message_data": data}
    return data


@heavy
@given(message_lists())
def test_tuple_form_equals_nested_form(messages: list[Message]) -> None:
    chained = nest(messages)
    by_hand = nested_by_hand(messages)
    assert chained == by_hand
    assert chained.callback_message_data == by_hand.callback_message_data
    assert plain(chained.data) == nested_dicts(messages)


@heavy
@given(small_messages(), message_lists())
def test_attach_tuple_equals_attach_nested(root: Message, messages: list[Message]) -> None:
    as_tuple = attach(root, tuple(messages))
    as_list = attach(root, list(messages))
    as_nested = attach(root, nested_by_hand(messages))
    assert as_tuple == as_list == as_nested
    assert as_tuple.callback_message_data == nested_dicts(messages)


@heavy
@given(message_lists())
def test_flatten_undoes_nest(messages: list[Message]) -> None:
    assert flatten(nest(messages)) == tuple(messages)


@heavy
@given(message_lists())
def test_chain_survives_json(messages: list[Message]) -> None:
    chained = nest(messages)
    stored = message_from_data(json.loads(json.dumps(chained.data)))
    assert stored == chained
    assert flatten(stored) == tuple(messages)


@heavy
@given(message_lists())
def test_flatten_keeps_the_subclass(messages: list[Message]) -> None:
    public = [PublicMessage(**m.data) for m in messages]
    chain = flatten(nest(public))
    assert all(type(link) is PublicMessage for link in chain)
    assert [link.data for link in chain] == [m.data for m in messages]


@medium
@given(small_messages(), small_messages())
def test_single_message_equals_one_tuple(root: Message, callback: Message) -> None:
    assert attach(root, callback) == attach(root, (callback,))
    assert nest([callback]) == callback
    assert attach(root, None) == root


@heavy
@given(message_lists(min_size=2), st.data())
def test_only_the_last_message_may_carry_callbacks(
    messages: list[Message], data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(messages) - 2), label="position")
    extra = data.draw(EXTRA, label="extra")
    poisoned = list(messages)
    poisoned[position] = attach(messages[position], extra)
    with pytest.raises(ValidationError, match=f"callback {position}"):
        nest(poisoned)
    # The last one may: its chain continues at the end.
    extended = [*messages[:-1], attach(messages[-1], extra)]
    assert flatten(nest(extended)) == (*messages, extra)


def test_empty_or_wrong_callbacks_are_rejected() -> None:
    root = Message(task_name="t", uuid="u", created_at=0)
    with pytest.raises(ValidationError):
        nest([])
    with pytest.raises(ValidationError):
        attach(root, ())
    with pytest.raises(ValidationError):
        attach(root, (root, "not a message"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        attach(root, "not a message")  # type: ignore[arg-type]


@heavy
@given(message_lists(min_size=2), json_values, st.integers(0, MAX_TIME))
def test_next_callback_prepares_the_follower(
    messages: list[Message], result: Any, now: int
) -> None:
    done = nest(messages)
    follower = next_callback(done, result, now)
    assert follower is not None
    assert follower.previous_result == result
    assert follower.progenitor == done.uuid
    assert follower.updated_at == now
    assert follower.lock is None and follower.deliveries == 0
    assert follower.ready_at == now + messages[1].delay
    expected = nest(messages[1:])
    for name in ("uuid", "task_name", "queue", "args", "kwargs", "priority", "retries"):
        assert getattr(follower, name) == getattr(expected, name)
    assert follower.callback_message_data == expected.callback_message_data


@heavy
@given(message_lists(min_size=3), st.lists(json_scalars, min_size=3, max_size=3))
def test_progenitor_is_the_previous_message_not_the_root(
    messages: list[Message], results: list[Any]
) -> None:
    current: Message | None = nest(messages)
    parents = []
    for index, result in enumerate(results):
        assert current is not None
        parents.append(current.uuid)
        current = next_callback(current, result, index)
        if current is not None:
            assert current.progenitor == parents[-1]
            assert current.previous_result == result
    assert parents == [m.uuid for m in messages[:3]]


@medium
@given(small_messages(), json_scalars, st.integers(0, MAX_TIME), names)
def test_no_callback_gives_none(message: Message, result: Any, now: int, lock: str) -> None:
    assert next_callback(message, result, now) is None
    assert not has_callback(message)
    assert has_callback(attach(message, attrs.evolve(message, lock=lock)))


@medium
@given(small_messages(), st.lists(small_messages(), max_size=3))
def test_nest_undoes_flatten(root: Message, callbacks: list[Message]) -> None:
    message = attach(root, tuple(callbacks)) if callbacks else root
    links = flatten(message)
    assert len(links) == 1 + len(callbacks)
    assert all(not has_callback(link) for link in links)
    assert nest(links) == message
