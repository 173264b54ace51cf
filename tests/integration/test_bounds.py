"""Bounds on delay, ttl, timeout and priority: the same check, and the same error, on every
backend, at task definition and at ``generate()``, before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from alsek import defaults
from alsek.core import Broker, task
from alsek.core.consumer import Consumer
from alsek.effects.backends.base import Backend
from alsek.exceptions import ValidationError
from alsek.storage.result import ResultStore

TOO_BIG_DURATION = defaults.MAX_DURATION_MS + 1

#: (field, bad value, what the error must say).
GENERATE_CASES = [
    ("delay", 10**20, f"delay must be an int >= 0 and <= {defaults.MAX_DELAY_MS}"),
    ("delay", TOO_BIG_DURATION, f"<= {defaults.MAX_DELAY_MS}"),
    ("delay", -1, "delay must be an int >= 0"),
    (
        "result_ttl",
        TOO_BIG_DURATION,
        f"result_ttl must be an int >= 1 and <= {defaults.MAX_TTL_MS}",
    ),
    ("result_ttl", 0, "result_ttl must be an int >= 1"),
    ("timeout", 10**20, f"timeout must be an int >= 1 and <= {defaults.MAX_TIMEOUT_MS}"),
    (
        "priority",
        2**40,
        f"priority must be an int >= {defaults.MIN_PRIORITY} and <= {defaults.MAX_PRIORITY}",
    ),
    ("priority", -(2**40), f"<= {defaults.MAX_PRIORITY}"),
    ("priority", 1.5, "priority must be an int"),
    ("delay", True, "delay must be an int"),
]
DEFINITION_CASES = [case for case in GENERATE_CASES if case[0] in ("timeout", "priority")]


def error_of(call: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(("field", "value", "says"), GENERATE_CASES)
def test_generate_refuses_out_of_range_values_and_writes_nothing(
    any_backend: Backend, field: str, value: Any, says: str
) -> None:
    @task(Broker(any_backend), name="bd_generated", mechanism="thread")
    def bd_generated() -> None:
        return None

    text = error_of(lambda: bd_generated.generate(**{field: value}))
    assert says in text
    assert text.endswith(f"got {value!r}")
    assert any_backend.count() == 0
    # Deferred (not submitted) messages are checked the same way.
    assert error_of(lambda: bd_generated.defer().generate(**{field: value})) == text
    assert error_of(lambda: bd_generated.generate(submit=False, **{field: value})) == text


@pytest.mark.parametrize(("field", "value", "says"), DEFINITION_CASES)
def test_definition_and_generate_fail_the_same_way(
    any_backend: Backend, field: str, value: Any, says: str
) -> None:
    broker = Broker(any_backend)
    at_definition = error_of(lambda: task(broker, name="bd_defined", **{field: value})(len))
    assert says in at_definition

    @task(broker, name="bd_defined", mechanism="thread")
    def bd_defined() -> None:
        return None

    assert error_of(lambda: bd_defined.generate(**{field: value})) == at_definition
    assert any_backend.count() == 0


def test_values_at_the_limits_are_stored_and_read_back_exactly(any_backend: Backend) -> None:
    broker = Broker(any_backend)
    store = ResultStore(any_backend)

    @task(
        broker,
        name="bd_limits",
        mechanism="thread",
        result_store=store,
        timeout=defaults.MAX_TIMEOUT_MS,
        priority=defaults.MAX_PRIORITY,
    )
    def bd_limits() -> None:
        return None

    late = bd_limits.generate(delay=defaults.MAX_DELAY_MS, result_ttl=defaults.MAX_TTL_MS)
    first = bd_limits.generate(priority=defaults.MIN_PRIORITY)
    last = bd_limits.generate()
    for message in (late, first, last):
        assert broker.sync(message) == message
    assert broker.counts("alsek_queue") == {"ready": 2, "delayed": 1, "leased": 0}
    claimed = Consumer(broker).claim(("thread",), 3).messages
    assert [m.uuid for m in claimed] == [first.uuid, last.uuid]
    store.set(claimed[0], "kept")  # the longest result ttl is accepted too
    assert store.get(first) == "kept"


def test_a_nack_delay_past_the_limit_leaves_the_message_as_it_was(any_backend: Backend) -> None:
    broker = Broker(any_backend)

    @task(broker, name="bd_nacked", mechanism="thread")
    def bd_nacked() -> None:
        return None

    message = bd_nacked.generate()
    (claimed,) = Consumer(broker).claim(("thread",), 1).messages
    assert "Message.delay must be an int >= 0 and <= " in error_of(
        lambda: broker.nack(claimed, delay=TOO_BIG_DURATION)
    )
    assert broker.sync(message) == message
    assert broker.counts("alsek_queue")["leased"] == 1
