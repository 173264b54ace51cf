"""Awaitable producer and result calls (``generate_async``, ``delay_async``,
``result_async``, ``ResultStore.get_async``): same answers as the plain calls, and the
event loop keeps running while they wait."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from alsek.core import Broker, Message, task
from alsek.effects.backends.base import Backend
from alsek.exceptions import (
    NotFoundError,
    ResultTimeoutError,
    SerializationError,
    TaskFailedError,
    ValidationError,
)
from alsek.storage.result import ResultStore
from alsek.testing import MemoryBackend, run_until_idle
from tests.integration.conftest import make_backend


@pytest.fixture(params=["memory", "redis", "disk"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend()
    else:
        yield make_backend(request.param, request, tmp_path)


def test_delay_async_and_generate_async_submit_like_their_twins(backend: Backend) -> None:
    broker, results = Broker(backend), ResultStore(backend)

    @task(broker, name="ap_add", result_store=results, mechanism="thread")
    def ap_add(a: int, b: int) -> int:
        return a + b

    async def produce() -> tuple[Message, Message, Message, Message]:
        first = await ap_add.delay_async(1, b=2)
        second = await ap_add.generate_async(args=(3, 4), priority=2, delay=0)
        held = await ap_add.generate_async(args=(5, 6), submit=False)
        deferred = await ap_add.defer().generate_async(args=(7, 8))
        return first, second, held, deferred

    first, second, held, deferred = asyncio.run(produce())
    assert broker.exists(first) and broker.exists(second)
    assert not broker.exists(held) and not broker.exists(deferred)
    assert not ap_add.deferred  # the defer() was used up
    assert second.priority == 2 and first.kwargs == {"b": 2}
    run_until_idle(broker).check()
    assert (results.get(first), results.get(second)) == (3, 7)


def test_bad_arguments_fail_in_the_caller_and_submit_nothing(backend: Backend) -> None:
    broker = Broker(backend)

    @task(broker, name="ap_echo", mechanism="thread")
    def ap_echo(value: object) -> object:
        return value

    with pytest.raises(SerializationError):
        asyncio.run(ap_echo.delay_async(object()))
    with pytest.raises(ValidationError, match="priority"):
        asyncio.run(ap_echo.generate_async(args=(1,), priority="high"))  # type: ignore[arg-type]
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


def test_get_async_waits_without_blocking_the_event_loop(backend: Backend) -> None:
    broker, results = Broker(backend), ResultStore(backend)

    @task(broker, name="ap_slow", result_store=results, mechanism="thread")
    def ap_slow(x: int) -> int:
        return x * 2

    message = ap_slow.delay(21)
    worker = threading.Timer(0.4, lambda: run_until_idle(broker))

    async def wait_and_tick() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        worker.start()
        value = await ap_slow.result_async(message, timeout=30_000)
        ticking.cancel()
        return value, ticks

    value, ticks = asyncio.run(wait_and_tick())
    worker.join(10)
    assert value == 42
    assert ticks >= 5  # the loop kept running while the result was awaited


def test_get_async_answers_and_errors_as_get_does(backend: Backend) -> None:
    broker, results = Broker(backend), ResultStore(backend)

    @task(broker, name="ap_value", result_store=results, mechanism="thread")
    def ap_value(x: int) -> int:
        return x

    @task(broker, name="ap_fails", result_store=results, max_retries=0, mechanism="thread")
    def ap_fails() -> None:
        raise KeyError("gone")

    kept = ap_value.delay(1)
    taken = ap_value.delay(2)
    chained = ap_value.generate(args=(3,), callback=ap_value.defer().generate(args=(4,)))
    failing = ap_fails.delay()
    run_until_idle(broker)

    async def read() -> None:
        assert await results.get_async(kept.uuid, keep=True) == 1  # by uuid
        record = await results.get_async(kept, with_metadata=True)
        assert record["result"] == 1 and record["uuid"] == kept.uuid
        assert await results.get_async(taken) == 2
        with pytest.raises(NotFoundError):
            await results.get_async(taken)  # read without keep: gone
        with pytest.raises(ResultTimeoutError, match="within 150 ms"):
            await results.get_async(taken, timeout=150)
        assert await results.get_async(chained, descendants=True) == [3, 4]
        with pytest.raises(TaskFailedError) as raised:
            await results.get_async(failing, timeout=30_000)
        assert raised.value.type_name == "KeyError"
        with pytest.raises(ValidationError, match="a Message or a message uuid"):
            await results.get_async(42)  # type: ignore[arg-type]

    asyncio.run(read())


def test_many_results_are_awaited_at_once(backend: Backend) -> None:
    broker, results = Broker(backend), ResultStore(backend)

    @task(broker, name="ap_many", result_store=results, mechanism="thread")
    def ap_many(x: int) -> int:
        return -x

    async def submit_and_wait() -> list[int]:
        messages = await asyncio.gather(*(ap_many.delay_async(i) for i in range(50)))
        waiting = asyncio.gather(*(ap_many.result_async(m, timeout=30_000) for m in messages))
        await asyncio.to_thread(run_until_idle, broker)
        return list(await waiting)

    assert asyncio.run(submit_and_wait()) == [-i for i in range(50)]


def test_result_async_needs_a_result_store(backend: Backend) -> None:
    @task(Broker(backend), name="ap_storeless", mechanism="thread")
    def ap_storeless() -> None:
        return None

    with pytest.raises(ValidationError, match="'ap_storeless' has no result_store"):
        asyncio.run(ap_storeless.result_async("some-uuid"))
