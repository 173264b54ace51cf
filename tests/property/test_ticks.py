"""Tick times every scheduler computes alike (interval grids, jittered fires)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.ticks import (
    check_jitter,
    following_tick,
    is_process_local_start,
    next_tick,
    tick_of,
)

times = st.integers(min_value=-(10**13), max_value=10**13)
intervals = st.integers(min_value=1, max_value=10**9)


@given(times, intervals, times)
def test_the_next_tick_is_the_first_grid_time_not_before_the_target(
    anchor: int, interval: int, target: int
) -> None:
    tick = next_tick(anchor, interval, target)
    assert (tick - anchor) % interval == 0
    assert tick >= target > tick - interval


@given(times, intervals, times, times)
def test_a_given_start_is_never_preceded(
    anchor: int, interval: int, target: int, first: int
) -> None:
    tick = next_tick(first, interval, target, first)
    assert tick >= first and tick >= target
    assert (tick - first) % interval == 0
    assert tick == first or tick - interval < target


@given(times, intervals, times, st.lists(st.integers(0, 50), min_size=2, max_size=5), st.data())
def test_schedulers_starting_at_any_time_share_every_later_tick(
    anchor: int, interval: int, base: int, steps: list[int], data: st.DataObject
) -> None:
    """Processes started at different times (within a few intervals) tick on the same grid."""
    starts = [base + s * interval + data.draw(st.integers(0, interval - 1)) for s in steps]
    firsts = [next_tick(anchor, interval, start) for start in starts]
    latest = max(firsts)
    for first in firsts:
        assert (latest - first) % interval == 0  # the later ticks coincide
        tick = first
        for _ in range(52):
            if tick >= latest:
                break
            tick = following_tick(anchor, interval, tick)
        assert tick == latest


@given(times, intervals, times, st.data())
def test_a_jittered_fire_belongs_to_its_tick(
    anchor: int, interval: int, target: int, data: st.DataObject
) -> None:
    tick = next_tick(anchor, interval, target)
    late = data.draw(st.integers(min_value=0, max_value=interval - 1))
    assert tick_of(anchor, interval, tick + late) == tick
    assert following_tick(anchor, interval, tick + late) == tick + interval


@given(times, intervals, times)
def test_tick_of_is_the_latest_grid_time_not_after_the_fire(
    anchor: int, interval: int, fire: int
) -> None:
    tick = tick_of(anchor, interval, fire)
    assert (tick - anchor) % interval == 0
    assert tick <= fire < tick + interval
    assert next_tick(anchor, interval, tick) == tick


@given(st.integers(min_value=-(10**6), max_value=0) | st.integers(max_value=0), times)
def test_intervals_must_be_positive(interval: int, target: int) -> None:
    with pytest.raises(ValidationError, match="interval"):
        next_tick(0, interval, target)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=10**9))
def test_jitter_must_be_shorter_than_the_gap(jitter: int, gap: int) -> None:
    if jitter < gap:
        check_jitter(jitter, gap)
    else:
        with pytest.raises(ValidationError, match="jitter"):
            check_jitter(jitter, gap)


@given(times, intervals, times, st.integers(min_value=0, max_value=10**6))
def test_a_start_one_interval_after_creation_is_process_local(
    created: int, interval: int, offset: int, tolerance: int
) -> None:
    start = created + interval + offset
    assert is_process_local_start(start, interval, created, tolerance) == (abs(offset) <= tolerance)
