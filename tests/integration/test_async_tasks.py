"""``async def`` functions are refused at decoration: a worker would ack them unrun."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, task
from alsek.core.consumer import Consumer
from alsek.core.task import Task
from alsek.effects.backends.base import Backend
from alsek.effects.execution import run_message
from alsek.exceptions import ValidationError
from alsek.storage.result import ResultStore


async def at_coroutine(x: int) -> int:
    await asyncio.sleep(0)
    return x


async def at_generator() -> AsyncIterator[int]:
    yield 1


class AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


@pytest.mark.parametrize(
    "function",
    [at_coroutine, at_generator, functools.partial(at_coroutine, 1), AsyncCallable()],
    ids=["coroutine", "async-generator", "partial", "async-__call__"],
)
def test_async_functions_are_refused_at_decoration(any_backend: Backend, function: Any) -> None:
    broker = Broker(any_backend)
    with pytest.raises(ValidationError, match="async tasks are not supported yet") as caught:
        task(broker, name="at_refused", mechanism="thread")(function)
    assert "asyncio.run" in str(caught.value)
    assert "'at_refused'" in str(caught.value)
    with pytest.raises(ValidationError, match="async"):
        Task(function, broker, name="at_refused_direct")
    assert any_backend.count() == 0


def test_async_trigger_tasks_are_refused(any_backend: Backend) -> None:
    async def at_ticking() -> None:
        await asyncio.sleep(0)

    with pytest.raises(ValidationError, match="async tasks are not supported yet"):
        task(Broker(any_backend), trigger=IntervalTrigger(seconds=1))(at_ticking)


def test_the_advised_sync_wrapper_runs_the_coroutine(any_backend: Backend) -> None:
    store = ResultStore(any_backend)

    @task(Broker(any_backend), name="at_wrapped", mechanism="thread", result_store=store)
    def at_wrapped(x: int) -> int:
        return asyncio.run(at_coroutine(x))

    message = at_wrapped.generate(args=(5,))
    claimed = Consumer(at_wrapped.broker).claim(("thread",), 1).messages
    assert [m.uuid for m in claimed] == [message.uuid]
    assert run_message(claimed[0]).accepted
    assert store.get(message) == 5
