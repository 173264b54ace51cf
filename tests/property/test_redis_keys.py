"""The Redis key layout: every key of a queue is in one cluster slot, names and keys
map both ways, scans find exactly the names their glob matches, and a value's wake-up
list shares its slot."""

from __future__ import annotations

import binascii
import fnmatch

from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from alsek.pure.keys import dead_letter_name, get_message_name, result_name
from alsek.pure.message import Message
from alsek.pure.redis_keys import (
    dead_letter_index_key,
    hash_tag,
    index_key,
    matches,
    queue_tag,
    signal_key,
    store_key,
    store_name,
    store_pattern,
    wake_key,
)
from tests.property.strategies import light, medium, names, small_messages

namespaces = st.sampled_from(["alsek", "app_staging", "ns1", "ü"])
#: Any name a caller may store (queue names may hold braces; namespaces may not).
stored_names = st.one_of(
    names,
    st.text(st.characters(exclude_categories=("Cs",), max_codepoint=0x2FF), max_size=12),
)


def slot(key: str) -> int:
    return int(key_slot(key.encode()))


@medium
@given(namespaces, small_messages(), st.sampled_from(["{", "}", "a}b", "{x}", ""]))
def test_every_key_of_a_queue_is_in_the_queue_s_slot(
    namespace: str, message: Message, brace: str
) -> None:
    queue = message.queue + brace
    tagged = Message(**{**message.data, "queue": queue})
    name = get_message_name(tagged)
    keys = [
        store_key(namespace, name),
        store_key(namespace, dead_letter_name(name)),
        *(index_key(namespace, queue, part) for part in ("entries", "ready:thread", "signal")),
        *(dead_letter_index_key(namespace, queue, part) for part in ("by_time", "by_uuid")),
    ]
    assert {slot(key) for key in keys} == {slot(queue_tag(namespace, queue))}


@medium
@given(namespaces, stored_names)
def test_a_key_maps_back_to_its_name(namespace: str, name: str) -> None:
    key = store_key(namespace, name)
    assert key.startswith(f"{namespace}:")
    assert store_name(namespace, key) == name
    assert store_name(namespace, key.encode()) == name


@medium
@given(namespaces, small_messages())
def test_a_message_s_key_is_its_old_key_with_the_queue_tagged(
    namespace: str, message: Message
) -> None:
    name = get_message_name(message)
    key = store_key(namespace, name)
    tag = queue_tag(namespace, message.queue)
    assert key == f"{namespace}:queues:{tag}:tasks:{message.task_name}:messages:{message.uuid}"
    assert store_key(namespace, result_name(message.uuid)) == f"{namespace}:results:{message.uuid}"


@light
@given(namespaces, st.lists(small_messages(), min_size=1, max_size=4), st.data())
def test_a_scan_finds_exactly_the_names_its_glob_matches(
    namespace: str, messages: list[Message], data: st.DataObject
) -> None:
    stored = [get_message_name(m) for m in messages] + ["results:x", "locks:l:0"]
    stored += [dead_letter_name(stored[0])]
    queue = messages[0].queue
    pattern = data.draw(
        st.sampled_from(
            [
                "*",
                "queues:*",
                f"queues:{queue}:*",
                f"queues:{queue[:1]}*",
                f"queues:*:tasks:*:messages:{messages[0].uuid}",
                "dlq:*",
                f"dlq:queues:{queue}:*",
                "results:*",
            ]
        ),
        label="pattern",
    )
    server, broader = store_pattern(namespace, pattern)
    found = {
        store_name(namespace, key)
        for key in (store_key(namespace, name) for name in stored)
        if fnmatch.fnmatchcase(key, server)
    }
    if broader:
        found = {name for name in found if matches(name, pattern)}
    assert found == {name for name in stored if fnmatch.fnmatchcase(name, pattern)}


@medium
@given(namespaces, stored_names)
def test_a_value_s_wake_up_list_shares_its_slot(namespace: str, name: str) -> None:
    key, signal = store_key(namespace, name), signal_key(namespace, name)
    assert signal != key and signal.startswith(f"{namespace}:signal:")
    if "}" not in key or hash_tag(key) != key:  # (an untagged key with a brace cannot)
        assert slot(signal) == slot(key)


@light
@given(st.text(max_size=12))
def test_the_hash_tag_is_what_redis_hashes(key: str) -> None:
    assert slot(key) == binascii.crc_hqx(hash_tag(key).encode(), 0) % 16384


def test_wake_lists_are_named_after_their_key() -> None:
    assert wake_key("alsek", "w1") == "alsek:wake:w1"
