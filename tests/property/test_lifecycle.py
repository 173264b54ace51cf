"""The job lifecycle table: total, and a slot is given back exactly once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.pure.lifecycle import (
    LIVE,
    TABLE,
    TERMINAL,
    JobEvent,
    JobState,
    LifecycleError,
    holds_slot,
    step,
)

events = st.lists(st.sampled_from(list(JobEvent)), max_size=12)


@pytest.mark.parametrize("state", list(JobState))
@pytest.mark.parametrize("event", list(JobEvent))
def test_every_pair_is_defined_or_names_both(state: JobState, event: JobEvent) -> None:
    try:
        result = step(state, event)
    except LifecycleError as error:
        assert state.value in str(error) and event.value in str(error)
        assert (state, event) not in TABLE and state not in TERMINAL
    else:
        assert result.frees_slot == (holds_slot(state) and not holds_slot(result.state)) or (
            event is JobEvent.FOLLOW
        )


@pytest.mark.parametrize("state", sorted(TERMINAL, key=lambda s: s.value))
@pytest.mark.parametrize("event", list(JobEvent))
def test_terminal_states_ignore_everything(state: JobState, event: JobEvent) -> None:
    result = step(state, event)
    assert result.state is state and not result.frees_slot and not result.changed


@given(events)
def test_a_slot_is_given_back_exactly_once_or_passed_on(sequence: list[JobEvent]) -> None:
    state, freed, passed_on = JobState.CLAIMED, 0, False
    for event in sequence:
        try:
            result = step(state, event)
        except LifecycleError:
            continue  # the shell never sends these; the state is unchanged
        freed += result.frees_slot
        if event is JobEvent.FOLLOW and result.changed:
            passed_on = True
        state = result.state
    assert freed <= 1
    if state in TERMINAL:
        assert freed + passed_on == 1
    else:
        assert freed == 0 and state in LIVE


@given(events)
def test_abandon_always_ends_a_live_job(sequence: list[JobEvent]) -> None:
    state = JobState.CLAIMED
    for event in sequence:
        try:
            state = step(state, event).state
        except LifecycleError:
            continue
    final = step(state, JobEvent.ABANDON)
    assert final.state in TERMINAL
    assert final.frees_slot == (state in LIVE)
