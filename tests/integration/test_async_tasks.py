"""``async def`` tasks: what ``@task`` makes of them, and running them in the caller's
thread (``run_message``, the test mode), on every backend and in memory."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, Message, task
from alsek.core.consumer import Consumer
from alsek.core.task import AsyncTask, Task, TriggerTask
from alsek.effects.backends.base import Backend
from alsek.effects.execution import run_message
from alsek.exceptions import TaskFailedError, ValidationError
from alsek.pure.outcome import Failed, TimedOut
from alsek.storage.result import ResultStore
from alsek.testing import MemoryBackend, eager, fire, run_until_idle
from tests.integration.conftest import make_backend


@pytest.fixture(params=["memory", "redis", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield MemoryBackend()
    else:
        yield make_backend(request.param, request, tmp_path)


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
    [at_coroutine, functools.partial(at_coroutine, 1), AsyncCallable()],
    ids=["coroutine", "partial", "async-__call__"],
)
def test_an_async_function_becomes_an_async_task(any_backend: Backend, function: Any) -> None:
    broker = Broker(any_backend)
    made = task(broker, name="at_made")(function)
    assert isinstance(made, AsyncTask) and made.is_async
    assert made.mechanism == "thread"  # the pool's event loop, by default
    message = made.generate(args=() if isinstance(function, functools.partial) else (3,))
    assert message.is_async and message.slot_kind == "async"
    claimed = Consumer(broker).claim(("async",), 5).messages
    assert [m.uuid for m in claimed] == [message.uuid]
    assert Consumer(broker).claim(("thread", "process"), 5).messages == ()
    as_process = Task(function, broker, name="at_process", mechanism="process")
    assert as_process.is_async and as_process.generate(args=(1,)).slot_kind == "process"


def test_an_async_generator_is_refused_with_the_reason(any_backend: Backend) -> None:
    broker = Broker(any_backend)
    with pytest.raises(ValidationError, match="'at_gen' is an async generator function"):
        task(broker, name="at_gen")(at_generator)
    assert any_backend.count() == 0


def test_base_tasks_and_triggers_combine_with_async(any_backend: Backend) -> None:
    broker, results = Broker(any_backend), ResultStore(any_backend)
    seen: list[str] = []

    class Audited(Task[Any, Any]):
        async def pre_op(self, message: Message) -> None:  # an async hook
            await asyncio.sleep(0)
            seen.append(f"pre {message.args[0]}")

        def post_op(self, message: Message, result: Any) -> None:
            seen.append(f"post {result}")

    audited = task(broker, name="at_audited", base_task=Audited)(at_coroutine)
    assert isinstance(audited, Audited) and isinstance(audited, AsyncTask)
    assert run_message(audited.delay(4)).accepted
    assert seen == ["pre 4", "post 4"]

    @task(broker, name="at_ticking", trigger=IntervalTrigger(hours=1), result_store=results)
    async def at_ticking() -> str:
        await asyncio.sleep(0)
        return "tick"

    assert isinstance(at_ticking, TriggerTask) and isinstance(at_ticking, AsyncTask)
    tick = fire(at_ticking)
    assert tick.is_async and tick.task_name == "at_ticking"
    run_until_idle(broker).check()
    assert results.get(tick) == "tick"


def test_calling_an_async_task_directly_gives_a_coroutine(any_backend: Backend) -> None:
    made = task(Broker(any_backend), name="at_direct")(at_coroutine)
    assert asyncio.run(made(5)) == 5


def test_run_message_runs_the_coroutine_to_its_result(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)

    @task(broker, name="at_square", result_store=results)
    async def at_square(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * x

    message = at_square.delay(7)
    claimed = Consumer(broker).claim(("async",), 1).messages
    report = run_message(claimed[0])
    assert report.accepted and at_square.result(message) == 49


def test_the_test_mode_runs_async_tasks(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)
    attempts: list[int] = []

    @task(broker, name="at_flaky", result_store=results, max_retries=3)
    async def at_flaky(message: Message) -> str:
        attempts.append(message.retries)
        await asyncio.sleep(0)
        if message.retries < 2:
            raise ConnectionError("not yet")
        return "ok"

    @task(broker, name="at_then", result_store=results, mechanism="process")
    async def at_then(message: Message) -> str:
        return f"then {message.previous_result}"

    flaky = at_flaky.generate(callback=at_then.defer().generate())
    drained = run_until_idle(broker)
    assert attempts == [0, 1, 2]  # the backoff was skipped, as for functions
    assert results.get(flaky, descendants=True) == ["ok", "then ok"]
    assert len(drained.retried) == 2 and len(drained.succeeded) == 2
    with eager(broker):
        assert at_then.result(at_then.delay()) == "then None"


def test_the_test_mode_cancels_a_coroutine_at_its_timeout(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)
    cancelled: list[bool] = []

    @task(broker, name="at_sleepy", result_store=results, timeout=100, max_retries=0)
    async def at_sleepy() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    message = at_sleepy.delay()
    drained = run_until_idle(broker)
    assert cancelled == [True]
    assert isinstance(drained.runs[0].outcome, TimedOut)
    assert "asyncio.sleep(30)" in drained.runs[0].outcome.traceback
    with pytest.raises(TaskFailedError) as raised:
        results.get(message)
    assert raised.value.outcome == "timed_out"


def test_a_timeout_error_of_the_task_s_own_is_a_failure(store: Backend) -> None:
    broker = Broker(store)

    @task(broker, name="at_own_timeout", max_retries=0, timeout=10_000)
    async def at_own_timeout() -> None:
        await asyncio.wait_for(asyncio.sleep(5), timeout=0.01)

    at_own_timeout.delay()
    (run,) = run_until_idle(broker).runs
    assert isinstance(run.outcome, Failed) and run.outcome.error.type_name == "TimeoutError"


def test_the_test_mode_runs_inside_a_running_event_loop(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)

    @task(broker, name="at_inside", result_store=results)
    async def at_inside(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def a_test() -> int:
        message = at_inside.delay(1)
        run_until_idle(broker).check()  # from a coroutine: the loop here is busy
        return at_inside.result(message)

    assert asyncio.run(a_test()) == 2


def test_a_sync_hook_answer_and_an_async_one_are_both_heard(store: Backend) -> None:
    broker, results = Broker(store), ResultStore(store)

    class Picky(Task[Any, Any]):
        async def do_callback(self, message: Message, result: Any) -> bool:  # type: ignore[override]
            await asyncio.sleep(0)
            return bool(result > 1)

    @task(broker, name="at_picky", base_task=Picky, result_store=results)
    async def at_picky(x: int) -> int:
        return x

    @task(broker, name="at_after", result_store=results, mechanism="thread")
    def at_after(message: Message) -> int:
        return int(message.previous_result) * 10

    low = at_picky.generate(args=(1,), callback=at_after.defer().generate())
    high = at_picky.generate(args=(2,), callback=at_after.defer().generate())
    run_until_idle(broker).check()
    assert results.get(low, descendants=True) == [1]  # do_callback said no
    assert results.get(high, descendants=True) == [2, 20]
