"""Dead-letter records: written and read back unchanged; anything else stored is read as an
unreadable record naming its problem, never an exception; filters and ``--since``; the TTL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure import codec
from alsek.pure.dead_letter import (
    DeadLetterRecord,
    cannot_resubmit,
    dead_letter_ttl,
    read_record,
    record_for,
    resubmission,
    unreadable,
    uuid_of,
)
from alsek.pure.dead_letter_filter import DeadLetterFilter, duration_ms, iso_ms, parse_since
from alsek.pure.display import timestamp
from alsek.pure.keys import dead_letter_message_name, dead_letter_name, get_message_name
from alsek.pure.message import Message
from tests.property.strategies import (
    MAX_TIME,
    json_values,
    light,
    names,
    plain,
    small_messages,
    times,
)

texts = st.text(max_size=30)
optional_texts = st.none() | texts
attempts = st.none() | st.integers(min_value=1, max_value=100)


@st.composite
def written(draw: st.DrawFn) -> tuple[str, DeadLetterRecord]:
    """A record as the broker writes it, with the name it is stored under."""
    message = draw(st.none() | small_messages())
    name = get_message_name(message) if message else f"queues:q:tasks:t:messages:{draw(names)}"
    raw = draw(optional_texts) if message is None else None
    record = record_for(
        name, message, draw(texts), draw(times), raw, draw(optional_texts), draw(attempts)
    )
    return name, record


def stored(record: DeadLetterRecord) -> Any:
    """What a JSON backend gives back for ``record``."""
    return json.loads(json.dumps(plain(codec.unstructure(record))))


@given(written())
def test_a_written_record_reads_back_unchanged(pair: tuple[str, DeadLetterRecord]) -> None:
    name, record = pair
    back = read_record(name, stored(record))
    assert back == attrs.evolve(record, message=plain(record.message)) and back.readable
    assert back.key == dead_letter_name(name) and dead_letter_message_name(back.key) == name
    assert back.uuid == uuid_of(name)
    if record.message is not None:
        message = codec.message_from_data(record.message)
        assert (back.queue, back.task_name, back.uuid) == (
            message.queue,
            message.task_name,
            message.uuid,
        )


anything = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(
            ["name", "reason", "failed_at", "message", "raw", "traceback", "attempts", "problem"]
        ),
        json_values,
    ),
)


@given(names, anything, st.none() | times)
def test_reading_anything_never_raises(uuid: str, value: Any, hint: int | None) -> None:
    name = f"queues:q:tasks:t:messages:{uuid}"
    record = read_record(name, value, hint)
    assert record.name == name and record.key == dead_letter_name(name)
    if not record.readable:
        assert record.problem and record.message is None and record.reason == "unreadable"
        assert record.raw is not None and len(record.raw) <= 4096
        if hint is not None and not (isinstance(value, dict) and "failed_at" in value):
            assert record.failed_at == hint


@light
@given(written(), st.sampled_from(["name", "reason", "failed_at"]))
def test_a_record_missing_a_field_is_unreadable(
    pair: tuple[str, DeadLetterRecord], field: str
) -> None:
    name, record = pair
    value = stored(record)
    del value[field]
    back = read_record(name, value, 9)
    assert not back.readable and field in (back.problem or "")


@light
@given(written(), names)
def test_a_record_stored_under_another_key_is_unreadable(
    pair: tuple[str, DeadLetterRecord], other: str
) -> None:
    name, record = pair
    elsewhere = f"queues:q:tasks:t:messages:{other}"
    assume(elsewhere != name)
    back = read_record(elsewhere, stored(record))
    assert not back.readable and repr(dead_letter_name(elsewhere)) in (back.problem or "")
    assert back.uuid == other  # acted on where it was found


@light
@given(small_messages(), names)
def test_a_record_holding_another_message_is_unreadable(message: Message, other: str) -> None:
    assume(other != message.uuid)
    name = get_message_name(message)
    value = stored(record_for(name, message, "r", 1))
    value["message"]["uuid"] = other
    back = read_record(name, value)
    assert not back.readable and f"holds message {other!r}" in (back.problem or "")


@light
@given(written())
def test_a_stored_problem_field_means_nothing(pair: tuple[str, DeadLetterRecord]) -> None:
    name, record = pair
    assert read_record(name, {**stored(record), "problem": "made up"}) == read_record(
        name, stored(record)
    )


@given(small_messages(), times)
def test_a_resubmission_starts_afresh_and_is_ready_at_once(message: Message, now: int) -> None:
    again = resubmission(message, now)
    assert (again.retries, again.deliveries, again.lock, again.delay) == (0, 0, None, 0)
    assert again.updated_at == now and again.uuid == message.uuid
    assert (
        attrs.evolve(
            again,
            retries=message.retries,
            deliveries=message.deliveries,
            lock=message.lock,
            updated_at=message.updated_at,
            delay=message.delay,
        )
        == message
    )


@given(written(), st.none() | texts)
def test_only_a_readable_record_with_a_message_can_be_resubmitted(
    pair: tuple[str, DeadLetterRecord], problem: str | None
) -> None:
    _, record = pair
    record = attrs.evolve(record, problem=problem)
    why = cannot_resubmit(record)
    if problem is not None:
        assert why is not None and "it can only be removed" in why and problem in why
    elif record.message is None:
        assert why == "it holds an undecodable payload; it cannot run"
    else:
        assert why is None


def test_unreadable_records_keep_little_of_what_was_stored() -> None:
    record = unreadable("queues:q:tasks:t:messages:u", "bad", "x" * 10_000)
    assert record.raw == "x" * 4096 and record.failed_at == 0 and not record.readable


# -- the TTL -------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=defaults.MAX_DURATION_MS))
def test_a_ttl_in_range_is_kept(ttl: int) -> None:
    assert dead_letter_ttl(ttl) == ttl


@given(
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=defaults.MAX_DURATION_MS + 1),
        st.floats(),
        st.text(),
        st.booleans(),
    )
)
def test_any_other_ttl_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ValidationError, match="dlq_ttl"):
        dead_letter_ttl(bad)


def test_no_ttl_means_no_dead_letters_and_the_default_is_a_week() -> None:
    assert dead_letter_ttl(None) is None
    assert defaults.DEFAULT_DLQ_TTL_MS == 7 * 24 * 3600 * 1000


# -- filters ---------------------------------------------------------------------------------

queues = st.sampled_from(["q", "q1", "q10"])
tasks = st.sampled_from(["t", "t1"])


@given(queues, tasks, names, times, st.none() | queues, st.none() | tasks, st.none() | times)
def test_a_filter_admits_exactly_what_matches(
    queue: str,
    task: str,
    uuid: str,
    at: int,
    want_queue: str | None,
    want_task: str | None,
    since: int | None,
) -> None:
    name = f"queues:{queue}:tasks:{task}:messages:{uuid}"
    record = DeadLetterRecord(name, "r", at)
    where = DeadLetterFilter(want_queue, want_task, since)
    expected = (
        (want_queue is None or want_queue == queue)
        and (want_task is None or want_task == task)
        and (since is None or at >= since)
    )
    assert where.admits(record) == expected
    assert where.admits_name(name) == (
        (want_queue in (None, queue)) and (want_task in (None, task))
    )
    assert DeadLetterFilter().everything and DeadLetterFilter().admits(record)


@given(texts, st.none() | queues, st.none() | tasks)
def test_a_name_that_is_no_message_name_matches_only_no_filter(
    name: str, queue: str | None, task: str | None
) -> None:
    assume(name.count(":") != 5)
    assert DeadLetterFilter(queue, task).admits_name(name) == (queue is None and task is None)


# -- --since ---------------------------------------------------------------------------------

units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.sampled_from(sorted(units))), min_size=1, max_size=3
    ),
    st.integers(min_value=10**12, max_value=MAX_TIME),
)
def test_a_duration_counts_back_from_now(parts: list[tuple[int, str]], now: int) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    back = sum(n * units[unit] for n, unit in parts)
    assert duration_ms(text) == back
    assert parse_since(text, now) == now - back


@given(st.integers(min_value=0, max_value=MAX_TIME), times)
def test_an_iso_time_is_taken_as_given(at: int, now: int) -> None:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=at)
    assert iso_ms(moment.isoformat()) == at
    assert parse_since(moment.isoformat(), now) == at
    naive = timestamp(at).replace(" ", "T").removesuffix("Z")  # no offset: UTC
    assert parse_since(naive, now) == at
    assert parse_since(naive + "Z", now) == at


@given(st.text(alphabet="xyz!? ", max_size=8), times)
def test_anything_else_is_refused_with_the_accepted_forms(text: str, now: int) -> None:
    with pytest.raises(ValidationError, match="expected a duration such as 10m"):
        parse_since(text, now)
