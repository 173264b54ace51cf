"""A capacity forecast: when does the backlog drain, at today's capacity and with
-2..+2 pools? The model (``forecast_inputs``) runs in the simulator.

Each scenario submits every task's backlog at time 0 and Poisson arrivals at
its rate until the horizon, on identical pools; it has drained at the first
moment nothing is left waiting (every message started). Failures are runs
like any other: a retry is a new arrival, already in the rates, so the model
retries nothing. A scenario simulates at most ``budget`` messages: with more,
it is scaled down by k (k times fewer messages, each running k times as long,
overheads too), which leaves utilisation and the fluid drain time unchanged.
The horizon is twice the fluid estimate plus a minute (at most a day; an hour
when arrivals outrun the slots).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

from alsek import defaults
from alsek.sim.distributions import Burst, Bursts, Empirical, Poisson
from alsek.sim.engine import Engine
from alsek.sim.forecast_inputs import (
    ForecastInputs,
    TaskModel,
    Unmodelled,
    fluid_drain_ms,
    mean_slots,
    pool_counts,
    task_models,
)
from alsek.sim.workload import Arrival, Overheads, PoolSpec, TaskKind, Workload

BUDGET = 1_000
MIN_HORIZON_MS = 60_000
MAX_HORIZON_MS = 24 * 3_600_000
OVERLOAD_HORIZON_MS = 3_600_000
#: Points kept of each scenario's backlog series (for the chart).
SERIES_POINTS = 120


@attrs.frozen
class Scenario:
    """One pool count's outcome: ``drain_ms`` is None when the backlog had not drained
    by ``horizon_ms``; ``series`` is (ms, messages waiting) over the run."""

    change: int
    pools: int
    drain_ms: int | None
    fluid_ms: int | None
    horizon_ms: int
    scale: int
    simulated: int
    series: tuple[tuple[int, int], ...]


@attrs.frozen
class Forecast:
    """The scenarios, the model's inputs and what it left out."""

    inputs: ForecastInputs
    threads: int
    processes: int
    models: tuple[TaskModel, ...]
    unmodelled: tuple[Unmodelled, ...]
    scenarios: tuple[Scenario, ...]
    seed: int


def horizon_for(fluid_ms: int | None) -> int:
    """How long a scenario is simulated."""
    if fluid_ms is None:
        return OVERLOAD_HORIZON_MS
    return min(max(2 * fluid_ms + MIN_HORIZON_MS, MIN_HORIZON_MS), MAX_HORIZON_MS)


def scale_for(models: Sequence[TaskModel], horizon_ms: int, budget: int = BUDGET) -> int:
    """The k that keeps a scenario within ``budget`` expected messages."""
    expected = sum(m.backlog + m.rate_per_s * horizon_ms / 1000 for m in models)
    return max(math.ceil(expected / budget), 1)


def scenario_workload(
    models: Sequence[TaskModel], pools: int, threads: int, processes: int, horizon_ms: int, k: int
) -> Workload | None:
    """The simulator's workload for one scenario, scaled down by ``k`` (None: no
    message would arrive)."""
    kinds, arrivals = [], []
    for model in models:
        backlog = round(model.backlog / k)
        rate = model.rate_per_s / k
        if backlog == 0 and rate <= 0:
            continue
        kinds.append(
            TaskKind(
                name=model.task,
                queue=model.queue,
                mechanism=model.mechanism,  # type: ignore[arg-type]
                timeout_ms=defaults.MAX_TIMEOUT_MS,
                max_retries=0,
                duration=Empirical(tuple(ms * k for ms in model.samples_ms)),
            )
        )
        if backlog:
            arrivals.append(Arrival(model.task, Bursts((Burst(0, backlog),))))
        if rate > 0:
            arrivals.append(Arrival(model.task, Poisson(rate=rate, until_ms=horizon_ms)))
    if not kinds:
        return None
    return Workload(
        tasks=tuple(kinds),
        arrivals=tuple(arrivals),
        pool=PoolSpec(max_threads=threads, max_processes=processes, pools=pools),
        overheads=Overheads(claim_rtt_ms=k, wake_latency_ms=k, dispatch_ms={"process": k}),
        horizon_ms=horizon_ms,
        sample_ms=max(horizon_ms // 900, 1),
        name="forecast",
    )


def drain_time(series: Sequence[tuple[int, ...]]) -> int | None:
    """The first sampled time nothing waits, from the simulator's depth series
    (``t_ms, in_flight, waiting per queue...``); None if that never happens."""
    for row in series:
        if sum(row[2:]) == 0:
            return row[0]
    return None


def thin(
    series: Sequence[tuple[int, int]], points: int = SERIES_POINTS
) -> tuple[tuple[int, int], ...]:
    """At most ``points`` evenly picked entries of ``series``, the first and last kept."""
    if len(series) <= points:
        return tuple(series)
    step = (len(series) - 1) / (points - 1)
    return tuple(series[round(i * step)] for i in range(points))


def run_scenario(
    models: Sequence[TaskModel],
    change: int,
    pools: int,
    slots: tuple[int, int],
    seed: int,
    budget: int = BUDGET,
) -> Scenario:
    """Simulate one pool count."""
    threads, processes = slots
    fluid = fluid_drain_ms(models, pools, {"thread": threads, "process": processes})
    horizon = horizon_for(fluid)
    k = scale_for(models, horizon, budget)
    workload = scenario_workload(models, pools, threads, processes, horizon, k)
    backlog = any(m.backlog for m in models)
    if workload is None or (not backlog and fluid is not None):
        return Scenario(change, pools, 0, fluid, horizon, k, 0, ((0, 0), (horizon, 0)))
    engine = Engine(workload, seed, trace=False)
    engine.run()
    rows = list(engine.recorder.series)
    if engine.stopped_at is None:  # every message ran before the horizon: none waits
        rows.append((engine.now, 0, 0))
    depth = [(row[0], sum(row[2:]) * k) for row in rows]
    # Without a backlog to start with, only an overload is simulated: it never drains.
    drained = drain_time(rows) if backlog else None
    submitted = sum(counts["submitted"] for counts in engine.recorder.by_task.values())
    return Scenario(change, pools, drained, fluid, horizon, k, submitted, thin(depth))


def forecast(inputs: ForecastInputs, seed: int = 0, budget: int = BUDGET) -> Forecast:
    """Every scenario's drain time for ``inputs`` (the same inputs and seed give the
    same forecast)."""
    models, unmodelled = task_models(inputs)
    threads, processes = mean_slots(inputs.slots, [m.mechanism for m in models])
    scenarios = tuple(
        run_scenario(models, change, pools, (threads, processes), seed, budget)
        for change, pools in pool_counts(inputs.pools)
    )
    return Forecast(inputs, threads, processes, models, unmodelled, scenarios, seed)
