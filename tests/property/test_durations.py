"""``timedelta`` -> milliseconds at the edge: exact, and refusing what it cannot keep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.backoff import ConstantBackoff, ExponentialBackoff, LinearBackoff
from alsek.pure.durations import timedelta_to_ms, to_ms
from alsek.pure.validate import check_duration

# Every whole-millisecond timedelta Python can represent.
MAX_MS = timedelta.max // timedelta(milliseconds=1)
MIN_MS = -(-timedelta.min // timedelta(milliseconds=1))
whole_ms = st.integers(min_value=MIN_MS, max_value=MAX_MS)
not_timedeltas = st.one_of(
    st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3)
)


@given(whole_ms)
def test_a_whole_millisecond_timedelta_becomes_exactly_its_milliseconds(ms: int) -> None:
    assert to_ms("delay", timedelta(milliseconds=ms)) == ms
    assert isinstance(to_ms("delay", timedelta(milliseconds=ms)), int)


@given(st.integers(0, 10**6), st.integers(0, 86_399), st.integers(0, 999))
def test_days_seconds_and_milliseconds_add_up(days: int, seconds: int, ms: int) -> None:
    value = timedelta(days=days, seconds=seconds, milliseconds=ms)
    assert timedelta_to_ms("ttl", value) == (days * 86_400 + seconds) * 1000 + ms


@given(not_timedeltas)
def test_anything_else_is_left_for_the_field_check(value: Any) -> None:
    assert to_ms("delay", value) is value


@given(whole_ms, st.integers(1, 999))
def test_a_sub_millisecond_part_is_refused_naming_the_field(ms: int, micros: int) -> None:
    value = timedelta(milliseconds=ms, microseconds=micros)
    if value > timedelta.max - timedelta(milliseconds=1):
        return
    with pytest.raises(ValidationError, match=r"timeout must be a whole number of milliseconds"):
        to_ms("timeout", value)


@given(whole_ms)
def test_bounds_are_those_of_the_same_milliseconds(ms: int) -> None:
    """A timedelta is accepted or refused exactly as its milliseconds would be."""
    as_td = timedelta(milliseconds=ms)

    def outcome(value: Any) -> Any:
        try:
            return check_duration("delay", to_ms("delay", value), 0)
        except ValidationError as error:
            return str(error)

    assert outcome(as_td) == outcome(ms)


@given(st.integers(0, defaults.MAX_DURATION_MS))
def test_backoff_records_take_timedeltas_as_milliseconds(ms: int) -> None:
    td = timedelta(milliseconds=ms)
    assert ConstantBackoff(constant=td, floor=td, ceiling=td) == ConstantBackoff(
        constant=ms, floor=ms, ceiling=ms
    )
    assert LinearBackoff(factor=td, floor=0, ceiling=None) == LinearBackoff(
        factor=ms, floor=0, ceiling=None
    )
    assert ExponentialBackoff(factor=td, ceiling=None, floor=None).settings == (
        ExponentialBackoff(factor=ms, ceiling=None, floor=None).settings
    )


def test_a_negative_timedelta_in_a_backoff_is_refused_like_a_negative_int() -> None:
    with pytest.raises(ValidationError, match="floor must be a non-negative int"):
        ConstantBackoff(floor=timedelta(seconds=-1))
    with pytest.raises(ValidationError, match="backoff ceiling must be a whole number"):
        ConstantBackoff(ceiling=timedelta(microseconds=1))


@given(st.none() | whole_ms | not_timedeltas, st.integers(0, 2))
def test_an_optional_duration_is_none_or_checked_like_a_duration(value: Any, lo: int) -> None:
    from alsek.pure.validate import check_optional_duration

    def outcome(check: Any) -> Any:
        try:
            return check()
        except ValidationError as error:
            return str(error)

    if value is None:
        assert check_optional_duration("ttl", value, lo) is None
    else:
        assert outcome(lambda: check_optional_duration("ttl", value, lo)) == outcome(
            lambda: check_duration("ttl", value, lo)
        )
