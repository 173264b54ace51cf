"""Correctly typed tasks: mypy --strict passes on this file (checked, never run)."""

from __future__ import annotations

from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, Message, task
from alsek.core.task import Task, TriggerTask
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
