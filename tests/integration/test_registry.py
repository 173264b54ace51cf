"""The worker registry: each pool's heartbeat record, what it holds, and its end."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.backends.operations_for import operations_for
from alsek.pure.workers import RUN_BUCKETS_MS, WorkerRecord
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt
from tests.support.memory_backend import CustomBackend


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture()
def broker(any_backend: Backend) -> Broker:
    return Broker(any_backend)


@pytest.fixture()
def bound(broker: Broker) -> Iterator[None]:
    wt.bind(broker, ResultStore(broker.backend))
    yield
    wt.bind(wt.placeholder, None)


def only_worker(broker: Broker) -> WorkerRecord:
    (record,) = broker.workers()
    return record


@pytest.mark.usefixtures("bound")
def test_a_pool_s_record_shows_it_its_running_tasks_and_its_counts(
    tmp_path: Path, broker: Broker
) -> None:
    ledger = tmp_path / "ledger"
    before = int(time.time() * 1000)
    # An in-memory backend cannot reach a task process, so it runs threads only.
    processes = 0 if isinstance(broker.backend, CustomBackend) else 1
    pool = WorkerPool(wt.ALL, queues=["alsek_queue"], max_threads=2, max_processes=processes)
    with pool:
        wait_until(lambda: len(broker.workers()) == 1, 10, "the first heartbeat")
        first = only_worker(broker)
        assert first.id == pool.worker_id
        assert (first.host, first.pid) == (socket.gethostname(), os.getpid())
        assert first.queues == ("alsek_queue",)
        assert first.slots == {"thread": 2, "process": processes}
        assert first.busy == {"thread": 0, "process": 0} and first.running == ()
        assert before <= first.started_at <= first.heartbeat_at
        slow = wt.t_loop.generate(args=(str(ledger), 3))

        def shows_running() -> bool:
            record = only_worker(broker)
            return [r.uuid for r in record.running] == [slow.uuid] and record.busy["thread"] == 1

        wait_until(shows_running, 10, "the running task in the record")
        running = only_worker(broker).running[0]
        assert (running.task, running.queue, running.mechanism) == (
            "t_loop",
            "alsek_queue",
            "thread",
        )
        for i in range(5):
            wt.t_echo.generate(args=(i,))
        wt.t_fail.generate(
            args=(str(tmp_path / "fails"),),
        )

        def counted() -> bool:
            record = only_worker(broker)
            return record.processed == 1 + 5 + 3 and record.running == ()

        wait_until(counted, 30, "every outcome in the record")
        record = only_worker(broker)
    assert record.failed == 3  # t_fail ran three times
    echo = record.tasks["t_echo"]
    assert (echo.claimed, echo.started, echo.succeeded, echo.failed) == (5, 5, 5, 0)
    assert sum(echo.run_buckets) == 5 and len(echo.run_buckets) == len(RUN_BUCKETS_MS) + 1
    loop = record.tasks["t_loop"]
    assert loop.succeeded == 1 and loop.run_ms_sum >= 3000
    assert loop.run_buckets[RUN_BUCKETS_MS.index(5_000)] == 1  # 2.5 s < run <= 5 s
    assert record.tasks["t_fail"].failed == 3
    assert record.tasks_per_s > 0
    # The same, minute by minute: every run started and ended within the last hour.
    recent = record.activity
    assert (recent["t_echo"].queue, recent["t_echo"].mechanism) == ("alsek_queue", "thread")
    for task, arrived, succeeded, failed in (
        ("t_echo", 5, 5, 0),
        ("t_loop", 1, 1, 0),
        ("t_fail", 3, 0, 3),  # each retry arrives anew, at its own ready time
    ):
        rows = recent[task].minutes
        assert sum(r.arrived for r in rows) == arrived, task
        assert (sum(r.succeeded for r in rows), sum(r.failed for r in rows)) == (
            succeeded,
            failed,
        ), task
        assert [r.minute for r in rows] == sorted({r.minute for r in rows})
        assert all(before // 60_000 <= r.minute <= record.heartbeat_at // 60_000 for r in rows)
    loop_buckets = dict(p for r in recent["t_loop"].minutes for p in r.run_buckets)
    assert loop_buckets == {RUN_BUCKETS_MS.index(5_000): 1}
    # A clean stop removes the record at once.
    assert broker.workers() == []


def test_a_record_that_is_not_refreshed_expires_from_the_registry(broker: Broker) -> None:
    operations = operations_for(broker.backend)
    operations.put_worker("gone", {"id": "gone"}, 300)
    operations.put_worker("kept", {"id": "kept"}, 60_000)
    assert sorted(r["id"] for r in operations.workers()) == ["gone", "kept"]
    wait_until(lambda: [r["id"] for r in operations.workers()] == ["kept"], 10, "the expiry")
    operations.drop_worker("kept")
    assert operations.workers() == []


def test_redis_reads_the_registry_from_its_index_and_prunes_it(redis_url: str) -> None:
    backend = RedisBackend(redis_url, namespace="reg")
    operations = operations_for(backend)
    operations.put_worker("w1", {"id": "w1"}, 200)
    client = redis.Redis.from_url(redis_url)
    assert client.hkeys("reg:index:workers") == [b"w1"]
    wait_until(lambda: not client.exists("reg:workers:w1"), 10, "the key to expire")
    assert operations.workers() == []
    assert client.hkeys("reg:index:workers") == []  # the stale id was dropped


@pytest.mark.usefixtures("bound")
def test_a_stuck_thread_given_up_on_leaves_the_running_list(broker: Broker) -> None:
    from alsek.effects.events import Finished, Observer

    finished: list[Finished] = []

    class Collect(Observer):
        def on_outcome(self, event: Finished) -> None:
            finished.append(event)

    message = wt.t_stuck.generate(args=(4,))
    with WorkerPool(wt.ALL, max_threads=1, max_processes=0, observers=[Collect()]) as pool:
        wait_until(lambda: bool(finished), 30, "the timeout to be recorded")
        assert finished[0].message.uuid == message.uuid
        assert type(finished[0].outcome).__name__ == "TimedOut"
        assert pool.heartbeat.record().running == ()
