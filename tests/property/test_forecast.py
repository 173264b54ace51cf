"""The capacity forecast: its model built from observations, the fluid estimate it is
checked against, the simulator workload of each scenario, and the drain it reads back."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.pure.activity import BUCKETS, MINUTE_MS
from alsek.pure.observation import Observation, Observed
from alsek.sim.forecast import (
    BUDGET,
    MAX_HORIZON_MS,
    MIN_HORIZON_MS,
    OVERLOAD_HORIZON_MS,
    drain_time,
    forecast,
    horizon_for,
    run_scenario,
    scale_for,
    scenario_workload,
    thin,
)
from alsek.sim.forecast_inputs import (
    ForecastInputs,
    QueueBacklog,
    TaskModel,
    fluid_drain_ms,
    mean_slots,
    pool_counts,
    run_samples,
    split,
    task_models,
)
from tests.property.strategies import heavy, light, medium

histograms = st.lists(st.integers(0, 500), min_size=BUCKETS, max_size=BUCKETS)


@light
@given(st.integers(0, 10**6), st.lists(st.integers(0, 100), min_size=1, max_size=8))
def test_a_split_adds_up_and_stays_within_one_of_the_exact_share(
    total: int, weights: list[int]
) -> None:
    if sum(weights) == 0:
        with pytest.raises(ValueError, match="weights"):
            split(total, weights)
        return
    parts = split(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = total * weight / sum(weights)
        assert math.floor(exact) <= part <= math.ceil(exact)


@light
@given(histograms, st.floats(0, 10**6), st.integers(1, 80))
def test_run_samples_follow_the_histogram_and_keep_the_measured_mean(
    buckets: list[int], mean: float, count: int
) -> None:
    samples = run_samples(buckets, mean, count)
    assert all(ms >= 0 for ms in samples)
    if not sum(buckets):
        assert samples == (max(round(mean), 0),)
        return
    assert len(samples) == count
    assert abs(sum(samples) / len(samples) - mean) <= 0.5 + 1e-9 * mean
    # Each bucket stands for about its share of the samples.
    for index, times in enumerate(split(count, buckets)):
        exact = count * buckets[index] / sum(buckets)
        assert math.floor(exact) <= times <= math.ceil(exact)


def test_run_samples_need_at_least_one_sample() -> None:
    with pytest.raises(ValueError, match="count"):
        run_samples([1] * BUCKETS, 10, 0)


@light
@given(st.lists(st.tuples(st.integers(0, 64), st.integers(0, 64)), max_size=6),
       st.lists(st.sampled_from(["thread", "process"]), max_size=3))  # fmt: skip
def test_the_model_s_pool_is_the_mean_pool_with_a_slot_for_what_runs(
    slots: list[tuple[int, int]], needs: list[str]
) -> None:
    threads, processes = mean_slots(slots, needs)
    assert threads + processes >= 1
    assert ("thread" not in needs or threads >= 1) and ("process" not in needs or processes >= 1)
    if slots:
        assert threads >= round(sum(t for t, _ in slots) / len(slots))
        assert processes >= round(sum(p for _, p in slots) / len(slots))


models = st.builds(
    TaskModel,
    task=st.sampled_from(["a", "b", "c"]),
    queue=st.sampled_from(["q", "r"]),
    mechanism=st.sampled_from(["thread", "process"]),
    backlog=st.integers(0, 5000),
    rate_per_s=st.floats(0, 200),
    mean_run_ms=st.floats(0, 5000),
    samples_ms=st.just((100,)),
    measured=st.just("window"),
)
shapes = st.fixed_dictionaries({"thread": st.integers(0, 16), "process": st.integers(0, 8)})


@light
@given(st.lists(models, max_size=4), st.integers(1, 8), shapes)
def test_the_fluid_estimate_never_grows_with_more_pools_and_is_none_only_when_overloaded(
    tasks: list[TaskModel], pools: int, slots: dict[str, int]
) -> None:
    now = fluid_drain_ms(tasks, pools, slots)
    more = fluid_drain_ms(tasks, pools + 1, slots)
    if now is not None:
        assert more is not None and more <= now
    for mechanism in ("thread", "process"):
        mine = [m for m in tasks if m.mechanism == mechanism]
        arriving = sum(m.rate_per_s * m.mean_run_ms for m in mine) / 1000
        waiting = sum(m.backlog * m.mean_run_ms for m in mine)
        capacity = pools * slots[mechanism]
        overloaded = (arriving > 0 and arriving >= capacity) or (waiting > 0 and capacity == 0)
        if overloaded:
            assert now is None
        elif now is not None and waiting:
            assert now >= math.floor(waiting / (capacity - arriving))
    if not any(m.backlog * m.mean_run_ms for m in tasks) and now is not None:
        assert now == 0


@light
@given(st.integers(0, 40))
def test_scenarios_are_today_and_two_pools_either_way_never_below_one(current: int) -> None:
    counts = pool_counts(current)
    assert all(pools >= 1 and pools == current + change for change, pools in counts)
    assert [change for change, _ in counts] == sorted(change for change, _ in counts)
    assert ((0, current) in counts) == (current >= 1)
    if current:
        assert len(counts) == len([c for c in range(-2, 3) if current + c >= 1])
    else:
        assert counts == ()


observed = st.builds(
    Observed,
    task=st.sampled_from(["a", "b", "c", "d"]),
    queue=st.sampled_from(["q", "r"]),
    mechanism=st.sampled_from(["thread", "process"]),
    arrived=st.integers(0, 1000),
    succeeded=st.integers(0, 100),
    failed=st.integers(0, 100),
    run_ms_sum=st.integers(0, 10**6),
    run_buckets=histograms.map(tuple),
    lifetime_finished=st.integers(0, 100),
    lifetime_run_ms_sum=st.integers(0, 10**6),
    lifetime_buckets=histograms.map(tuple),
)


@st.composite
def inputs(draw: st.DrawFn) -> ForecastInputs:
    tasks = draw(st.lists(observed, unique_by=lambda t: t.task, max_size=4))
    now = 5_000 * MINUTE_MS + draw(st.integers(1, MINUTE_MS - 1))
    start = now // MINUTE_MS - draw(st.integers(0, 59))
    queues = []
    for name in draw(st.lists(st.sampled_from(["q", "r", "s"]), unique=True)):
        ready = draw(st.integers(0, 10**5))
        split_known = {}
        if draw(st.booleans()):  # the index says how many run in threads and processes
            threads = draw(st.integers(0, ready))
            split_known = {"thread": threads, "process": draw(st.integers(0, ready - threads))}
        oldest = draw(st.none() | st.integers(0, 10**7))
        queues.append(QueueBacklog(name, ready, oldest, split_known))
    slots = draw(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 4)), max_size=3))
    return ForecastInputs(Observation(start, now, tuple(tasks)), tuple(queues), len(slots),
                          tuple(slots))  # fmt: skip


@medium
@given(inputs())
def test_the_model_accounts_for_every_ready_message_and_every_observed_arrival(
    given_inputs: ForecastInputs,
) -> None:
    found, left_out = task_models(given_inputs)
    observation = given_inputs.observation
    span = observation.span_ms
    for queue in given_inputs.queues:
        modelled = sum(m.backlog for m in found if m.queue == queue.queue)
        unmodelled = sum(u.ready for u in left_out if u.queue == queue.queue)
        assert modelled + unmodelled == queue.ready
        known = queue.by_mechanism
        if known:
            rest = queue.ready - known["thread"] - known["process"]
            for mechanism in ("thread", "process"):
                mine = [m for m in found if m.queue == queue.queue and m.mechanism == mechanism]
                assert sum(m.backlog for m in mine) <= known[mechanism] + rest
    observed_by_name = {t.task: t for t in observation.tasks}
    for model in found:
        task = observed_by_name[model.task]
        assert model.rate_per_s >= task.arrived * 1000 / span - 1e-9
        assert model.samples_ms and model.measured in ("window", "lifetime")
        has_window = task.finished and sum(task.run_buckets)
        assert (model.measured == "window") == bool(has_window)
    modelled_names = {m.task for m in found}
    for task in observation.tasks:
        has_runs = (task.finished and sum(task.run_buckets)) or (
            task.lifetime_finished and sum(task.lifetime_buckets)
        )
        assert (task.task in modelled_names) == bool(has_runs)


@light
@given(st.one_of(st.none(), st.integers(0, 10**9)))
def test_a_horizon_covers_twice_the_fluid_estimate_within_bounds(fluid: int | None) -> None:
    horizon = horizon_for(fluid)
    if fluid is None:
        assert horizon == OVERLOAD_HORIZON_MS
    else:
        assert MIN_HORIZON_MS <= horizon <= MAX_HORIZON_MS
        assert horizon >= min(2 * fluid, MAX_HORIZON_MS)


@light
@given(st.lists(models, min_size=1, max_size=4), st.integers(1, MAX_HORIZON_MS),
       st.integers(10, 5000))  # fmt: skip
def test_scaling_keeps_a_scenario_within_its_budget(
    tasks: list[TaskModel], horizon: int, budget: int
) -> None:
    k = scale_for(tasks, horizon, budget)
    expected = sum(m.backlog + m.rate_per_s * horizon / 1000 for m in tasks)
    assert k >= 1 and expected / k <= budget
    assert k == 1 or expected / (k - 1) > budget


@light
@given(st.lists(models, min_size=1, max_size=3, unique_by=lambda m: m.task),
       st.integers(1, 4), st.integers(1, 10**6), st.integers(1, 50))  # fmt: skip
def test_a_scenario_s_workload_is_the_model_scaled_down(
    tasks: list[TaskModel], pools: int, horizon: int, k: int
) -> None:
    workload = scenario_workload(tasks, pools, 4, 2, horizon, k)
    busy = [m for m in tasks if round(m.backlog / k) or m.rate_per_s > 0]
    if not busy:
        assert workload is None
        return
    assert workload is not None
    assert [kind.name for kind in workload.tasks] == [m.task for m in busy]
    assert workload.pool.pools == pools and workload.horizon_ms == horizon
    for kind, model in zip(workload.tasks, busy, strict=True):
        assert kind.duration.samples_ms == tuple(ms * k for ms in model.samples_ms)
        assert kind.max_retries == 0
    bursts = {
        a.task: a.pattern.bursts[0].count for a in workload.arrivals if a.pattern.kind == "bursts"
    }
    assert bursts == {m.task: round(m.backlog / k) for m in busy if round(m.backlog / k)}


@light
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 9), st.integers(0, 3)),
                max_size=30))  # fmt: skip
def test_drain_is_the_first_sample_with_nothing_waiting(rows: list[tuple[int, int, int]]) -> None:
    series = sorted(rows)
    drained = drain_time(series)
    zero = [t for t, _, waiting in series if waiting == 0]
    assert drained == (zero[0] if zero else None)


@light
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10)), max_size=400),
       st.integers(2, 150))  # fmt: skip
def test_thinning_keeps_the_ends_and_at_most_the_points_asked(
    series: list[tuple[int, int]], points: int
) -> None:
    kept = thin(series, points)
    assert len(kept) <= points
    if series:
        assert kept[0] == series[0] and kept[-1] == series[-1]
    assert all(point in series for point in kept)


@heavy
@given(st.integers(1, 400), st.sampled_from([20, 100, 400]), st.integers(1, 3), st.integers(1, 4))
def test_a_backlog_alone_drains_about_when_the_fluid_model_says(
    backlog: int, run_ms: int, pools: int, threads: int
) -> None:
    model = TaskModel("t", "q", "thread", backlog, 0.0, run_ms, (run_ms,), "window")
    scenario = run_scenario([model], 0, pools, (threads, 0), seed=1, budget=BUDGET)
    assert scenario.fluid_ms == math.ceil(backlog * run_ms / (pools * threads))
    assert scenario.drain_ms is not None
    step = max(scenario.horizon_ms // 900, 1)
    # Nothing waits once the last message started: one run before the fluid end at most,
    # plus the claim round trips (1 ms per batch) and the sampling step.
    rounds = math.ceil(backlog / (pools * threads))
    assert scenario.fluid_ms - run_ms - step <= scenario.drain_ms
    assert scenario.drain_ms <= (rounds - 1) * (run_ms + 4) + step + 5


@medium
@given(inputs(), st.integers(0, 3))
def test_a_forecast_is_deterministic_and_has_a_scenario_per_pool_count(
    given_inputs: ForecastInputs, seed: int
) -> None:
    first = forecast(given_inputs, seed, budget=150)
    assert first == forecast(given_inputs, seed, budget=150)
    assert [(s.change, s.pools) for s in first.scenarios] == list(pool_counts(given_inputs.pools))
    for scenario in first.scenarios:
        assert scenario.simulated <= 3 * 150 + 10  # the budget is on expected messages
        if scenario.drain_ms is not None:
            assert 0 <= scenario.drain_ms <= scenario.horizon_ms


@light
@given(st.integers(0, BUCKETS - 1), st.integers(1, 1000), st.floats(0, 10**6), st.integers(1, 60))
def test_runs_all_in_one_bucket_all_take_the_measured_mean(
    index: int, runs: int, mean: float, count: int
) -> None:
    buckets = [0] * BUCKETS
    buckets[index] = runs
    samples = run_samples(buckets, mean, count)
    assert len(set(samples)) == 1 and abs(samples[0] - mean) <= 0.5 + 1e-6
