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
