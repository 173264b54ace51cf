"""Wrongly typed task calls: mypy reports each line marked ``# error`` (never run)."""

from __future__ import annotations

from alsek.core import Broker, task
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.result import ResultStore

backend = DiskCacheBackend()
broker = Broker(backend)
results = ResultStore(backend)


@task(broker, result_store=results)
def add(a: int, b: int) -> int:
    return a + b


add("x", None, 3)  # error
add.delay("x", 2)  # error
add.delay(1)  # error
add.delay(1, c=2)  # error
text: str = add.result(add.delay(1, 2))  # error
task(broker, priority="high")  # error


@task(broker, result_store=results)
async def fetch(url: str) -> bytes:
    return url.encode()


fetch.delay(1)  # error
label: str = fetch.result(fetch.delay("u"))  # error


async def wrongly_awaited() -> None:
    await fetch.delay_async(1)  # error
    size: int = await fetch("u")  # error
    again: str = await fetch.result_async("uuid")  # error
    print(size, again)
