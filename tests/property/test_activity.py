"""A pool's minute-by-minute activity: rows, their ring, their stored form, and what the
live pools' records say together (outcomes per minute, a window's observations)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure import codec
from alsek.pure.activity import (
    BUCKETS,
    HISTORY_MINUTES,
    MINUTE_MS,
    MinuteRow,
    TaskActivity,
    dense,
    first_kept,
    merge,
    minute_of,
    minute_row,
    row_from_list,
    row_to_list,
    trim,
)
from alsek.pure.buckets import RUN_BUCKETS_MS, bucket_bounds, bucket_of
from alsek.pure.observation import observe, outcomes_per_minute, window_start
from alsek.pure.workers import TaskStats, WorkerRecord
from tests.property.strategies import light, medium

minutes = st.integers(0, 10**8)
small = st.integers(0, 1000)
pairs = st.lists(st.tuples(st.integers(0, BUCKETS - 1), st.integers(0, 50)), max_size=6)


@st.composite
def rows(draw: st.DrawFn, minute: st.SearchStrategy[int] = minutes) -> MinuteRow:
    buckets = draw(pairs)
    measured = sum(count for _, count in buckets)
    succeeded = draw(st.integers(0, measured + 5))
    failed = draw(st.integers(max(measured - succeeded, 0), measured + 5))
    return minute_row(draw(minute), draw(small), succeeded, failed, draw(small), buckets)


@light
@given(minutes, small, small, small, small, pairs)
def test_a_row_keeps_consistent_tallies_only_and_sparse_buckets_in_order(
    minute: int, arrived: int, succeeded: int, failed: int, run_ms: int, buckets: list
) -> None:
    measured = sum(count for _, count in buckets)
    if measured > succeeded + failed:
        with pytest.raises(ValueError, match="more runs measured"):
            minute_row(minute, arrived, succeeded, failed, run_ms, buckets)
        return
    row = minute_row(minute, arrived, succeeded, failed, run_ms, buckets)
    assert row.finished == succeeded + failed
    totals = dense(buckets)
    assert [index for index, _ in row.run_buckets] == [i for i, c in enumerate(totals) if c]
    assert sum(count for _, count in row.run_buckets) == measured
    assert dense(row.run_buckets) == dense(buckets)


def test_a_row_refuses_negative_counts_and_unknown_buckets() -> None:
    with pytest.raises(ValueError, match="negative"):
        minute_row(1, -1, 0, 0, 0, {})
    with pytest.raises(ValueError, match="no run-time bucket"):
        minute_row(1, 0, 1, 0, 0, {BUCKETS: 1})
    with pytest.raises(ValueError, match="no run-time bucket"):
        minute_row(1, 0, 1, 0, 0, [(-1, 1)])


@light
@given(rows())
def test_a_row_survives_its_stored_form_and_the_codec(row: MinuteRow) -> None:
    assert row_from_list(row_to_list(row)) == row
    assert codec.structure(codec.unstructure(row), MinuteRow) == row


@light
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=3),
        st.lists(st.integers(), max_size=7),
        st.lists(
            st.one_of(st.integers(), st.text(max_size=2), st.lists(st.integers())), max_size=6
        ),
    )
)
def test_a_malformed_stored_row_is_refused_with_a_reason(value: object) -> None:
    try:
        row = row_from_list(value)
    except ValueError as error:
        assert "row" in str(error) or "minute" in str(error)
    else:
        assert row_to_list(row)[:5] == list(value)[:5]  # type: ignore[call-overload]


def test_a_worker_record_with_a_bad_row_names_where() -> None:
    record = WorkerRecord("w", "h", 1, 0, 0, ("q",), {"thread": 1}, {"thread": 0})
    data = codec.unstructure(record)
    data["activity"] = {"t": {"queue": "q", "mechanism": "thread", "minutes": [[1, -1]]}}
    with pytest.raises(ValidationError, match=r"activity\['t'\]\.minutes\[0\]"):
        codec.structure(data, WorkerRecord)


@light
@given(st.lists(rows(st.integers(0, 500)), max_size=20), st.integers(0, 600 * MINUTE_MS))
def test_a_ring_keeps_its_last_hour_oldest_first(ring: list[MinuteRow], now: int) -> None:
    kept = trim(ring, now)
    low, high = first_kept(now), minute_of(now)
    assert high - low + 1 == HISTORY_MINUTES
    assert list(kept) == sorted(
        (r for r in ring if low <= r.minute <= high), key=lambda r: r.minute
    )


@light
@given(rows(st.just(7)), rows(st.just(7)))
def test_two_rows_of_a_minute_add_up(a: MinuteRow, b: MinuteRow) -> None:
    both = merge(a, b)
    assert both == merge(b, a)
    assert both.finished == a.finished + b.finished and both.arrived == a.arrived + b.arrived
    pairs_ab = zip(dense(a.run_buckets), dense(b.run_buckets), strict=True)
    assert dense(both.run_buckets) == [x + y for x, y in pairs_ab]
    with pytest.raises(ValueError, match="minutes"):
        merge(a, minute_row(8, 0, 0, 0, 0, {}))


@light
@given(st.integers(0, len(RUN_BUCKETS_MS)), st.integers(0, 10**6))
def test_a_bucket_s_bounds_hold_exactly_its_runs(index: int, run_ms: int) -> None:
    low, high = bucket_bounds(index)
    inside = (run_ms > low and (high is None or run_ms <= high)) or (index == 0 and run_ms == 0)
    assert (bucket_of(run_ms) == index) == inside


# -- the records together -------------------------------------------------------------


NOW = 10_000 * MINUTE_MS + 12_345


@st.composite
def records(draw: st.DrawFn) -> WorkerRecord:
    tasks = draw(st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3))
    activity = {}
    for task in tasks:
        recent = st.integers(minute_of(NOW) - 70, minute_of(NOW))
        by_minute: dict[int, MinuteRow] = {}
        for row in draw(st.lists(rows(recent), max_size=6)):
            earlier = by_minute.get(row.minute)
            by_minute[row.minute] = row if earlier is None else merge(earlier, row)
        queue = draw(st.sampled_from(["q", "r"]))
        activity[task] = TaskActivity(queue, "thread", trim(by_minute.values(), NOW))
    stats = {task: TaskStats(succeeded=draw(small), run_ms_sum=draw(small)) for task in tasks}
    started = draw(st.integers(NOW - 90 * MINUTE_MS, NOW))
    name = draw(st.text("xyz", min_size=1, max_size=3))
    beat = draw(st.integers(started, NOW))
    slots, busy = {"thread": 1}, {"thread": 0}
    return WorkerRecord(name, "h", 1, started, beat, ("q",), slots, busy, (), tasks=stats,
                        activity=activity)  # fmt: skip


@medium
@given(st.lists(records(), max_size=4), st.integers(1, HISTORY_MINUTES))
def test_a_window_adds_up_every_pool_s_rows_inside_it(
    pools: list[WorkerRecord], span: int
) -> None:
    observation = observe(pools, NOW, span)
    start = window_start(pools, NOW, span)
    assert observation.start_minute == start
    assert minute_of(NOW) - span + 1 <= start <= minute_of(NOW)
    if pools:
        assert start >= min(minute_of(p.started_at) for p in pools) or start == minute_of(NOW)
    assert observation.span_ms == NOW - start * MINUTE_MS
    names = sorted({task for p in pools for task in p.activity})
    assert [t.task for t in observation.tasks] == names
    for task in observation.tasks:
        inside = [
            row
            for p in pools
            for row in (p.activity[task.task].minutes if task.task in p.activity else ())
            if start <= row.minute <= minute_of(NOW)
        ]
        assert task.arrived == sum(r.arrived for r in inside)
        assert (task.succeeded, task.failed) == (
            sum(r.succeeded for r in inside),
            sum(r.failed for r in inside),
        )
        assert task.run_ms_sum == sum(r.run_ms_sum for r in inside)
        assert sum(task.run_buckets) == sum(c for r in inside for _, c in r.run_buckets)
        assert task.lifetime_finished == sum(
            p.tasks[task.task].finished for p in pools if task.task in p.tasks
        )


@medium
@given(st.lists(records(), max_size=4), st.integers(1, 90))
def test_outcomes_per_minute_cover_every_minute_and_every_pool(
    pools: list[WorkerRecord], span: int
) -> None:
    series = outcomes_per_minute(pools, NOW, span)
    assert len(series) == span
    assert [at for at, _, _ in series] == [
        (minute_of(NOW) - span + 1 + i) * MINUTE_MS for i in range(span)
    ]
    first = minute_of(NOW) - span + 1
    every = [r for p in pools for a in p.activity.values() for r in a.minutes if r.minute >= first]
    assert sum(ok for _, ok, _ in series) == sum(r.succeeded for r in every)
    assert sum(bad for _, _, bad in series) == sum(r.failed for r in every)


def test_a_window_is_one_to_sixty_minutes() -> None:
    for wrong in (0, HISTORY_MINUTES + 1):
        with pytest.raises(ValueError, match="window"):
            observe([], NOW, wrong)


@light
@given(records())
def test_a_worker_record_with_its_activity_survives_the_codec(record: WorkerRecord) -> None:
    assert codec.structure(codec.unstructure(record), WorkerRecord) == record
