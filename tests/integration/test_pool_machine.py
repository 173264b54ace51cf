"""The pool state machine against a real worker pool, on Redis and on DiskCache."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.events import Claimed, Finished, Observer, Released
from alsek.effects.pool.slots import kind_of
from alsek.pure.message import SLOT_KINDS
from alsek.pure.outcome import Succeeded
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support import async_tasks as at
from tests.support import worker_tasks as wt
from tests.support.pool_machine import ACKED, DEAD, QUEUED, Driver, PoolMachine
from tests.support.redis_server import RedisServer

LEASE_MS = 3_000


class Ledger(Observer):
    """How each delivery (lease token) ended, from the pool's own events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.claimed: set[str] = set()
        self.ends: dict[str, list[str]] = {}
        self.success: set[str] = set()
        self.let_go: set[str] = set()

    def on_claimed(self, event: Claimed) -> None:
        with self.lock:
            self.claimed.add(event.token)

    def on_outcome(self, event: Finished) -> None:
        with self.lock:
            self.ends.setdefault(event.token, []).append("recorded")
            if isinstance(event.outcome, Succeeded):
                self.success.add(event.message.uuid)

    def on_released(self, event: Released) -> None:
        with self.lock:
            self.ends.setdefault(event.token, []).append("released")
            if event.how == "abandoned":
                self.let_go.add(event.name.rsplit(":", 1)[-1])


class RealDriver(Driver):
    """A real ``WorkerPool`` (2 threads, 1 process, 3 coroutines) on ``backend``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.broker = Broker(backend)
        self.store = ResultStore(backend)
        wt.bind(self.broker, self.store)
        at.bind(self.broker, self.store)
        self.ledger = Ledger()
        self.folder = tempfile.mkdtemp(prefix="alsek-machine-")
        self.pool = WorkerPool(
            wt.ALL + at.ALL,
            max_threads=2,
            max_processes=1,
            max_async=3,
            lease_ms=LEASE_MS,
            grace_ms=300,
            observers=[self.ledger],
        ).start()
        self.messages: dict[str, Any] = {}
        self.count = 0

    def submit(self, kind: str) -> str:
        self.count += 1
        ledger = str(Path(self.folder) / "runs")
        task, args = {
            "thread_ok": (wt.t_echo, (self.count,)),
            "process_ok": (wt.p_echo, (self.count,)),
            "thread_fail": (wt.t_fail, (ledger,)),
            "process_crash": (wt.p_crash, ("exit",)),
            "thread_timeout": (wt.t_spin, (1.0,)),
            "thread_slow": (wt.t_ledger, (ledger, f"k{self.count}", 300)),
            "process_slow": (wt.p_ledger, (ledger, f"k{self.count}", 300)),
            "async_ok": (at.a_echo, (self.count,)),
            "async_fail": (at.a_broken, (f"k{self.count}",)),
            "async_timeout": (at.a_slow, (ledger, 30)),
            "async_slow": (at.a_nap, (0.3, self.count)),
        }[kind]
        message = task.generate(args=args)
        self.messages[message.uuid] = message
        return message.uuid

    def run(self, data: st.DataObject, steps: int) -> None:
        time.sleep(steps * 0.01)

    def stop(self) -> None:
        self.pool.stop(timeout=30)
        assert self.pool.stopped.is_set(), "the pool did not stop"

    def finish(self) -> None:
        deadline = time.monotonic() + 60
        while any(self.final(uuid) == QUEUED for uuid in self.messages):
            assert time.monotonic() < deadline, "messages were left unsettled"
            time.sleep(0.05)
        self.stop()
        self.drain()

    def drain(self) -> None:
        with self.ledger.lock:
            unfinished = self.ledger.claimed - set(self.ledger.ends)
        assert not unfinished, f"claimed deliveries with no end: {unfinished}"

    def load(self) -> dict[str, tuple[int, int]]:
        slots = self.pool.slots
        with slots.cond:
            load, capacity = slots.state.load, slots.state.capacity
            live = list(slots.jobs.values())
            for kind in SLOT_KINDS:
                assert load.running(kind) == sum(kind_of(job) == kind for job in live), kind
        return {kind: (load.running(kind), capacity.limit(kind)) for kind in SLOT_KINDS}

    def deliveries(self) -> dict[str, list[str]]:
        return self.ledger.ends

    def final(self, uuid: str) -> str:
        message = self.messages[uuid]
        if self.broker.exists(message):
            return QUEUED
        if any(record.uuid == uuid for record in self.broker.dead_letters()):
            return DEAD
        return ACKED

    def succeeded(self) -> set[str]:
        return self.ledger.success

    def abandoned(self) -> set[str]:
        return self.ledger.let_go

    def close(self) -> None:
        if not self.pool.stopped.is_set():
            self.pool.stop(grace_ms=0, timeout=30)
        wt.bind(wt.placeholder, None)
        at.bind(wt.placeholder, None)


class Servers:
    redis: RedisServer | None = None


def real_machine(kind: str) -> type[PoolMachine]:
    class RealPoolMachine(PoolMachine):
        def make_driver(self) -> Driver:
            if kind == "redis":
                assert Servers.redis is not None
                import redis

                redis.Redis.from_url(Servers.redis.url).flushall()
                return RealDriver(RedisBackend(Servers.redis.url))
            return RealDriver(DiskCacheBackend(tempfile.mkdtemp(prefix="alsek-disk-")))

    RealPoolMachine.TestCase.settings = settings(
        max_examples=8, stateful_step_count=10, deadline=None, derandomize=True
    )
    return RealPoolMachine


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["redis", "disk"])
def test_the_pool_machine_on_a_real_pool(kind: str, redis_server: RedisServer) -> None:
    Servers.redis = redis_server
    real_machine(kind).TestCase("runTest").runTest()
