"""decide(): exactly one terminal effect, in the order the shell must act."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek import defaults
from alsek.pure.backoff import backoff_from_settings
from alsek.pure.callbacks import attach, has_callback
from alsek.pure.decisions import (
    Ack,
    Cancel,
    DeadLetter,
    Effect,
    RecordFailure,
    Reschedule,
    StoreResult,
    SubmitCallback,
    decide,
    decide_on_claim,
    reject,
)
from alsek.pure.message import Message
from alsek.pure.outcome import (
    Cancelled,
    Crashed,
    Failed,
    Outcome,
    Succeeded,
    TimedOut,
    failure_of,
    outcome_name,
)
from alsek.pure.policy import TaskPolicy, default_should_retry
from tests.property.strategies import (
    MAX_TIME,
    backoffs,
    cancelled,
    crashed,
    failed,
    heavy,
    light,
    medium,
    outcomes,
    policies,
    small_messages,
    succeeded,
    timed_out,
)

nows = st.integers(min_value=0, max_value=MAX_TIME)
TERMINAL = (Ack, Reschedule, DeadLetter, Cancel)


_small = small_messages()
_any_backoff = st.none() | backoffs


@st.composite
def chained_messages(draw: st.DrawFn) -> Message:
    """Messages with and without callbacks and backoffs, storing results or not."""
    message = draw(_small)
    if draw(st.booleans()):
        backoff = draw(_any_backoff)
        message = attrs.evolve(message, backoff_settings=backoff and backoff.settings)
    if draw(st.booleans()):
        message = attach(message, draw(_small))
    return message


def terminal_of(effects: tuple[Effect, ...]) -> Effect:
    """The single terminal effect, checked to be last."""
    terminals = [effect for effect in effects if isinstance(effect, TERMINAL)]
    assert len(terminals) == 1, effects
    assert effects[-1] is terminals[0]
    return terminals[0]


def expected_retry_delay(message: Message) -> int:
    """Backoff for the next incident count, clamped by the record itself and by the
    longest delay a message may have."""
    backoff = backoff_from_settings(message.backoff_settings)
    if backoff is None:
        return 0
    delay = backoff.get(message.retries + 1)
    if backoff.floor is not None:
        assert delay >= backoff.floor
    if backoff.ceiling is not None:
        assert delay <= backoff.ceiling
    return min(delay, defaults.MAX_DELAY_MS)


@heavy
@given(chained_messages(), policies, outcomes, nows)
def test_exactly_one_terminal_effect_and_it_is_last(
    message: Message, policy: TaskPolicy, outcome: Outcome, now: int
) -> None:
    effects = decide(message, policy, outcome, now)
    terminal = terminal_of(effects)
    assert all(
        effect.message.uuid == message.uuid
        for effect in effects
        if not isinstance(effect, SubmitCallback)
    )
    if not isinstance(outcome, Succeeded):
        assert len(effects) == 2 and isinstance(effects[0], RecordFailure)
        assert not isinstance(terminal, Ack)


def outcome_of_failure(effects: tuple[Effect, ...]) -> tuple[RecordFailure, Effect]:
    """The failure record and the terminal effect that follow anything but a success."""
    record, terminal = effects
    assert isinstance(record, RecordFailure)
    return record, terminal


@heavy
@given(chained_messages(), policies, st.one_of(failed, timed_out, crashed, cancelled), nows)
def test_every_failure_is_recorded_with_its_error_and_whether_it_is_final(
    message: Message, policy: TaskPolicy, outcome: Outcome, now: int
) -> None:
    record, terminal = outcome_of_failure(decide(message, policy, outcome, now))
    assert record.message == message and record.at == now
    assert record.error == failure_of(outcome)
    assert record.outcome == outcome_name(outcome)
    assert record.attempts == message.retries + 1
    # Final exactly when nothing will run the message again.
    assert record.final is (not isinstance(terminal, Reschedule))


@heavy
@given(chained_messages(), policies, cancelled, nows)
def test_a_cancelled_message_is_removed_and_never_retried(
    message: Message, policy: TaskPolicy, outcome: Cancelled, now: int
) -> None:
    record, terminal = outcome_of_failure(decide(message, policy, outcome, now))
    assert terminal == Cancel(message, outcome.reason, now)
    assert record.final and record.outcome == "cancelled"
    assert record.error.type_name == "TaskCancelledError"
    assert record.error.message == outcome.reason


@heavy
@given(chained_messages(), policies, succeeded, nows)
def test_success(message: Message, policy: TaskPolicy, outcome: Succeeded, now: int) -> None:
    effects = decide(message, policy, outcome, now)
    kinds = [type(effect) for effect in effects]
    expected: list[type[Any]] = []
    if message.store_result:
        expected.append(StoreResult)
    if outcome.callback_approved and has_callback(message):
        expected.append(SubmitCallback)
    expected.append(Ack)
    assert kinds == expected
    assert effects[-1] == Ack(message)
    for effect in effects:
        if isinstance(effect, StoreResult):
            assert effect.ttl == message.result_ttl
            assert effect.result == outcome.result
            assert effect.message == message
        if isinstance(effect, SubmitCallback):
            follower = effect.message
            assert follower.previous_result == outcome.result
            assert follower.progenitor == message.uuid
            assert follower.updated_at == now
            assert message.callback_message_data is not None
            assert follower.uuid == message.callback_message_data["uuid"]


@heavy
@given(chained_messages(), policies, st.one_of(failed, timed_out, crashed, cancelled), nows)
def test_no_result_and_no_callback_without_success(
    message: Message, policy: TaskPolicy, outcome: Outcome, now: int
) -> None:
    effects = decide(message, policy, outcome, now)
    assert not any(isinstance(effect, (StoreResult, SubmitCallback)) for effect in effects)


@heavy
@given(chained_messages(), policies, st.one_of(failed, timed_out), nows)
def test_failure_retries_with_backoff_or_dead_letters(
    message: Message, policy: TaskPolicy, outcome: Failed | TimedOut, now: int
) -> None:
    _, effect = outcome_of_failure(decide(message, policy, outcome, now))
    if outcome.retry_approved:
        assert isinstance(effect, Reschedule) and effect.kind == "retry"
        new = effect.message
        assert new.retries == message.retries + 1
        assert new.delay == expected_retry_delay(message)
        assert new.updated_at == now and new.ready_at == now + new.delay
        assert new.deliveries == 0 and new.lock is None
        assert new.uuid == message.uuid
    else:
        assert isinstance(effect, DeadLetter)
        assert effect.message == message
        assert effect.at == now
        assert effect.reason
        if isinstance(outcome, Failed):
            assert outcome.error.type_name in effect.reason
        else:
            assert "Timeout" in effect.reason


@heavy
@given(small_messages(), policies, crashed, nows)
def test_crash_redelivers_until_the_limit(
    message: Message, policy: TaskPolicy, outcome: Crashed, now: int
) -> None:
    _, effect = outcome_of_failure(decide(message, policy, outcome, now))
    if message.deliveries <= policy.max_redeliveries:
        assert isinstance(effect, Reschedule) and effect.kind == "redeliver"
        again = effect.message
        assert (again.retries, again.deliveries) == (message.retries, message.deliveries)
        assert again.lock is None and again.ready_at == now
        assert (
            attrs.evolve(
                again, updated_at=message.updated_at, delay=message.delay, lock=message.lock
            )
            == message
        )
    else:
        assert isinstance(effect, DeadLetter)
        assert effect.message == message and effect.at == now
        assert outcome.detail in effect.reason


@light
@given(st.integers(0, 12), st.integers(0, 8), nows)
def test_decide_on_claim_dead_letters_crash_loops(deliveries: int, limit: int, now: int) -> None:
    message = Message(task_name="t", uuid="u", created_at=0, deliveries=deliveries)
    effects = decide_on_claim(message, TaskPolicy(max_redeliveries=limit), now)
    if deliveries - 1 > limit:
        (effect,) = effects
        assert isinstance(effect, DeadLetter) and effect.message == message and effect.at == now
    else:
        assert effects == ()


@light
@given(st.integers(0, 12), st.integers(0, 8), nows)
def test_claim_check_and_crash_outcome_agree(deliveries: int, limit: int, now: int) -> None:
    """A message whose crash was observed is never run again past the limit."""
    message = Message(task_name="t", uuid="u", created_at=0, deliveries=deliveries)
    policy = TaskPolicy(max_redeliveries=limit)
    _, effect = outcome_of_failure(decide(message, policy, Crashed("lost"), now))
    if isinstance(effect, Reschedule):
        # The redelivered message is claimed with one more delivery: it may run.
        claimed_again = attrs.evolve(effect.message, deliveries=deliveries + 1)
        assert decide_on_claim(claimed_again, policy, now) == ()


@medium
@given(small_messages(), st.text(min_size=1, max_size=20), nows)
def test_reject_dead_letters_with_the_reason(message: Message, reason: str, now: int) -> None:
    assert reject(message, reason, now) == (DeadLetter(message, reason, now),)


@light
@given(st.integers(0, 30), st.none() | st.integers(0, 30))
def test_default_should_retry(retries: int, max_retries: int | None) -> None:
    message = Message(task_name="t", uuid="u", created_at=0, retries=retries)
    expected = True if max_retries is None else retries < max_retries
    assert default_should_retry(message, max_retries) is expected


def test_default_should_retry_none_means_forever() -> None:
    message = Message(task_name="t", uuid="u", created_at=0, retries=10**9)
    assert default_should_retry(message, None)
    assert not default_should_retry(message, 10**9)


@pytest.mark.parametrize("outcome", ["finished", None, Succeeded])
def test_unknown_outcome_is_a_type_error(outcome: Any) -> None:
    message = Message(task_name="t", uuid="u", created_at=0)
    with pytest.raises(TypeError, match="unknown outcome"):
        decide(message, TaskPolicy(), outcome, 0)
