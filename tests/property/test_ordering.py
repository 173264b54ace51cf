"""Which message runs first: priority key, queue order, ready members."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.keys import get_message_name
from alsek.pure.message import Message
from alsek.pure.ordering import (
    member_name,
    parse_queues,
    priority_key,
    queue_order,
    ready_member,
)
from tests.property.strategies import FORBIDDEN, heavy, light, medium, message_lists, names

MEMBER_MAX = 10**15 - 1


@heavy
@given(message_lists(max_size=8), st.randoms(use_true_random=False))
def test_sorting_is_deterministic(messages: list[Message], rng: random.Random) -> None:
    shuffled = list(messages)
    rng.shuffle(shuffled)
    assert sorted(shuffled, key=priority_key) == sorted(messages, key=priority_key)


@heavy
@given(message_lists(min_size=2, max_size=2))
def test_priority_key_is_antisymmetric_and_total(pair: list[Message]) -> None:
    a, b = pair
    ka, kb = priority_key(a), priority_key(b)
    assert ka != kb  # distinct messages never tie: the name settles it
    assert (ka < kb) != (kb < ka)


@heavy
@given(message_lists(min_size=2, max_size=2))
def test_lower_priority_int_first_regardless_of_time(pair: list[Message]) -> None:
    a, b = pair
    if a.priority != b.priority:
        first = min(pair, key=priority_key)
        assert first.priority == min(a.priority, b.priority)
    else:
        assert (priority_key(a) < priority_key(b)) == (
            (a.ready_at, a.created_at, get_message_name(a))
            < (b.ready_at, b.created_at, get_message_name(b))
        )


@heavy
@given(message_lists(max_size=1))
def test_priority_key_fields(single: list[Message]) -> None:
    (message,) = single
    assert priority_key(message) == (
        message.priority,
        message.updated_at + message.delay,
        message.created_at,
        message.uuid,
        get_message_name(message),
    )


@medium
@given(st.lists(names, max_size=8), st.lists(names, max_size=8))
def test_queue_order_keeps_given_order_and_dedups(subset: list[str], known: list[str]) -> None:
    ordered = queue_order(subset, known)
    assert len(set(ordered)) == len(ordered)
    assert set(ordered) == set(subset)
    assert list(ordered) == sorted(set(subset), key=subset.index)


@medium
@given(st.lists(names, max_size=8))
def test_queue_order_without_subset_is_alphabetical(known: list[str]) -> None:
    assert queue_order(None, known) == tuple(sorted(set(known)))
    assert queue_order(None, iter(known)) == tuple(sorted(set(known)))


@light
@given(names, st.sampled_from(FORBIDDEN))
def test_queue_order_rejects_bad_names(name: str, bad: str) -> None:
    with pytest.raises(ValidationError):
        queue_order([name + bad], ())


def test_parse_queues_examples() -> None:
    assert parse_queues("b,a,b") == ("b", "a")
    assert parse_queues(" x , y,,x ") == ("x", "y")
    assert parse_queues(None) is None
    for empty in ("", " , ,", ","):
        with pytest.raises(ValidationError):
            parse_queues(empty)


@light
@given(st.lists(names.filter(lambda n: "," not in n and n.strip() == n), min_size=1, max_size=6))
def test_parse_queues_round_trip(queues: list[str]) -> None:
    assert parse_queues(",".join(queues)) == queue_order(queues, ())


members = st.tuples(
    st.integers(min_value=0, max_value=MEMBER_MAX),
    st.integers(min_value=0, max_value=MEMBER_MAX),
    names,
)
close_members = st.tuples(
    st.integers(0, 12), st.integers(0, 12), st.sampled_from(["a", "b", "ab", "b0"])
)


@light
@given(st.one_of(members, close_members), st.one_of(members, close_members))
def test_ready_member_order_matches_tuple_order(
    a: tuple[int, int, str], b: tuple[int, int, str]
) -> None:
    ma, mb = ready_member(*a), ready_member(*b)
    assert (ma < mb) == (a < b)
    assert (ma == mb) == (a == b)
    # Redis compares members as bytes: UTF-8 keeps code-point order.
    assert (ma.encode() < mb.encode()) == (a < b)


@light
@given(members)
def test_member_name_recovers_the_name(member: tuple[int, int, str]) -> None:
    assert member_name(ready_member(*member)) == member[2]


@medium
@given(st.lists(members, max_size=10))
def test_sorting_members_sorts_tuples(tuples: list[tuple[int, int, str]]) -> None:
    by_member = sorted(tuples, key=lambda t: ready_member(*t))
    assert by_member == sorted(tuples)
