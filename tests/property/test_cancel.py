"""Stopping a cancelled running job: stop once, wait out the grace, then force."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alsek.pure.cancel import StopAction, cancel_marker_name, stop_step
from tests.property.strategies import light

times = st.integers(0, 10**13)
graces = st.integers(0, 10**6)


@light
@given(times, graces)
def test_a_job_not_yet_stopped_is_stopped_now(now: int, grace: int) -> None:
    action, again = stop_step(now, None, grace)
    assert action is StopAction.STOP and again == now + grace


@light
@given(times, st.integers(0, 10**6), graces)
def test_a_stopped_job_gets_its_grace_then_is_forced(
    stopped_at: int, elapsed: int, grace: int
) -> None:
    now = stopped_at + elapsed
    action, again = stop_step(now, stopped_at, grace)
    if elapsed >= grace:
        assert action is StopAction.FORCE and again == now
    else:
        assert action is StopAction.WAIT and again == stopped_at + grace > now


@light
@given(times, graces)
def test_stopping_never_repeats_the_first_step(now: int, grace: int) -> None:
    """Once stopped, a job is only ever waited on or forced: never stopped twice."""
    _, again = stop_step(now, None, grace)
    for later in (now, again, again + 1):
        assert stop_step(later, now, grace)[0] is not StopAction.STOP


def test_requests_are_named_after_the_message() -> None:
    name = "queues:q:tasks:t:messages:u"
    assert cancel_marker_name(name) == f"cancel:{name}"
