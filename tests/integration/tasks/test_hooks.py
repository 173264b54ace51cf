"""A base task's ``pre_op`` and ``post_op`` hooks around the function.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.core.task import Task
from tests.support.tasks_helpers import (
    run_one,
    run_ready,
)


def test_pre_op_and_post_op_surround_the_function(broker: Broker) -> None:
    events: list[tuple[Any, ...]] = []

    class Recording(Task):
        def pre_op(self, message: Message) -> None:
            events.append(("pre", message.uuid, message.lock is not None))

        def post_op(self, message: Message, result: Any) -> None:
            events.append(("post", message.uuid, result))

    @task(broker, base_task=Recording)
    def tt_hooked(x: int) -> int:
        events.append(("run", x))
        return x * 10

    message = tt_hooked.generate(args=(4,))
    run_ready(broker)
    assert events == [("pre", message.uuid, True), ("run", 4), ("post", message.uuid, 40)]


def test_post_op_is_skipped_when_the_function_raises(broker: Broker) -> None:
    events: list[str] = []

    class Recording(Task):
        def pre_op(self, message: Message) -> None:
            events.append("pre")

        def post_op(self, message: Message, result: Any) -> None:
            events.append("post")

    @task(broker, base_task=Recording, max_retries=0)
    def tt_raises() -> None:
        events.append("run")
        raise RuntimeError("no")

    tt_raises.generate()
    run_ready(broker)
    assert events == ["pre", "run"]


@pytest.mark.parametrize("hook", ["pre_op", "post_op"])
def test_a_raising_pre_or_post_op_fails_the_run_and_is_retried(broker: Broker, hook: str) -> None:
    runs: list[int] = []

    def explode(self: Task, *args: Any) -> None:
        raise LookupError(f"{hook} broke")

    Broken = type("Broken", (Task,), {hook: explode})

    @task(broker, base_task=Broken, max_retries=1, backoff=None)
    def tt_hook_breaks() -> int:
        runs.append(1)
        return 1

    message = tt_hook_breaks.generate()
    assert run_one(broker).accepted
    assert broker.sync(message).retries == 1
    assert runs == ([] if hook == "pre_op" else [1])
    run_ready(broker)
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid
    assert f"LookupError: {hook} broke" in record.reason
