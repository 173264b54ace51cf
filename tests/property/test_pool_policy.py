"""The pool's policy (``alsek.pure.pool``): each transition on its own."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from alsek.pure import pool as policy
from alsek.pure import watchdog
from alsek.pure.capacity import Capacity, Load, free
from alsek.pure.message import SLOT_KINDS
from alsek.pure.timing import renew_interval
from tests.property.strategies import capacities, light

phases = st.sampled_from(list(policy.Phase))
batches = st.integers(min_value=1, max_value=32)


@st.composite
def states(draw: st.DrawFn) -> policy.PoolState:
    capacity: Capacity = draw(capacities())
    load = Load(
        threads=draw(st.integers(0, capacity.max_threads)),
        processes=draw(st.integers(0, capacity.max_processes)),
        coroutines=draw(st.integers(0, capacity.max_async)),
    )
    delegated = draw(st.sampled_from([frozenset(), frozenset({"process"})]))
    return policy.PoolState(
        capacity=capacity,
        load=load,
        phase=draw(phases),
        epoch=draw(st.integers(0, 5)),
        planned_epoch=draw(st.integers(-1, 5)),
        exhausted=draw(st.booleans()),
        pending_acks=draw(st.integers(0, 4)),
        stopping=draw(st.booleans()),
        delegated=delegated,
    )


@light
@given(states(), batches)
def test_plan_claims_only_what_free_slots_can_start(state: policy.PoolState, batch: int) -> None:
    after, action = policy.plan(state, batch)
    if state.stopping:
        assert isinstance(action, policy.Stop) and after == state
        return
    free_total = sum(
        free(state.capacity, state.load, m) for m in SLOT_KINDS if m not in state.delegated
    )
    if isinstance(action, policy.Pause):
        assert free_total == 0 and state.pending_acks == 0
        assert after.phase is policy.Phase.PAUSED
        return
    assert isinstance(action, policy.Claim)
    assert action.plan.limit <= min(max(free_total, 0), batch)
    assert action.acks == state.pending_acks and after.pending_acks == 0
    assert after.planned_epoch == state.epoch
    for mechanism in action.plan.mechanisms:
        assert free(state.capacity, state.load, mechanism) > 0
        assert mechanism not in state.delegated  # task processes claim for themselves
    # Every kind the dispatcher fills and has room for is asked for.
    wanted = {
        m for m in SLOT_KINDS if m not in state.delegated and free(state.capacity, state.load, m)
    }
    assert set(action.plan.mechanisms) == wanted


@light
@given(states(), batches)
def test_a_dispatcher_waits_only_when_nothing_changed_since_a_short_claim(
    state: policy.PoolState, batch: int
) -> None:
    after, action = policy.plan(state, batch)
    if not isinstance(action, policy.Claim):
        return
    unchanged = state.exhausted and state.epoch == state.planned_epoch
    assert action.wait == (unchanged and state.pending_acks == 0 and action.plan.limit > 0)
    assert after.phase is (policy.Phase.WAITING if action.wait else policy.Phase.CLAIMING)


@light
@given(states(), st.integers(0, 16), st.integers(0, 16))
def test_an_answer_remembers_whether_the_queues_ran_short(
    state: policy.PoolState, asked: int, got: int
) -> None:
    got = min(got, asked)
    after = policy.answered(state, asked, got)
    assert after.exhausted == (got < asked) and after.phase is policy.Phase.READY


@light
@given(states(), st.integers(0, 5))
def test_a_failed_claim_keeps_its_acks_and_does_not_wait_next(
    state: policy.PoolState, acks: int
) -> None:
    after = policy.failed(state, acks)
    assert after.pending_acks == state.pending_acks + acks
    assert not after.exhausted
    if not after.stopping:
        _, action = policy.plan(after, 16)
        assert not (isinstance(action, policy.Claim) and action.wait)


@light
@given(states(), st.sampled_from(SLOT_KINDS))
def test_freeing_a_slot_wakes_exactly_who_needs_it(state: policy.PoolState, mechanism: str) -> None:
    state = attrs.evolve(state, load=Load(threads=1, processes=1, coroutines=1))
    capacity = state.capacity
    state = attrs.evolve(
        state,
        capacity=Capacity(
            max(capacity.max_threads, 1),
            max(capacity.max_processes, 1),
            max(capacity.max_async, 1),
        ),
    )
    was_full = free(state.capacity, state.load, mechanism) == 0  # type: ignore[arg-type]
    after, wake = policy.free(state, mechanism)  # type: ignore[arg-type]
    assert after.load.running(mechanism) == state.load.running(mechanism) - 1  # type: ignore[arg-type]
    assert after.epoch == state.epoch + 1
    if state.phase is policy.Phase.PAUSED:
        assert wake is policy.Wake.RESUME
    elif state.phase is policy.Phase.WAITING and was_full and not state.stopping:
        assert wake is policy.Wake.INTERRUPT
    else:
        assert wake is policy.Wake.NOTHING


@light
@given(states(), st.sampled_from(SLOT_KINDS))
def test_acks_travel_cheaply_unless_that_would_hold_them(
    state: policy.PoolState, mechanism: str
) -> None:
    after, route = policy.route_ack(state, mechanism)  # type: ignore[arg-type]
    if state.stopping:
        assert route is policy.AckRoute.NOW
    elif mechanism == "process":
        assert route is policy.AckRoute.RUNNER_CLAIM
    elif state.phase is policy.Phase.WAITING:
        assert route is policy.AckRoute.NOW
    else:
        assert route is policy.AckRoute.NEXT_CLAIM
    held = after.pending_acks - state.pending_acks
    assert held == (1 if route is policy.AckRoute.NEXT_CLAIM else 0)


@light
@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.one_of(st.none(), st.integers(0, 10_000)),
    st.integers(1, 5_000),
)
def test_a_thread_timeout_raises_then_abandons(
    now: int, deadline: int, interrupted_at: int | None, grace: int
) -> None:
    action, due = watchdog.thread_timeout(now, deadline, interrupted_at, grace)
    if interrupted_at is None:
        expected = (
            watchdog.TimeoutAction.RAISE if now >= deadline else watchdog.TimeoutAction.NOTHING
        )
    else:
        late = now >= interrupted_at + grace
        expected = watchdog.TimeoutAction.ABANDON if late else watchdog.TimeoutAction.NOTHING
    assert action is expected
    assert due >= now or action is watchdog.TimeoutAction.NOTHING


@light
@given(st.integers(1, 40), st.integers(1, 600_000))
def test_failed_renewals_are_retried_soon_and_never_later_than_the_interval(
    failures: int, lease_ms: int
) -> None:
    wait = policy.retry_renewal_after(failures, lease_ms)
    assert 1 <= wait <= max(lease_ms // 10, 1) <= renew_interval(lease_ms)
    assert wait <= policy.retry_renewal_after(failures + 1, lease_ms)


@light
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 10**6))
def test_a_lease_is_fresh_with_more_than_half_left(expires: int, now: int, lease: int) -> None:
    assert policy.lease_is_fresh(expires, now, lease) == (expires - now > lease // 2)


@light
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 10**6))
def test_a_runner_starts_only_under_a_lease_it_can_vouch_for(
    deadline: int, now: int, lease: int
) -> None:
    check = policy.start_check(deadline, now, lease)
    assert (check is policy.StartCheck.START) == policy.lease_is_fresh(deadline, now, lease)
    if check is policy.StartCheck.START:
        # Nobody else can claim it before the pool's next renewal is due.
        assert deadline - now > renew_interval(lease)
    else:
        # Waiting never makes a lease one can vouch for again: only a renewal does.
        assert policy.start_check(deadline, now + 1, lease) is policy.StartCheck.RENEW_FIRST
    if deadline <= now:
        assert check is policy.StartCheck.RENEW_FIRST


@light
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**5), st.integers(0, 9))
def test_the_drain_waits_out_the_grace_then_hands_back(
    now: int, started: int, grace: int, running: int
) -> None:
    action, until = policy.drain(now, started, grace, running)
    if running == 0:
        assert action is policy.DrainAction.DONE
    elif now < started + grace:
        assert action is policy.DrainAction.WAIT and until == started + grace > now
    else:
        assert action is policy.DrainAction.HAND_BACK


@light
@given(states())
def test_kept_acks_are_counted_and_flushing_clears_them(state: policy.PoolState) -> None:
    kept = policy.keep_ack(state)
    assert kept.pending_acks == state.pending_acks + 1
    assert policy.flushed(kept).pending_acks == 0
    assert policy.stop(state).stopping


@light
@given(st.integers(0, 8), st.integers(0, 8), st.integers(0, 3), st.integers(0, 8))
def test_task_processes_start_on_demand_within_the_limit(
    alive: int, busy: int, starting: int, limit: int
) -> None:
    busy = min(busy, alive)
    wanted = policy.children_to_start(alive, busy, starting, limit)
    assert wanted in (0, 1)
    assert alive + starting + wanted <= max(limit, alive + starting)
    if limit > 0 and alive + starting == 0:
        assert wanted == 1  # someone must watch for process work
    if wanted:
        assert alive + starting == 0 or (busy == alive and starting == 0)


@light
@given(
    st.dictionaries(st.integers(0, 9), st.integers(0, 10_000), max_size=6),
    st.integers(0, 20_000),
    st.integers(1, 10_000),
    st.integers(0, 4),
)
def test_idle_task_processes_retire_but_one_stays(
    idle_since: dict[int, int], now: int, idle_ms: int, busy: int
) -> None:
    alive = len(idle_since) + busy
    retired = policy.children_to_retire(idle_since, now, idle_ms, alive)
    assert set(retired) <= set(idle_since)
    assert all(now - idle_since[number] >= idle_ms for number in retired)
    assert len(retired) < max(alive, 1)  # at least one stays alive
