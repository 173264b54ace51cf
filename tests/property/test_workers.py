"""The worker registry's record: run-time buckets, throughput over a window, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.pure import codec
from alsek.pure.workers import (
    RATE_WINDOW_MS,
    RUN_BUCKETS_MS,
    RunningTask,
    TaskStats,
    Throughput,
    WorkerRecord,
    bucket_of,
    per_second,
    sample,
    task_stats,
)
from tests.property.strategies import light, medium

counts = st.integers(0, 10**9)


@light
@given(st.integers(-10, 10**7))
def test_a_run_lands_in_the_first_bucket_whose_bound_it_does_not_exceed(run_ms: int) -> None:
    index = bucket_of(run_ms)
    assert 0 <= index <= len(RUN_BUCKETS_MS)
    if index < len(RUN_BUCKETS_MS):
        assert max(run_ms, 0) <= RUN_BUCKETS_MS[index]
    if index > 0:
        assert run_ms > RUN_BUCKETS_MS[index - 1]


@light
@given(st.integers(0, 10**7), st.integers(0, 10**7))
def test_longer_runs_never_land_in_earlier_buckets(a: int, b: int) -> None:
    assert (bucket_of(a) <= bucket_of(b)) or a > b


buckets = st.lists(
    st.integers(0, 1000), min_size=len(RUN_BUCKETS_MS) + 1, max_size=len(RUN_BUCKETS_MS) + 1
)


@light
@given(counts, counts, st.integers(0, 10**6), st.integers(0, 10**6), counts, counts, buckets)
def test_task_stats_accept_consistent_tallies_only(
    claimed: int,
    started: int,
    succeeded: int,
    failed: int,
    run_ms: int,
    wait_ms: int,
    histogram: list[int],
) -> None:
    args = (claimed, started, succeeded, failed, run_ms, wait_ms, tuple(histogram))
    if sum(histogram) > succeeded + failed:
        with pytest.raises(ValueError, match="more runs measured"):
            task_stats(*args)
        return
    stats = task_stats(*args)
    assert stats.finished == succeeded + failed
    assert stats.run_buckets == tuple(histogram)


def test_task_stats_refuse_negative_counts_and_wrong_histograms() -> None:
    empty = (0,) * (len(RUN_BUCKETS_MS) + 1)
    with pytest.raises(ValueError, match="negative"):
        task_stats(-1, 0, 0, 0, 0, 0, empty)
    with pytest.raises(ValueError, match="buckets"):
        task_stats(0, 0, 0, 0, 0, 0, (0,))


samples_in_time = st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 50)), max_size=30)


@medium
@given(samples_in_time, st.integers(1, 10**5))
def test_throughput_covers_the_window_and_measures_finished_per_second(
    steps: list[tuple[int, int]], window: int
) -> None:
    throughput, now, done = Throughput(), 0, 0
    for advance, more in steps:
        now, done = now + advance, done + more
        throughput = sample(throughput, now, done, window)
        times = [t for t, _ in throughput.samples]
        assert times == sorted(times) and throughput.samples[-1] == (now, done)
        # At most one sample older than the window is kept (the rate's starting point).
        assert sum(1 for t in times if t < now - window) <= 1
    rate = per_second(throughput)
    assert rate >= 0
    if len(throughput.samples) >= 2:
        (t0, d0), (t1, d1) = throughput.samples[0], throughput.samples[-1]
        if t1 > t0:
            assert rate == pytest.approx((d1 - d0) * 1000 / (t1 - t0))


def test_no_rate_without_two_samples_in_time() -> None:
    assert per_second(Throughput()) == 0
    assert per_second(sample(Throughput(), 5, 3)) == 0
    assert per_second(Throughput(((5, 1), (5, 9)))) == 0
    assert RATE_WINDOW_MS >= 10_000


names = st.text("abcdefghij-", min_size=1, max_size=8)
task_stats_strategy = st.builds(
    TaskStats,
    claimed=counts,
    started=counts,
    succeeded=counts,
    failed=counts,
    run_ms_sum=counts,
    wait_ms_sum=counts,
    run_buckets=st.tuples(*[st.integers(0, 100)] * (len(RUN_BUCKETS_MS) + 1)),
)
records = st.builds(
    WorkerRecord,
    id=names,
    host=names,
    pid=st.integers(1, 10**6),
    started_at=st.integers(0, 10**13),
    heartbeat_at=st.integers(0, 10**13),
    queues=st.lists(names, max_size=3).map(tuple),
    slots=st.fixed_dictionaries({"thread": st.integers(0, 64), "process": st.integers(0, 64)}),
    busy=st.fixed_dictionaries({"thread": st.integers(0, 64), "process": st.integers(0, 64)}),
    running=st.lists(
        st.builds(
            RunningTask,
            names,
            names,
            names,
            st.sampled_from(["thread", "process"]),
            st.integers(0, 10**13),
        ),
        max_size=3,
    ).map(tuple),
    processed=counts,
    failed=counts,
    tasks_per_s=st.floats(0, 10**6, allow_nan=False),
    tasks=st.dictionaries(names, task_stats_strategy, max_size=3),
)


@medium
@given(records, st.integers(0, 10**13))
def test_a_record_round_trips_and_sums_its_slots(record: WorkerRecord, now: int) -> None:
    assert codec.structure(codec.unstructure(record), WorkerRecord) == record
    assert record.slots_used == sum(record.busy.values())
    assert record.slots_total == sum(record.slots.values())
    assert record.uptime_ms(now) == max(now - record.started_at, 0)
