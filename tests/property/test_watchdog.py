"""The pool's watchdog (``alsek.pure.watchdog``) for coroutines and task processes, and
the slot kind of a message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alsek.pure import watchdog
from alsek.pure.message import MECHANISMS, SLOT_KINDS, Message, slot_kind_of
from alsek.pure.queue_model import entry_for
from tests.property.strategies import light, messages

times = st.integers(0, 10**9)
spans = st.integers(0, 10**6)


@light
@given(times, times, spans)
def test_a_coroutine_is_given_up_on_only_a_grace_after_its_deadline(
    now: int, deadline: int, grace: int
) -> None:
    action, due = watchdog.coroutine_timeout(now, deadline, grace)
    if now < deadline + grace:
        assert action is watchdog.TimeoutAction.NOTHING and due == deadline + grace > now
    else:
        assert action is watchdog.TimeoutAction.ABANDON and due == now
    # Never raises into it: its own asyncio.timeout cancels it.
    assert action is not watchdog.TimeoutAction.RAISE


@light
@given(times, st.integers(1, 10**8), st.booleans(), spans)
def test_a_process_running_a_coroutine_is_killed_after_the_coroutine_s_own_timeout(
    started: int, timeout: int, is_async: bool, grace: int
) -> None:
    deadline = watchdog.kill_deadline(started, timeout, is_async, grace)
    assert deadline >= started + timeout
    assert deadline == started + timeout + (grace if is_async else 0)


@light
@given(times, times, st.integers(1, 10**6))
def test_a_loop_is_stalled_once_its_beat_is_that_late(now: int, beat: int, stall: int) -> None:
    assert watchdog.loop_stalled(now, beat, stall) == (now - beat >= stall)
    assert not watchdog.loop_stalled(beat, beat, stall)


@light
@given(st.sampled_from(MECHANISMS), st.booleans())
def test_only_thread_mechanism_coroutines_take_an_event_loop_slot(
    mechanism: str, is_async: bool
) -> None:
    kind = slot_kind_of(mechanism, is_async)
    assert kind in SLOT_KINDS
    assert (kind == "async") == (is_async and mechanism == "thread")
    assert kind == mechanism or kind == "async"


@light
@given(messages())
def test_queues_index_a_message_by_its_slot_kind(message: Message) -> None:
    entry = entry_for(message, "name")
    assert entry.mechanism == message.slot_kind == slot_kind_of(message.mechanism, message.is_async)
