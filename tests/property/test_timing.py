"""Time arithmetic: ready time, time to ready, leases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alsek.pure.message import Message
from alsek.pure.timing import (
    is_ready,
    lease_deadline,
    ready_at,
    renew_interval,
    task_deadline,
    ttr,
)
from tests.property.strategies import MAX_TIME, light, medium, small_messages, times

nows = st.integers(min_value=0, max_value=MAX_TIME + 2 * 10**9)


@medium
@given(small_messages(), nows)
def test_ttr_is_zero_exactly_when_ready(message: Message, now: int) -> None:
    assert (ttr(message, now) == 0) == is_ready(message, now)


@medium
@given(small_messages(), nows)
def test_ttr_is_time_left_until_ready_at(message: Message, now: int) -> None:
    assert ready_at(message) == message.updated_at + message.delay == message.ready_at
    assert ttr(message, now) == max(message.updated_at + message.delay - now, 0)


@medium
@given(small_messages())
def test_ready_from_ready_at_onwards(message: Message) -> None:
    at = ready_at(message)
    assert is_ready(message, at)
    assert is_ready(message, at + 1)
    assert not is_ready(message, at - 1)
    assert ttr(message, at - 1) == 1


@medium
@given(small_messages(), nows, nows)
def test_ttr_never_increases_with_time(message: Message, a: int, b: int) -> None:
    early, late = sorted((a, b))
    assert ttr(message, late) <= ttr(message, early)
    assert ttr(message, early) - ttr(message, late) <= late - early


@light
@given(times, st.integers(min_value=1, max_value=10**8))
def test_lease_and_task_deadlines(now: int, ms: int) -> None:
    assert lease_deadline(now, ms) == now + ms
    assert task_deadline(now, ms) == now + ms


@light
@given(st.integers(min_value=1, max_value=10**9))
def test_renewal_leaves_three_chances_before_the_lease_lapses(lease_ms: int) -> None:
    interval = renew_interval(lease_ms)
    assert 1 <= interval <= max(lease_ms, 1)
    if lease_ms >= 3:
        assert 3 * interval <= lease_ms < 3 * (interval + 1)
