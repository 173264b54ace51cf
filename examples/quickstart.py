"""Alsek quick start: define tasks, submit them, run a worker pool, print results.

Runs on the embedded default backend (DiskCache, no server). The data lives
in a temporary directory so every run starts clean.
"""

from __future__ import annotations

import logging
import tempfile

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff
from alsek.core.worker import WorkerPool
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.result import ResultStore

backend = DiskCacheBackend(tempfile.mkdtemp(prefix="alsek-quickstart-"))
broker = Broker(backend)
result_store = ResultStore(backend)

attempts: dict[str, int] = {}


@task(broker, result_store=result_store, mechanism="thread")
def add(a: int, b: int) -> int:
    return a + b


@task(broker, result_store=result_store, mechanism="process", priority=1)
def square(x: int) -> int:
    return x * x


@task(broker, result_store=result_store, mechanism="thread")
def double_previous(message: Message) -> int:
    return message.previous_result * 2


@task(
    broker,
    result_store=result_store,
    mechanism="thread",
    max_retries=2,
    backoff=ConstantBackoff(constant=200, floor=200, ceiling=200),
)
def flaky(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 2:
        raise RuntimeError(f"attempt {attempts[key]} of {key} fails on purpose")
    return f"{key} succeeded on attempt {attempts[key]}"


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sums = [add.generate(args=(i, i)) for i in range(5)]
    squares = [square.generate(args=(i,)) for i in range(5)]
    chain = add.generate(
        args=(20, 1),
        callback=(double_previous.defer().generate(), double_previous.defer().generate()),
    )
    retried = flaky.generate(args=("job-1",))

    with WorkerPool([add, square, double_previous, flaky], max_threads=4, max_processes=2):
        print("sums:   ", [result_store.get(m, timeout=10_000) for m in sums])
        print("squares:", [result_store.get(m, timeout=20_000) for m in squares])
        print("chain:  ", result_store.get(chain, timeout=10_000, descendants=True))
        print("retried:", result_store.get(retried, timeout=10_000))


if __name__ == "__main__":
    main()
