"""Scale-out figures: what one Redis core sustains, what shards give, exactly once
across shards, and what a failover loses with and without ``replicas=1``.

    python benchmarks/scaleout.py [--tasks 2000]
        [--only capacity,replicas,shards,exactly-once,failover]

- capacity: the Redis server's CPU per task (``INFO cpu``, user + system, over the
  submits and the processing of no-op thread tasks by one pool of 8 threads), with and
  without a result, on one redis-server; and the tasks/s one Redis core sustains at
  that cost.
- replicas: what ``replicas=1`` costs: submits/s of one producer thread, and tasks/s
  of the pool, on a primary with one replica (through Sentinel), with 0 and 1.
- shards: the same run on a Redis Cluster of 1 and of 3 masters (no replicas), the
  tasks spread over 3 queues: tasks/s, and the CPU per task summed over the masters
  and on the busiest one. On 2 cores the clients, not Redis, set the pace; the
  CPU per task is what carries over to bigger machines.
- exactly-once: ``--tasks`` tasks over 3 queues on 3 shards of a 3-master,
  3-replica cluster: how many ran not at all, or more than once.
- failover: a producer and a pool on 2 queues; the master of a queue's shard (or
  the Sentinel primary) is killed mid-run, with ``replicas`` 0 and 1, after its
  replica was cut off for 0.5 s (the writes of that window reach no replica) and
  without a cut (the replica only lags): what was acknowledged, and lost.

Every server is started here on free loopback ports and stopped after.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def server_cpu(ports: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each server has used so far."""
    import redis

    used = {}
    for port in ports:
        client = redis.Redis(port=port)
        info = client.info("cpu")
        client.close()
        used[port] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return used


def run_tasks(backend: Any, queues: list[str], n: int, results: bool) -> tuple[float, float]:
    """Submit ``n`` no-op thread tasks over ``queues`` and run them with one pool of 8
    threads; returns the submits/s and the tasks/s."""
    from alsek.core import Broker, task
    from alsek.core.worker import WorkerPool
    from alsek.storage.result import ResultStore
    from tests.support.redis_cluster import wait_until

    broker = Broker(backend)
    store = ResultStore(backend) if results else None

    def noop(i: int) -> int:
        return i

    tasks = [
        task(broker, name=f"cap_{q}", queue=q, mechanism="thread", result_store=store,
             max_retries=0)(noop)
        for q in queues
    ]
    started = time.perf_counter()
    for i in range(n):
        tasks[i % len(tasks)].generate(args=(i,))
    submitted = time.perf_counter() - started
    pool = WorkerPool(tasks, queues=queues, max_threads=8, max_processes=0)
    started = time.perf_counter()
    with pool:
        wait_until(lambda: pool.completed >= n, 600, f"{n} tasks")
        took = time.perf_counter() - started
    return n / submitted, n / took


def capacity(n: int) -> None:
    from alsek.storage.backends.redis import RedisBackend
    from tests.support.redis_server import RedisServer

    print("== capacity: one redis-server ==")
    with RedisServer() as server:
        for results in (False, True):
            backend = RedisBackend(server.url, namespace=f"cap{int(results)}")
            before = server_cpu([server.port])[server.port]
            _, rate = run_tasks(backend, ["a"], n, results)
            cpu = server_cpu([server.port])[server.port] - before
            per_task = cpu / n * 1e6
            label = "with a result" if results else "no result"
            print(
                f"{label:14s} Redis CPU {per_task:6.1f} us/task (submit + claim + outcome)"
                f" -> one core sustains {1e6 / per_task:7.0f} tasks/s;"
                f" this pool ran {rate:5.0f} tasks/s"
            )


def replicas(n: int) -> None:
    from alsek.storage.backends.redis import RedisBackend
    from tests.support.redis_cluster import SentinelSetup

    print("== replicas: a primary with one replica, through Sentinel ==")
    with SentinelSetup() as setup:
        for wanted in (0, 1):
            backend = RedisBackend(setup.url, namespace=f"rp{wanted}", replicas=wanted)
            submits, rate = run_tasks(backend, ["a"], n, results=True)
            print(f"replicas={wanted}: {submits:5.0f} submits/s, {rate:5.0f} tasks/s, with results")


def shards(n: int) -> None:
    from alsek.storage.backends.redis import RedisBackend
    from tests.support.redis_cluster import RedisClusterSetup
    from tests.support.scaleout import spread_queues

    print("== shards: a Redis Cluster of 1 and of 3 masters (no replicas), 3 queues ==")
    for masters in (1, 3):
        with RedisClusterSetup(masters=masters, replicas_each=0) as setup:
            ports = setup.master_ports()
            backend = RedisBackend(setup.url, namespace="sh")
            queues = spread_queues(setup, "sh", 3)
            before = server_cpu(ports)
            _, rate = run_tasks(backend, queues, n, results=True)
            after = server_cpu(ports)
            spent = {p: after[p] - before[p] for p in ports}
            total = sum(spent.values()) / n * 1e6
            busiest = max(spent.values()) / n * 1e6
            print(
                f"{masters} master(s): {rate:5.0f} tasks/s; Redis CPU {total:6.1f} us/task"
                f" over all masters, {busiest:6.1f} us/task on the busiest"
            )


def exactly_once(n: int) -> None:
    from alsek.storage.backends.redis import RedisBackend
    from tests.support.redis_cluster import RedisClusterSetup
    from tests.support.scaleout import exactly_once as run
    from tests.support.scaleout import spread_queues

    print("== exactly once: 3 queues on 3 shards (3 masters, 3 replicas) ==")
    with RedisClusterSetup() as setup:
        backend = RedisBackend(setup.url, namespace="xo")
        queues = spread_queues(setup, "xo", 3)
        report = run(backend, queues, n, timeout=600)
        print(
            f"{n} tasks: {report.missing} never ran, {report.duplicates} ran more than once, "
            f"{report.left_queued} left queued; {report.rate:.0f} tasks/s"
        )


def failover() -> None:
    from alsek.storage.backends.redis import RedisBackend
    from tests.support import scaleout
    from tests.support.redis_cluster import RedisClusterSetup, SentinelSetup

    print("== failover: a primary killed mid-run (producer + pool, 2 queues) ==")
    for cut in (True, False):
        for replicas in (0, 1):
            with RedisClusterSetup() as setup:
                backend = RedisBackend(
                    setup.url, namespace="fo", replicas=replicas, replica_timeout=200
                )
                queues = scaleout.spread_queues(setup, "fo", 2)
                victim = scaleout.cluster_victim(setup, queues[0], "fo")
                loss = scaleout.failover(backend, queues, victim, cut=cut)
            show("cluster", cut, replicas, loss)
            with SentinelSetup() as sentinel:
                backend = RedisBackend(sentinel.url, replicas=replicas, replica_timeout=200)
                victim = scaleout.sentinel_victim(sentinel)
                loss = scaleout.failover(backend, ["a", "b"], victim, cut=cut)
            show("sentinel", cut, replicas, loss)


def show(where: str, cut: bool, replicas: int, loss: Any) -> None:
    how = "replica cut off 0.5 s" if cut else "replica in sync"
    print(
        f"{where:8s} {how:21s} replicas={replicas}: {loss.acknowledged:5d} acknowledged, "
        f"{loss.refused:4d} refused, {loss.lost:4d} lost ({loss.ran} of them had run; "
        f"{loss.outside} outside the window), {loss.duplicates} ran twice"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--only", default="capacity,replicas,shards,exactly-once,failover")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    wanted = args.only.split(",")
    if "capacity" in wanted:
        capacity(max(args.tasks, 5_000))
    if "replicas" in wanted:
        replicas(max(args.tasks, 3_000))
    if "shards" in wanted:
        shards(max(args.tasks, 5_000))
    if "exactly-once" in wanted:
        exactly_once(args.tasks)
    if "failover" in wanted:
        failover()


if __name__ == "__main__":
    main()
