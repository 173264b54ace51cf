"""Generating messages on real backends: generate, submit, defer, payloads.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.effects.clock import utcnow_ms
from alsek.exceptions import (
    MessageExistsError,
    SerializationError,
    ValidationError,
)
from tests.support.tasks_helpers import (
    queued,
)


def test_generate_sets_every_message_field(broker: Broker) -> None:
    @task(broker, queue="tt_main", priority=2)
    def tt_fields(a: int, b: int = 0) -> int:
        return a + b

    before = utcnow_ms()
    message = tt_fields.generate(
        args=(1, 2),
        kwargs={"b": 3},
        priority=7,
        metadata={"who": "me"},
        result_ttl=5_000,
        delay=60_000,
        uuid="tt-fixed-uuid",
        queue="tt_other",
        timeout=1_234,
        previous_result=[1, "x"],
    )
    assert message.args == (1, 2) and message.kwargs == {"b": 3}
    assert message.priority == 7
    assert message.metadata == {"who": "me"}
    assert message.result_ttl == 5_000
    assert message.delay == 60_000
    assert message.uuid == "tt-fixed-uuid"
    assert message.queue == "tt_other"
    assert message.timeout == 1_234
    assert message.previous_result == [1, "x"]
    assert message.retries == 0 and message.progenitor is None
    assert before <= message.created_at <= utcnow_ms()
    assert broker.exists(message)
    name = "queues:tt_other:tasks:tt_fields:messages:tt-fixed-uuid"
    assert broker.get_message_name(message) == name
    assert broker.sync(message) == message
    assert broker.counts("tt_other") == {"ready": 0, "delayed": 1, "leased": 0}
    assert broker.counts("tt_main") == {"ready": 0, "delayed": 0, "leased": 0}


def test_generate_defaults_come_from_the_task(broker: Broker) -> None:
    @task(broker, queue="tt_main", priority=2, timeout=999)
    def tt_defaults() -> None:
        return None

    message = tt_defaults.generate()
    assert (message.queue, message.priority, message.timeout) == ("tt_main", 2, 999)
    assert message.args == () and message.kwargs == {} and message.delay == 0
    assert broker.counts("tt_main") == {"ready": 1, "delayed": 0, "leased": 0}
    with pytest.raises(MessageExistsError):
        tt_defaults.generate(uuid=message.uuid)


def test_submit_false_builds_without_submitting(broker: Broker) -> None:
    @task(broker)
    def tt_quiet() -> None:
        return None

    message = tt_quiet.generate(submit=False)
    assert not broker.exists(message)
    assert queued(broker) == []
    broker.submit(message)  # it can still be submitted later
    assert broker.exists(message)


def test_defer_skips_one_submission_and_generate_cancels_it(broker: Broker) -> None:
    @task(broker)
    def tt_deferred() -> None:
        return None

    assert tt_deferred.defer() is tt_deferred
    assert tt_deferred.deferred
    skipped = tt_deferred.generate()
    assert not tt_deferred.deferred  # cancelled by generate()
    assert not broker.exists(skipped)
    sent = tt_deferred.generate()
    assert broker.exists(sent)
    tt_deferred.defer()
    also_skipped = tt_deferred.generate(submit=True)  # defer wins over submit=True
    assert not broker.exists(also_skipped)
    assert [m.uuid for m in queued(broker)] == [sent.uuid]


def test_defers_stack(broker: Broker) -> None:
    @task(broker)
    def tt_stacked() -> None:
        return None

    tt_stacked.defer().defer().defer()
    tt_stacked.cancel_defer()
    first, second = tt_stacked.generate(), tt_stacked.generate()
    assert not tt_stacked.deferred
    third = tt_stacked.generate()
    assert not broker.exists(first) and not broker.exists(second)
    assert [m.uuid for m in queued(broker)] == [third.uuid]


def test_defer_is_per_thread(broker: Broker) -> None:
    @task(broker)
    def tt_threaded() -> None:
        return None

    tt_threaded.defer()
    elsewhere: list[Message] = []
    thread = threading.Thread(target=lambda: elsewhere.append(tt_threaded.generate()))
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert broker.exists(elsewhere[0])  # another thread's generate() is not deferred
    assert not broker.exists(tt_threaded.generate())  # this thread's is


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"delay": -1}, "delay must be an int >= 0"),
        ({"priority": "high"}, "priority must be an int"),
        ({"result_ttl": 0}, "result_ttl must be an int >= 1"),
        ({"timeout": 0}, "timeout must be an int >= 1"),
        ({"queue": "a:b"}, "must not contain ':'"),
        ({"kwargs": {1: "x"}}, "kwargs must be a dict with str keys"),
    ],
    ids=["delay", "priority", "result_ttl", "timeout", "queue", "kwargs"],
)
def test_invalid_generate_values_are_refused_and_submit_nothing(
    broker: Broker, fields: dict[str, Any], match: str
) -> None:
    @task(broker)
    def tt_validated(*args: Any, **kwargs: Any) -> None:
        return None

    with pytest.raises(ValidationError, match=match):
        tt_validated.generate(**fields)
    assert list(broker.backend.scan("queues")) == []


@pytest.mark.parametrize(
    "fields",
    [{"args": (object(),)}, {"kwargs": {"x": {1, 2}}}, {"metadata": object()}],
    ids=["args", "kwargs", "metadata"],
)
def test_unencodable_arguments_fail_at_generate_and_submit_nothing(
    broker: Broker, fields: dict[str, Any]
) -> None:
    @task(broker)
    def tt_takes_anything(*args: Any, **kwargs: Any) -> None:
        return None

    with pytest.raises(SerializationError) as info:
        tt_takes_anything.generate(**fields)
    assert isinstance(info.value, TypeError)
    assert "queues:alsek_queue:tasks:tt_takes_anything:messages:" in str(info.value)
    assert list(broker.backend.scan("queues")) == []
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


def test_message_payloads_round_trip_through_the_broker(broker: Broker) -> None:
    @task(broker)
    def tt_round_trip(*args: Any, **kwargs: Any) -> None:
        return None

    message = tt_round_trip.generate(
        args=(1, "two", [3]), kwargs={"k": {"n": None}}, metadata=[1, 2]
    )
    (stored,) = queued(broker)
    assert stored == message
