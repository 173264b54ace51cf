"""Scan patterns are explicit globs that match exactly the names they are for."""

from __future__ import annotations

import fnmatch

from hypothesis import given

from alsek.pure.keys import (
    dead_letter_name,
    dead_letters_pattern,
    get_message_name,
    subnamespace_pattern,
)
from alsek.pure.message import Message
from tests.property.strategies import light, medium, names, small_messages


@medium
@given(small_messages(), small_messages())
def test_a_queue_pattern_matches_exactly_that_queue_s_messages(a: Message, b: Message) -> None:
    name = get_message_name(b)
    assert fnmatch.fnmatchcase(name, subnamespace_pattern(a.queue)) == (a.queue == b.queue)
    same_task = (a.queue, a.task_name) == (b.queue, b.task_name)
    assert fnmatch.fnmatchcase(name, subnamespace_pattern(a.queue, a.task_name)) == same_task
    assert fnmatch.fnmatchcase(name, subnamespace_pattern())
    assert not fnmatch.fnmatchcase(dead_letter_name(name), subnamespace_pattern())


@medium
@given(small_messages(), small_messages())
def test_a_dead_letter_pattern_matches_exactly_that_queue_s_dead_letters(
    a: Message, b: Message
) -> None:
    dead = dead_letter_name(get_message_name(b))
    assert fnmatch.fnmatchcase(dead, dead_letters_pattern(a.queue)) == (a.queue == b.queue)
    assert fnmatch.fnmatchcase(dead, dead_letters_pattern())
    assert not fnmatch.fnmatchcase(get_message_name(b), dead_letters_pattern())


@light
@given(names)
def test_patterns_end_with_an_explicit_wildcard(queue: str) -> None:
    for pattern in (subnamespace_pattern(queue), dead_letters_pattern(queue)):
        assert pattern.endswith(":*")
        assert pattern.count("*") == 1 and "?" not in pattern and "[" not in pattern
