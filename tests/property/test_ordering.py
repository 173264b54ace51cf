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
    ms_from_sortable,
    parse_queues,
    priority_key,
    queue_order,
    ready_member,
    sortable_ms,
)
from tests.property.strategies import FORBIDDEN, heavy, light, medium, message_lists, names

MEMBER_MAX = 64**8 - 1


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


MemberKey = tuple[int, int, str, str]  # ready, created, uuid, message name (one queue)


def _key(ready: int, created: int, uuid: str, task: str) -> MemberKey:
    return (ready, created, uuid, f"queues:q:tasks:{task}:messages:{uuid}")


members = st.builds(
    _key,
    st.integers(min_value=0, max_value=MEMBER_MAX),
    st.integers(min_value=0, max_value=MEMBER_MAX),
    names,
    names,
)
# Close calls: equal times, uuids that start one another, low characters, tasks that
# differ after a shared start.
close_members = st.builds(
    _key,
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from(["a", "b", "ab", "b0", "a\x00", "a\x01", "a\x01b", "a\x00\x02", "a!"]),
    st.sampled_from(["t", "t!", "t0", "t\x00", "u"]),
)


def member_of(key: MemberKey) -> str:
    return ready_member(key[0], key[1], key[3])


@light
@given(st.one_of(members, close_members), st.one_of(members, close_members))
def test_ready_member_order_matches_tuple_order(a: MemberKey, b: MemberKey) -> None:
    ma, mb = member_of(a), member_of(b)
    assert (ma < mb) == (a < b)
    assert (ma == mb) == (a == b)
    # Redis compares members as bytes: UTF-8 keeps code-point order.
    assert (ma.encode() < mb.encode()) == (a < b)


@light
@given(st.one_of(members, close_members))
def test_member_name_recovers_the_name(key: MemberKey) -> None:
    assert member_name(member_of(key), "q") == key[3]


@medium
@given(st.lists(st.one_of(members, close_members), max_size=10))
def test_sorting_members_sorts_tuples(keys: list[MemberKey]) -> None:
    assert sorted(keys, key=member_of) == sorted(keys)


@light
@given(st.integers(min_value=0, max_value=64**8 - 1), st.integers(min_value=0, max_value=64**8 - 1))
def test_sortable_times_keep_number_order_and_read_back(a: int, b: int) -> None:
    assert len(sortable_ms(a)) == 8
    assert (sortable_ms(a) < sortable_ms(b)) == (a < b)
    assert ms_from_sortable(sortable_ms(a)) == a


def test_sortable_times_refuse_what_does_not_fit() -> None:
    for bad in (-1, 64**8):
        with pytest.raises(ValidationError):
            sortable_ms(bad)


def test_a_member_sorts_after_one_stored_before_its_layout() -> None:
    # Members written before this layout ("%015d|%015d|uuid|name") stay in the same
    # sets; at one priority they run first, as the messages queued before do.
    now = 1_796_000_000_000
    old = f"{now:015d}|{now:015d}|u|queues:q:tasks:t:messages:u"
    assert old < ready_member(now - 10**9, now - 10**9, "queues:q:tasks:t:messages:u")
