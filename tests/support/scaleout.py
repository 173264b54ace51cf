"""Workloads on real Redis topologies, shared by the tests (small) and
``benchmarks/scaleout.py`` (full size): tasks run exactly once across queues on
different shards, and a primary killed mid-run with and without ``replicas=N``."""

from __future__ import annotations

import collections
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import redis

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff
from alsek.core.worker import WorkerPool
from alsek.exceptions import BackendUnavailableError
from alsek.pure.keys import get_message_name
from alsek.pure.redis_keys import queue_tag
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support.redis_cluster import RedisClusterSetup, SentinelSetup, wait_until
from tests.support.redis_server import RedisServer

NO_WAIT = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)


def spread_queues(setup: RedisClusterSetup, namespace: str, count: int) -> list[str]:
    """``count`` queue names (``q0``, ``q1``...) spread round robin over the shards."""
    ports = setup.master_ports()
    chosen: list[str] = []
    i = 0
    for k in range(count):
        while True:
            name, i = f"q{i}", i + 1
            if setup.master_of(queue_tag(namespace, name)).port == ports[k % len(ports)]:
                chosen.append(name)
                break
    return chosen


class Tally:
    """When each key ran (tasks run in this process's pool threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, list[float]] = collections.defaultdict(list)

    def add(self, key: str) -> str:
        with self.lock:
            self.runs[key].append(time.monotonic())
        return key

    def count(self, key: str) -> int:
        with self.lock:
            return len(self.runs.get(key, ()))

    def last(self, key: str) -> float | None:
        with self.lock:
            times = self.runs.get(key)
            return times[-1] if times else None


@attrs.frozen
class ExactlyOnce:
    """What a run of ``n`` tasks found: keys missing, keys run more than once."""

    n: int
    missing: int
    duplicates: int
    left_queued: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.n / self.seconds


def exactly_once(
    backend: RedisBackend,
    queues: Sequence[str],
    n: int,
    threads: int = 8,
    timeout: float = 120.0,
) -> ExactlyOnce:
    """Submit ``n`` no-op tasks round robin over ``queues``, run them with one pool
    consuming ``queues`` in order, and count what ran."""
    broker, tally = Broker(backend), Tally()
    tasks = [
        task(broker, name=f"xo_{queue}", queue=queue, mechanism="thread", max_retries=0)(
            tally.add
        )
        for queue in queues
    ]
    keys = [f"k{i}" for i in range(n)]
    for i, key in enumerate(keys):
        tasks[i % len(tasks)].generate(args=(key,))
    pool = WorkerPool(tasks, queues=list(queues), max_threads=threads, max_processes=0)
    started = time.perf_counter()
    with pool:
        wait_until(lambda: pool.completed >= n, timeout, f"{n} tasks to complete")
        seconds = time.perf_counter() - started
    queued = sum(sum(broker.counts(queue).values()) for queue in queues)
    missing = sum(1 for key in keys if tally.count(key) == 0)
    duplicates = sum(1 for key in keys if tally.count(key) > 1)
    return ExactlyOnce(n, missing, duplicates, queued, seconds)


@attrs.frozen
class FailoverLoss:
    """What a primary killed mid-run lost. ``lost``: submissions the producer was told
    had succeeded that end with no result, though nothing is left queued (the message
    is gone, or its outcome is); ``ran``: how many of those had run; ``outside``: how
    many of those were neither submitted nor run while the replica was cut off (or
    just before the kill, without a cut): what the primary acknowledged and no replica
    had yet received; ``refused``: submissions that raised (not acknowledged)."""

    acknowledged: int
    refused: int
    lost: int
    ran: int
    outside: int
    duplicates: int


#: A run this long before the window may have its outcome recorded inside it.
RECORDING_S = 0.5


class _Producer:
    """Submits messages in a loop, noting which ones the backend acknowledged (and
    when) and how many it refused."""

    def __init__(self, tasks: Sequence[Any]) -> None:
        self.tasks = tasks
        self.acknowledged: list[tuple[Message, float]] = []
        self.refused = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            chosen = self.tasks[i % len(self.tasks)]
            try:
                message = chosen.generate(args=(f"m{i}",))
            except BackendUnavailableError:
                self.refused += 1
                time.sleep(0.01)
            except Exception:  # (a cluster client mid-failover may raise others)
                self.refused += 1
                time.sleep(0.01)
            else:
                self.acknowledged.append((message, time.monotonic()))
            i += 1


@attrs.frozen
class Victim:
    """How to cut a primary's replica off and kill the primary."""

    primary: RedisServer
    replica: RedisServer
    after_kill: Callable[[], None]


def failover(
    backend: RedisBackend,
    queues: Sequence[str],
    victim: Callable[[], Victim],
    warm_s: float = 0.5,
    window_s: float = 0.5,
    cut: bool = True,
    settle_timeout: float = 60.0,
) -> FailoverLoss:
    """Run a producer and a pool over ``queues``; after ``warm_s``, cut the victim's
    replica off (``cut``: stop it and drop its link, so that the primary's writes in the
    next ``window_s`` reach no replica), kill the primary, let the replica take over,
    then drain, and count what was lost."""
    broker, store, tally = Broker(backend), ResultStore(backend), Tally()
    tasks = [
        task(
            broker, name=f"fo_{queue}", queue=queue, mechanism="thread", result_store=store,
            max_retries=5, backoff=NO_WAIT,
        )(tally.add)
        for queue in queues
    ]
    producer = _Producer(tasks)
    # A short lease: a message whose ack the failover lost comes back soon.
    pool = WorkerPool(tasks, queues=list(queues), max_threads=8, max_processes=0, lease_ms=2_000)
    with pool:
        producer.thread.start()
        time.sleep(warm_s)
        target = victim()
        window_start = time.monotonic()
        if cut:
            target.replica.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            _drop_replica_links(target.primary)
            time.sleep(window_s)
        target.primary.kill()
        window_end = time.monotonic()
        if cut:
            target.replica.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
        target.after_kill()
        target.primary.start()  # back, as a replica of the promoted one
        time.sleep(warm_s)
        producer.stop.set()
        producer.thread.join(30)

        def drained() -> bool:
            return all(
                not broker.exists(message) or _has_result(store, message)
                for message, _ in producer.acknowledged
            ) and sum(sum(broker.counts(q).values()) for q in queues) == 0

        wait_until(drained, settle_timeout, "every surviving message to run")
    lost = ran = outside = 0
    for message, at in producer.acknowledged:
        if _has_result(store, message):
            continue
        lost += 1
        last = tally.last(message.args[0])
        ran += last is not None
        inside = window_start <= at <= window_end or (
            last is not None and window_start - RECORDING_S <= last <= window_end
        )
        outside += not inside
    duplicates = sum(1 for message, _ in producer.acknowledged if tally.count(message.args[0]) > 1)
    acknowledged = len(producer.acknowledged)
    return FailoverLoss(acknowledged, producer.refused, lost, ran, outside, duplicates)


def _has_result(store: ResultStore, message: Message) -> bool:
    return bool(store.exists(message))


def _drop_replica_links(primary: RedisServer) -> None:
    """Close the primary's connections to its replicas (a stopped replica cannot
    reconnect, so the primary's next writes reach no replica)."""
    client = redis.Redis(port=primary.port, socket_timeout=2)
    try:
        client.client_kill_filter(_type="replica")
    finally:
        client.close()


def cluster_victim(setup: RedisClusterSetup, queue: str, namespace: str) -> Callable[[], Victim]:
    """The primary serving ``queue`` and its replica (found when called)."""

    def find() -> Victim:
        primary = setup.master_of(queue_tag(namespace, queue))
        client = redis.Redis(port=primary.port, socket_timeout=2)
        try:
            info = client.info("replication")
        finally:
            client.close()
        port = next(int(v["port"]) for k, v in info.items() if k.startswith("slave"))
        replica = next(node for node in setup.nodes if node.port == port)
        return Victim(primary, replica, lambda: _await_cluster(setup, primary))

    return find


def _await_cluster(setup: RedisClusterSetup, dead: RedisServer) -> None:
    wait_until(lambda: setup._covered_without(dead), 30, "a replica to take over")


def sentinel_victim(setup: SentinelSetup) -> Callable[[], Victim]:
    """The primary Sentinel names now, and the replica it will promote."""

    def find() -> Victim:
        primary = setup.current_primary()
        replica = setup.replica if primary is setup.primary else setup.primary

        def promoted() -> None:
            def ready() -> bool:
                client = redis.Redis(port=replica.port, socket_timeout=2)
                try:
                    role = client.info("replication")["role"]
                finally:
                    client.close()
                return role == "master" and setup.current_primary() is replica

            wait_until(ready, 30, "the sentinels to promote the replica")

        return Victim(primary, replica, promoted)

    return find


def message_name(message: Message) -> str:
    return get_message_name(message)
