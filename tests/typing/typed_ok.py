"""Correctly typed tasks: mypy --strict passes on this file (checked, never run)."""

from __future__ import annotations

from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, Message, task
from alsek.core.task import AsyncTask, Task, TriggerTask
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.result import ResultStore

backend = DiskCacheBackend()
broker = Broker(backend)
results = ResultStore(backend)


@task(broker, result_store=results, timeout=10_000, mechanism="thread")
def add(a: int, b: int = 0) -> int:
    return a + b


class Audited(Task[Any, Any]):
    def pre_op(self, message: Message) -> None:
        print(message.summary)


@task(broker, base_task=Audited)
def shout(text: str) -> str:
    return text.upper()


@task(broker, trigger=IntervalTrigger(hours=1))
def tick() -> None:
    return None


@task(broker, result_store=results, timeout=5_000)
async def fetch(url: str, tries: int = 1) -> bytes:
    return url.encode() * tries


@task(broker, base_task=Audited)
async def audited_fetch(url: str) -> str:
    return url


async def from_a_web_app() -> None:
    submitted: Message = await fetch.delay_async("https://example.org", tries=2)
    body: bytes = await fetch.result_async(submitted, timeout=1_000)
    direct: bytes = await fetch("https://example.org")
    generated: Message = await add.generate_async(args=(1, 2))
    total_later: int = await add.result_async(generated, timeout=1_000)
    stored: object = await results.get_async(generated.uuid, timeout=1_000)
    audited: str = await audited_fetch("x")
    print(body, direct, total_later, stored, audited)


total: int = add(1, 2)
message: Message = add.delay(1, b=2)
answer: int = add.result(message, timeout=1_000)
deferred: Message = add.defer().generate(args=(1, 2))
loud: str = shout("hi")
shout_message: Message = shout.delay("hi")
assert isinstance(tick, TriggerTask)
tick.pause()
trigger_task: TriggerTask[[], None] = tick
plain: Task[[int, int], int] = add
fetch_message: Message = fetch.delay("https://example.org")
fetched: bytes = fetch.result(fetch_message)
as_async: AsyncTask[[str, int], bytes] = fetch
as_task: Task[[str, int], bytes] = fetch
