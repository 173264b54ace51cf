"""Alsek on a real Redis Cluster (3 masters, 3 replicas, on loopback): the queue model
holds with queues on different shards, tasks run exactly once across shards, idle
consumers wake on any shard, outcomes, callbacks and dead letters cross shards, task
processes reopen the cluster client, and a shard's master killed mid-run loses nothing
acknowledged with ``replicas=1`` (and, without, only what was written while its replica
was cut off)."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from redis.cluster import ClusterNode, RedisCluster

from alsek.core import Broker, Lock, Message, task
from alsek.core.worker import WorkerPool
from alsek.effects.backends.operations_for import operations_for
from alsek.effects.backends.redis_waiting import wait_on
from alsek.pure.keys import get_message_name
from alsek.pure.redis_keys import index_key, queue_tag
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.conftest import IN_CI, require_redis_binary
from tests.integration.test_queue_machine import QUEUES, machine_for
from tests.support import scaleout
from tests.support import worker_tasks as wt
from tests.support.redis_cluster import RedisClusterSetup, wait_until

pytestmark = pytest.mark.xdist_group("redis-cluster")

#: Tasks in the exactly-once run (benchmarks/scaleout.py runs 2,000 and more).
EXACTLY_ONCE_TASKS = 300 if IN_CI else 600


def spread_namespace(setup: RedisClusterSetup, queues: tuple[str, ...]) -> str:
    """A namespace in which ``queues`` live on different shards."""
    for i in range(100):
        namespace = f"ns{i}"
        ports = {setup.master_of(queue_tag(namespace, q)).port for q in queues}
        if len(ports) == len(queues):
            return namespace
    raise AssertionError("no namespace spreads the queues")


@pytest.fixture()
def backend(redis_cluster: RedisClusterSetup) -> Iterator[RedisBackend]:
    backend = RedisBackend(redis_cluster.url, namespace="cl")
    backend.clear_namespace()
    yield backend
    backend.clear_namespace()


def test_the_backend_agrees_with_the_queue_model_across_shards(
    redis_cluster: RedisClusterSetup,
) -> None:
    backend = RedisBackend(redis_cluster.url, namespace=spread_namespace(redis_cluster, QUEUES))
    assert backend.cluster
    run_state_machine_as_test(
        machine_for(lambda: backend),
        settings=settings(max_examples=20, stateful_step_count=40, deadline=None),
    )


def test_tasks_run_exactly_once_across_queues_on_different_shards(
    redis_cluster: RedisClusterSetup, backend: RedisBackend
) -> None:
    queues = scaleout.spread_queues(redis_cluster, backend.namespace, 3)
    shards = {redis_cluster.master_of(queue_tag(backend.namespace, q)).port for q in queues}
    assert len(shards) == 3
    report = scaleout.exactly_once(backend, queues, EXACTLY_ONCE_TASKS)
    assert (report.missing, report.duplicates, report.left_queued) == (0, 0, 0)


def blocked_pops(setup: RedisClusterSetup) -> int:
    """Clients blocked in BLPOP, over the live nodes."""
    total = 0
    for node in setup.live_nodes():
        client = redis.Redis(port=node.port)
        try:
            total += sum(1 for c in client.client_list() if "b" in c["flags"])
        finally:
            client.close()
    return total


def test_an_idle_consumer_wakes_on_any_shard_and_leaves_no_blocked_pop(
    redis_cluster: RedisClusterSetup, backend: RedisBackend
) -> None:
    queues = scaleout.spread_queues(redis_cluster, backend.namespace, 3)
    keys = [index_key(backend.namespace, q, "signal") for q in queues]
    pusher = threading.Timer(0.2, lambda: backend.conn.rpush(keys[2], b"1"))
    pusher.start()
    started = time.monotonic()
    wait_on(backend.conn, keys, timeout_s=30)
    assert time.monotonic() - started < 15  # woken by the push, not by the timeout
    pusher.join()
    wait_until(lambda: blocked_pops(redis_cluster) == 0, 10, "the other pops to be unblocked")
    assert backend.conn.llen(keys[2]) == 0


def test_results_callbacks_and_dead_letters_across_shards(
    redis_cluster: RedisClusterSetup, backend: RedisBackend
) -> None:
    first, second = scaleout.spread_queues(redis_cluster, backend.namespace, 2)
    broker, store = Broker(backend), ResultStore(backend)

    @task(broker, name="cl_double", queue=first, mechanism="thread", result_store=store)
    def double(x: int) -> int:
        return 2 * x

    @task(broker, name="cl_add", queue=second, mechanism="thread", result_store=store)
    def add(message: Message) -> int:
        return int(message.previous_result) + 1

    @task(broker, name="cl_fail", queue=second, mechanism="thread", max_retries=0)
    def fail() -> None:
        raise ValueError("no")

    callback = add.generate(submit=False)
    root = double.generate(args=(5,), callback=callback)
    failing = fail.generate()
    with WorkerPool([double, add, fail], max_threads=2, max_processes=0):
        assert store.get(root, timeout=30_000) == 10
        assert store.get(callback, timeout=30_000) == 11
        wait_until(lambda: broker.dead_letter_counts() == {second: 1}, 30, "the dead letter")
    (letter,) = broker.dead_letters()
    assert letter.uuid == failing.uuid
    assert broker.resubmit_dead_letter(failing.uuid).uuid == failing.uuid
    assert broker.dead_letter_counts() == {} and broker.exists(failing)


def test_reading_commands_locks_and_scans_on_a_cluster(
    redis_cluster: RedisClusterSetup, backend: RedisBackend
) -> None:
    first, second = scaleout.spread_queues(redis_cluster, backend.namespace, 2)
    broker = Broker(backend)

    @task(broker, name="cl_noop", queue=first, mechanism="thread")
    def noop() -> None:
        return None

    waiting = noop.generate()
    later = noop.generate(delay=60_000)
    name = get_message_name(waiting)
    assert backend.known_queues() == [first]
    assert set(backend.scan(f"queues:{first}:*")) == {name, get_message_name(later)}
    assert set(backend.scan("queues:*")) == {name, get_message_name(later)}
    assert list(backend.scan(f"queues:{second}:*")) == []
    ops = operations_for(backend)
    assert ops.find(waiting.uuid) == [name]
    assert broker.oldest_ready_age(first) is not None
    place = ops.place(name, int(time.time() * 1000))
    assert place is not None and place.state == "ready"
    assert ops.cancel_waiting(first, get_message_name(later), 0) == "removed"
    ops.put_worker("w1", {"id": "w1"}, 10_000)
    assert ops.workers() == [{"id": "w1"}]
    ops.drop_worker("w1")
    assert ops.workers() == []
    lock = Lock("cl-lock", backend, ttl=10_000)
    assert lock.acquire() and lock.held
    lock.release()
    assert not lock.held
    assert backend.server_warnings()  # no persistence on the test cluster: said so
    assert backend.clear_namespace() > 0
    assert list(backend.scan()) == []


def test_process_tasks_reopen_a_cluster_client_they_were_given(
    redis_cluster: RedisClusterSetup,
) -> None:
    nodes = [ClusterNode("127.0.0.1", node.port) for node in redis_cluster.nodes[:2]]
    backend = RedisBackend(RedisCluster(startup_nodes=nodes), namespace="clp")
    backend.clear_namespace()
    reopened = pickle.loads(pickle.dumps(backend))
    assert reopened.cluster and reopened.identity() == backend.identity()
    broker, store = Broker(backend), ResultStore(backend)
    wt.bind(broker, store)
    try:
        message = wt.p_echo.generate(args=(["cluster", 1],))
        with WorkerPool([wt.p_echo], max_threads=0, max_processes=1):
            assert store.get(message, timeout=60_000) == ["cluster", 1]
    finally:
        wt.bind(wt.placeholder, None)
        backend.clear_namespace()


@pytest.fixture()
def fresh_cluster() -> Iterator[RedisClusterSetup]:
    """A cluster of its own, for a test that kills one of its masters."""
    require_redis_binary()
    with RedisClusterSetup() as setup:
        yield setup


@pytest.mark.parametrize("replicas", [0, 1])
def test_a_shard_s_master_killed_mid_run(fresh_cluster: RedisClusterSetup, replicas: int) -> None:
    backend = RedisBackend(
        fresh_cluster.url, namespace="fo", replicas=replicas, replica_timeout=200
    )
    queues = scaleout.spread_queues(fresh_cluster, "fo", 2)
    loss = scaleout.failover(
        backend, queues, scaleout.cluster_victim(fresh_cluster, queues[0], "fo")
    )
    assert loss.acknowledged > 0
    if replicas:
        assert loss.lost == 0, loss  # nothing acknowledged is lost
    else:
        # What the primary acknowledged while no replica received it is lost (the
        # docs' "Guarantees"), and nothing else.
        assert loss.lost > 0 and loss.outside == 0, loss
