"""Worker-pool slot arithmetic: never claim what cannot start."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.capacity import (
    Capacity,
    ClaimPlan,
    Load,
    admit,
    finish,
    free,
    plan_claim,
    to_retire,
    workers_to_start,
)
from alsek.pure.message import SLOT_KINDS, SlotKind
from alsek.pure.queue_model import open_kinds
from tests.property.strategies import capacities, light, loads
from tests.property.strategies import slot_kinds as mechanisms

batches = st.integers(min_value=1, max_value=32)


def at_capacity(capacity: Capacity, load: Load) -> bool:
    """No free slot of either kind."""
    return all(free(capacity, load, kind) == 0 for kind in SLOT_KINDS)


@light
@given(capacities(), loads, batches, st.data())
def test_any_mix_of_a_plan_fits(
    capacity: Capacity, load: Load, batch: int, data: st.DataObject
) -> None:
    plan = plan_claim(capacity, load, batch)
    assert 0 <= plan.limit <= batch
    assert len(set(plan.mechanisms)) == len(plan.mechanisms)
    if plan.limit == 0:
        return
    count = data.draw(st.integers(0, plan.limit), label="claimed")
    # What a backend may answer: any kinds of the plan, no more of each than its cap.
    mix: list[SlotKind] = []
    for _ in range(count):
        kinds = open_kinds(plan.mechanisms, plan.limits, Counter(mix))
        if not kinds:
            break
        mix.append(data.draw(st.sampled_from(kinds), label="kind"))  # type: ignore[arg-type]
    running = load
    for mechanism in mix:
        assert free(capacity, running, mechanism) > 0, (plan, mix)
        running = admit(running, mechanism)
    for mechanism in SLOT_KINDS:
        if mechanism in mix:
            assert running.running(mechanism) <= capacity.limit(mechanism)


@light
@given(capacities(), loads, batches)
def test_plan_lists_exactly_the_kinds_with_free_slots(
    capacity: Capacity, load: Load, batch: int
) -> None:
    plan = plan_claim(capacity, load, batch)
    assert set(plan.mechanisms) == {kind for kind in SLOT_KINDS if free(capacity, load, kind)}
    assert (plan.limit == 0) == at_capacity(capacity, load)
    assert (plan.mechanisms == ()) == (plan.limit == 0)


@light
@given(capacities(), loads, batches)
def test_plan_uses_all_free_slots_up_to_the_batch(
    capacity: Capacity, load: Load, batch: int
) -> None:
    plan = plan_claim(capacity, load, batch)
    frees = [free(capacity, load, kind) for kind in plan.mechanisms]
    assert list(plan.caps) == [min(each, batch) for each in frees]
    assert plan.limit == min(sum(frees), batch)
    if len(frees) > 1:  # a scarce kind does not shrink the claim of a roomy one
        assert plan.limit >= min(max(frees), batch)


@light
@given(capacities(), loads, mechanisms)
def test_free_slots(capacity: Capacity, load: Load, mechanism: SlotKind) -> None:
    assert free(capacity, load, mechanism) == max(
        capacity.limit(mechanism) - load.running(mechanism), 0
    )


@light
@given(loads, mechanisms)
def test_admit_then_finish_round_trip(load: Load, mechanism: SlotKind) -> None:
    started = admit(load, mechanism)
    assert started.running(mechanism) == load.running(mechanism) + 1
    for other in SLOT_KINDS:
        if other != mechanism:
            assert started.running(other) == load.running(other)
    assert finish(started, mechanism) == load


@light
@given(mechanisms)
def test_finish_never_goes_negative(mechanism: SlotKind) -> None:
    assert finish(Load(), mechanism) == Load()


@light
@given(capacities(), st.lists(mechanisms, max_size=30))
def test_admitting_while_free_never_exceeds_limits(
    capacity: Capacity, wanted: list[SlotKind]
) -> None:
    load = Load()
    for mechanism in wanted:
        if free(capacity, load, mechanism):
            load = admit(load, mechanism)
    assert load.threads <= capacity.max_threads
    assert load.processes <= capacity.max_processes
    assert load.coroutines <= capacity.max_async


@pytest.mark.parametrize(
    ("threads", "processes", "coroutines"),
    [(0, 0, 0), (-1, 1, 0), (1, -1, 0), (True, 1, 0), (1.5, 1, 0), ("2", 1, 0), (1, 1, -1)],
)
def test_invalid_capacity_is_rejected(threads: Any, processes: Any, coroutines: Any) -> None:
    with pytest.raises(ValidationError):
        Capacity(max_threads=threads, max_processes=processes, max_async=coroutines)


def test_coroutines_alone_are_a_capacity() -> None:
    capacity = Capacity(max_threads=0, max_processes=0, max_async=3)
    assert plan_claim(capacity, Load(), 16) == ClaimPlan(("async",), 3, (3,))
    both = Capacity(max_threads=8, max_processes=0, max_async=100)
    # Seven threads busy: one thread, and up to a batch of coroutines.
    plan = plan_claim(both, Load(threads=7), 16)
    assert plan == ClaimPlan(("thread", "async"), 16, (1, 16))
    assert plan.limits == {"thread": 1, "async": 16}
    assert capacity.limit("async") == 3 and capacity.limit("thread") == 0


@light
@given(
    st.dictionaries(st.integers(0, 50), st.integers(0, 10**6), max_size=10),
    st.integers(0, 2 * 10**6),
    st.integers(0, 10**6),
)
def test_to_retire_selects_exactly_the_long_idle(
    idle_since: dict[int, int], now: int, idle_ms: int
) -> None:
    retired = to_retire(idle_since, now, idle_ms)
    assert list(retired) == sorted(retired)
    assert set(retired) == {wid for wid, since in idle_since.items() if now - since >= idle_ms}


@light
@given(st.integers(0, 20), st.integers(0, 40), st.integers(0, 20), st.integers(0, 20))
def test_workers_to_start_bounds(idle: int, queued: int, alive: int, limit: int) -> None:
    start = workers_to_start(idle, queued, alive, limit)
    assert start >= 0
    assert start <= max(queued - idle, 0)
    if alive <= limit:
        assert alive + start <= limit
        # Enough workers for every queued job, unless the limit says no.
        assert idle + start >= queued or alive + start == limit
    else:
        assert start == 0
