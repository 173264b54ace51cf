"""What a failed run leaves behind: its error described, and the record kept of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alsek.pure import codec
from alsek.pure.decisions import RecordFailure, decide
from alsek.pure.failure import FailureRecord, error_name, failure_record
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
from alsek.pure.policy import TaskPolicy
from tests.property.strategies import (
    MAX_TIME,
    cancelled,
    crashed,
    failed,
    light,
    medium,
    outcomes,
    policies,
    small_messages,
    succeeded,
    timed_out,
)

nows = st.integers(min_value=0, max_value=MAX_TIME)


@light
@given(outcomes)
def test_every_outcome_has_one_name_and_only_a_success_has_no_error(outcome: Outcome) -> None:
    name = outcome_name(outcome)
    assert name in {"succeeded", "failed", "timed_out", "crashed", "cancelled"}
    assert (failure_of(outcome) is None) is isinstance(outcome, Succeeded)


@light
@given(failed)
def test_a_failure_is_described_by_the_task_s_own_error(outcome: Failed) -> None:
    assert failure_of(outcome) == outcome.error


@light
@given(st.one_of(timed_out, crashed, cancelled))
def test_timeouts_crashes_and_cancels_read_as_typed_errors(
    outcome: TimedOut | Crashed | Cancelled,
) -> None:
    error = failure_of(outcome)
    assert error is not None
    if isinstance(outcome, TimedOut):
        assert error.type_name == "TaskTimeoutError"
        assert str(outcome.timeout) in error.message
        assert error.traceback == outcome.traceback
    elif isinstance(outcome, Crashed):
        assert (error.type_name, error.message) == ("TaskCrashedError", outcome.detail)
    else:
        assert (error.type_name, error.message) == ("TaskCancelledError", outcome.reason)


@medium
@given(small_messages(), policies, st.one_of(failed, timed_out, crashed, cancelled), nows)
def test_the_stored_record_keeps_every_detail_and_round_trips(
    message: object, policy: TaskPolicy, outcome: Outcome, now: int
) -> None:
    effects = decide(message, policy, outcome, now)  # type: ignore[arg-type]
    effect = effects[0]
    assert isinstance(effect, RecordFailure)
    record = failure_record(effect)
    error = failure_of(outcome)
    assert error is not None
    assert (record.type_name, record.message, record.traceback) == (
        error.type_name,
        error.message,
        error.traceback,
    )
    assert record.uuid == effect.message.uuid and record.task == effect.message.task_name
    assert record.queue == effect.message.queue
    assert (record.attempts, record.final, record.at) == (effect.attempts, effect.final, now)
    assert record.deliveries == effect.message.deliveries
    assert codec.structure(codec.unstructure(record), FailureRecord) == record
    assert record.summary.startswith(error.type_name)


@light
@given(succeeded)
def test_a_success_records_no_failure(outcome: Succeeded) -> None:
    from alsek.pure.message import Message

    message = Message(task_name="t", uuid="u", created_at=0)
    assert not any(isinstance(e, RecordFailure) for e in decide(message, TaskPolicy(), outcome, 0))


@light
@given(st.from_regex(r"[a-f0-9-]{1,36}", fullmatch=True))
def test_errors_live_under_their_own_prefix(uuid: str) -> None:
    assert error_name(uuid) == f"errors:{uuid}"
