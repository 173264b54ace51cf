"""The shared "int within [lo, hi]" checks, and the bounds they put on messages."""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.backoff import ExponentialBackoff
from alsek.pure.message import Message
from alsek.pure.ordering import ms_from_sortable, ready_member
from alsek.pure.transitions import retry
from alsek.pure.validate import (
    check_duration,
    check_int,
    check_optional_int,
    check_priority,
    describe_range,
    is_int_within,
)
from tests.property.strategies import messages

big = st.integers(min_value=-(2**80), max_value=2**80)
bounds = st.tuples(big, st.none() | big).map(lambda b: (b[0], None if b[1] is None else max(b)))
not_ints = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@given(big, bounds)
def test_an_int_passes_exactly_when_within_the_bounds(value: int, limits: Any) -> None:
    lo, hi = limits
    within = lo <= value and (hi is None or value <= hi)
    assert is_int_within(value, lo, hi) is within
    if within:
        assert check_int("f", value, lo, hi) == value
    else:
        with pytest.raises(ValidationError):
            check_int("f", value, lo, hi)


@given(not_ints, bounds)
def test_anything_but_an_int_is_refused(value: Any, limits: Any) -> None:
    lo, hi = limits
    assert not is_int_within(value, lo, hi)
    with pytest.raises(ValidationError):
        check_int("f", value, lo, hi)


@given(st.from_regex(r"[a-z_.]{1,12}", fullmatch=True), big, bounds, st.text(max_size=8))
def test_the_error_names_the_field_the_limits_and_the_value(
    field: str, value: int, limits: Any, unit: str
) -> None:
    lo, hi = limits
    if is_int_within(value, lo, hi):
        value = lo - 1
    with pytest.raises(ValidationError) as caught:
        check_int(field, value, lo, hi, unit)
    text = str(caught.value)
    assert text.startswith(f"{field} must be an int >= {lo}")
    assert text.endswith(f", got {value!r}")
    assert describe_range(lo, hi, unit) in text
    if hi is not None:
        assert f"<= {hi}" in text


@given(bounds)
def test_none_is_allowed_only_where_optional(limits: Any) -> None:
    lo, hi = limits
    assert check_optional_int("f", None, lo, hi) is None
    with pytest.raises(ValidationError):
        check_int("f", None, lo, hi)


@given(st.integers(min_value=0, max_value=defaults.MAX_DURATION_MS))
def test_durations_up_to_the_limit_pass(value: int) -> None:
    assert check_duration("delay", value) == value


@given(st.integers(min_value=defaults.MAX_DURATION_MS + 1) | st.integers(max_value=-1))
def test_durations_past_the_limit_fail_naming_it(value: int) -> None:
    with pytest.raises(ValidationError, match=rf"delay .*<= {defaults.MAX_DURATION_MS}"):
        check_duration("delay", value)


@given(st.integers(min_value=defaults.MIN_PRIORITY, max_value=defaults.MAX_PRIORITY))
def test_priorities_in_range_pass(value: int) -> None:
    assert check_priority("priority", value) == value


@given(st.integers(min_value=defaults.MAX_PRIORITY + 1) | st.integers(max_value=-(2**31) - 1))
def test_priorities_out_of_range_fail(value: int) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"<= {defaults.MAX_PRIORITY}")):
        check_priority("priority", value)


def test_the_limits_keep_every_ready_time_exact_on_every_backend() -> None:
    latest = defaults.MAX_TIMESTAMP_MS + defaults.MAX_DELAY_MS
    assert latest < 2**53  # Lua numbers are doubles
    assert latest < 2**63  # SQLite integers
    assert latest < 64**8  # the fixed-width ordered member still holds it
    member = ready_member(latest, defaults.MAX_TIMESTAMP_MS, "queues:q:tasks:t:messages:u")
    assert ms_from_sortable(member) == latest
    assert defaults.MAX_DELAY_MS == defaults.MAX_TTL_MS == defaults.MAX_TIMEOUT_MS


@given(messages(), st.sampled_from(["delay", "timeout", "result_ttl", "priority", "created_at"]))
def test_messages_refuse_out_of_range_fields(message: Message, field: str) -> None:
    too_big = {
        "delay": defaults.MAX_DELAY_MS + 1,
        "timeout": defaults.MAX_TIMEOUT_MS + 1,
        "result_ttl": defaults.MAX_TTL_MS + 1,
        "priority": defaults.MAX_PRIORITY + 1,
        "created_at": defaults.MAX_TIMESTAMP_MS + 1,
    }[field]
    with pytest.raises(ValidationError, match=rf"Message\.{field} must be an int .*<= "):
        attrs.evolve(message, **{field: too_big})


@given(messages(), st.integers(min_value=0, max_value=10**4))
def test_a_retry_never_waits_past_the_delay_limit(message: Message, retries: int) -> None:
    unbounded = ExponentialBackoff(base=10, factor=10**6, floor=None, ceiling=None)
    message = attrs.evolve(message, retries=retries, backoff_settings=unbounded.settings)
    retried = retry(message, defaults.MAX_TIMESTAMP_MS)
    assert 0 <= retried.delay <= defaults.MAX_DELAY_MS
    assert retried.delay == min(unbounded.get(retries + 1), defaults.MAX_DELAY_MS)
