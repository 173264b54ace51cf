"""Task options on real backends: what ``@task`` accepts, refuses and passes on.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, task
from alsek.core.backoff import ExponentialBackoff, LinearBackoff
from alsek.core.task import Task, TriggerTask
from alsek.exceptions import (
    ValidationError,
)
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.result import ResultStore


def test_task_defaults(disk_broker: Broker) -> None:
    @task(disk_broker)
    def tt_add(a: int, b: int) -> int:
        """Adds."""
        return a + b

    assert isinstance(tt_add, Task) and not isinstance(tt_add, TriggerTask)
    assert tt_add.name == "tt_add"
    assert tt_add.queue == "alsek_queue"
    assert tt_add.priority == 0
    assert tt_add.timeout == 3_600_000
    assert tt_add.max_retries == 3
    assert tt_add.backoff == ExponentialBackoff()
    assert tt_add.mechanism == "process"
    assert tt_add.result_store is None and tt_add.store_result is False
    assert tt_add(2, 3) == 5  # still a plain function
    assert tt_add.__doc__ == "Adds."
    message = tt_add.generate(args=(2, 3), submit=False)
    assert message.task_name == "tt_add"
    assert message.queue == "alsek_queue"
    assert message.timeout == 3_600_000
    assert message.mechanism == "process"
    assert message.store_result is False
    assert message.backoff_settings == ExponentialBackoff().settings


def test_task_options_reach_the_task_and_its_messages(disk_broker: Broker) -> None:
    store = ResultStore(disk_broker.backend)
    backoff = LinearBackoff(factor=5_000, floor=0, ceiling=None)

    class Custom(Task):
        pass

    @task(
        disk_broker,
        name="tt_custom_name",
        queue="tt_q",
        priority=5,
        timeout=1_000,
        max_retries=7,
        backoff=backoff,
        mechanism="thread",
        result_store=store,
        base_task=Custom,
    )
    def tt_options() -> str:
        return "ran"

    assert isinstance(tt_options, Custom)
    assert (tt_options.name, tt_options.queue, tt_options.priority) == ("tt_custom_name", "tt_q", 5)
    assert (tt_options.timeout, tt_options.max_retries) == (1_000, 7)
    assert tt_options.mechanism == "thread"
    assert tt_options.result_store is store and tt_options.store_result is True
    assert tt_options() == "ran"
    message = tt_options.generate(submit=False)
    assert message.task_name == "tt_custom_name"
    assert message.queue == "tt_q"
    assert message.priority == 5
    assert message.timeout == 1_000
    assert message.mechanism == "thread"
    assert message.store_result is True
    assert message.backoff_settings == backoff.settings


def test_backoff_none_means_no_backoff_settings(disk_broker: Broker) -> None:
    @task(disk_broker, backoff=None, max_retries=None)
    def tt_no_backoff() -> None:
        return None

    assert tt_no_backoff.backoff is None and tt_no_backoff.max_retries is None
    assert tt_no_backoff.generate(submit=False).backoff_settings is None


def tt_plain() -> int:
    return 1


def tt_with_parameter(x: int) -> int:
    return x


@pytest.mark.parametrize(
    ("options", "function", "match"),
    [
        ({"mechanism": "fiber"}, tt_plain, "mechanism must be 'process' or 'thread'.*fiber"),
        ({"timeout": 0}, tt_plain, "timeout must be an int >= 1 and <= .*, got 0"),
        ({"timeout": -5}, tt_plain, "timeout must be an int >= 1 and <= .*, got -5"),
        ({"backoff": 5}, tt_plain, "backoff must be a Backoff instance or None, got 5"),
        ({"backoff": ExponentialBackoff}, tt_plain, "backoff must be a Backoff instance"),
        ({"max_retries": -1}, tt_plain, "max_retries must be an int >= 0"),
        ({"base_task": object}, tt_plain, "base_task must be a subclass of Task"),
        ({"base_task": "Task"}, tt_plain, "base_task must be a subclass of Task"),
        ({"store_result": True}, tt_plain, "store_result=True needs a result_store"),
        ({"name": "tt:bad"}, tt_plain, "must not contain ':'"),
        (
            {"trigger": IntervalTrigger(hours=1)},
            tt_with_parameter,
            "has a trigger, so its function may not take parameters.*x",
        ),
        ({"trigger": "hourly"}, tt_plain, "trigger must be an APScheduler trigger"),
    ],
    ids=[
        "mechanism",
        "zero-timeout",
        "negative-timeout",
        "backoff-int",
        "backoff-class",
        "max-retries",
        "base-object",
        "base-str",
        "store-result",
        "name",
        "trigger-params",
        "trigger-str",
    ],
)
def test_invalid_options_are_refused_at_decoration(
    disk_broker: Broker, options: dict[str, Any], function: Callable[..., Any], match: str
) -> None:
    decorator = task(disk_broker, **options)
    with pytest.raises(ValidationError, match=match):
        decorator(function)


@pytest.mark.parametrize("base", [object, int, "Task"], ids=["object", "int", "str"])
def test_a_non_task_base_task_is_refused_with_a_trigger_too(disk_broker: Broker, base: Any) -> None:
    with pytest.raises(ValidationError, match="base_task must be a subclass of Task"):
        task(disk_broker, trigger=IntervalTrigger(hours=1), base_task=base)(tt_plain)


@pytest.mark.parametrize(
    "not_a_broker",
    [None, "redis://localhost", DiskCacheBackend],
    ids=["none", "url", "backend-class"],
)
def test_task_needs_a_broker(not_a_broker: Any) -> None:
    with pytest.raises(ValidationError, match="@task needs a Broker"):
        task(not_a_broker)


def test_bare_task_decorator_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"write @task\(broker, \.\.\.\)"):
        task(tt_plain)
