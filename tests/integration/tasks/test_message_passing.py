"""A task's ``message`` parameter: when it receives the message.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest

from alsek.core import Broker, Message, task
from tests.support.tasks_helpers import (
    run_ready,
)


def test_a_message_parameter_receives_the_message(broker: Broker) -> None:
    seen: list[Any] = []

    @task(broker)
    def tt_wants_message(x: int, message: Message) -> None:
        seen.append((x, message))

    generated = tt_wants_message.generate(args=(5,))
    assert [r.accepted for r in run_ready(broker)] == [True]
    ((x, message),) = seen
    assert x == 5
    assert isinstance(message, Message)
    assert message.uuid == generated.uuid
    assert message.lock is not None and message.deliveries == 1  # the claimed message


def test_a_message_key_in_kwargs_wins(broker: Broker) -> None:
    seen: list[Any] = []

    @task(broker)
    def tt_kwarg_message(message: Message) -> None:
        seen.append(message)

    tt_kwarg_message.generate(kwargs={"message": "string"})
    run_ready(broker)
    assert seen == ["string"]


@pytest.mark.parametrize(
    ("annotation", "passed"),
    [
        (None, True),
        ("Message", True),
        ("Optional[Message]", True),
        ("Message | None", True),
        ("alsek.core.Message", True),
        (Message, True),
        (typing.Optional[Message], True),  # noqa: UP045 - the form users write
        (typing.Union[Message, None], True),  # noqa: UP007
        ("str", False),
        (str, False),
        ("Optional[str]", False),
        (typing.Optional[int], False),  # noqa: UP045
        ("MessageLike", False),
    ],
)
def test_message_is_passed_only_when_the_annotation_names_message(
    broker: Broker, annotation: Any, passed: bool
) -> None:
    seen: list[Any] = []

    def tt_annotated(message: Any = "default") -> None:
        seen.append(message)

    tt_annotated.__annotations__ = {} if annotation is None else {"message": annotation}
    tt_annotated.__annotations__["return"] = None
    decorated = task(broker)(tt_annotated)
    generated = decorated.generate()
    run_ready(broker)
    (got,) = seen
    if passed:
        assert isinstance(got, Message) and got.uuid == generated.uuid
    else:
        assert got == "default"
