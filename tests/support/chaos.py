"""Fault-injection scenarios against real worker pools and a real redis-server.

Each scenario returns its figures; ``tests/integration/test_chaos.py`` runs
them small and asserts the pass criteria, ``benchmarks/chaos.py`` runs them
at full size and prints the figures.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import redis

from alsek.core import Broker, Message
from alsek.effects.task import Task
from alsek.exceptions import BackendUnavailableError
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support.harness import (
    Verdict,
    Worker,
    base_env,
    check,
    read_ledgers,
    wait_for,
    write_tasks_package,
)
from tests.support.redis_server import RedisServer


@attrs.define
class Scene:
    """A directory with the harness package, a Redis, and the workers started so far."""

    root: Path
    server: RedisServer
    workers: list[Worker] = attrs.field(factory=list)

    @property
    def broker(self) -> Broker:
        return Broker(RedisBackend(self.server.url))

    def sender(self, mechanism: str = "process") -> Task:
        return Task(
            lambda key, sleep_ms=0, message=None: None,
            self.broker,
            name=f"work_{mechanism}",
            mechanism=mechanism,
            max_retries=0,
            result_store=ResultStore(self.broker.backend),
        )

    def start(self, *args: str) -> Worker:
        env = base_env({"ALSEK_REDIS_URL": self.server.url, "HARNESS_LEDGERS": str(self.root)})
        worker = Worker(
            self.root,
            "harness_tasks",
            list(args),
            env,
            self.root / f"worker-{len(self.workers)}.log",
        )
        self.workers.append(worker)
        return worker

    def ends(self) -> set[str]:
        return {run.key for run in read_ledgers(self.root) if run.kind == "end"}

    def dead_keys(self) -> set[str]:
        keys = set()
        for record in self.broker.dead_letters():
            if record.message and record.message.get("args"):
                keys.add(str(record.message["args"][0]))
        return keys

    def verdict(self, keys: list[str]) -> Verdict:
        return check(keys, read_ledgers(self.root), self.dead_keys())

    def wait_done(self, keys: list[str], timeout: float) -> None:
        wanted = set(keys)
        wait_for(
            lambda: wanted <= self.ends() | self.dead_keys(),
            timeout,
            f"{len(wanted)} keys to reach an outcome",
        )


@contextmanager
def scene(root: Path, persistent: bool = False) -> Iterator[Scene]:
    root.mkdir(parents=True, exist_ok=True)
    write_tasks_package(root)
    server = RedisServer(persistent=persistent).start()
    stage = Scene(root, server)
    try:
        yield stage
    finally:
        for worker in stage.workers:
            if worker.alive():
                worker.kill_tree()
        server.close()


def kill_task_processes(
    root: Path,
    tasks: int = 10_000,
    sleep_ms: int = 5,
    every_s: float = 2.0,
    processes: int = 2,
    timeout: float = 900,
) -> dict[str, Any]:
    """SIGKILL a random task process every ``every_s`` until every task completes."""
    with scene(root) as stage:
        keys = [f"k{i}" for i in range(tasks)]
        sender = stage.sender("process")
        for key in keys:
            sender.generate(args=(key, sleep_ms))
        worker = stage.start(
            "--max_threads", "0", "--max_processes", str(processes), "--lease", "5000"
        )
        kills = 0
        rng = random.Random(7)
        deadline = time.monotonic() + timeout
        wanted = set(keys)
        while not wanted <= stage.ends() | stage.dead_keys():
            assert time.monotonic() < deadline, "tasks did not finish in time"
            time.sleep(every_s)
            victims = worker.task_processes()
            if victims:
                try:
                    signal_pid(rng.choice(victims), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        assert worker.alive(), worker.output()
        verdict = stage.verdict(keys)
        return {"verdict": verdict, "kills": kills, "dead": len(stage.dead_keys())}


def kill_whole_pools(
    root: Path,
    tasks: int = 2_000,
    sleep_ms: int = 20,
    rounds: int = 5,
    every_s: float = 2.0,
    lease_ms: int = 1_500,
    timeout: float = 600,
) -> dict[str, Any]:
    """Two pools; every ``every_s`` one is SIGKILLed (whole tree) and a new one started."""
    with scene(root) as stage:
        keys = [f"k{i}" for i in range(tasks)]
        sender = stage.sender("process")
        for key in keys:
            sender.generate(args=(key, sleep_ms))
        args = ("--max_threads", "0", "--max_processes", "2", "--lease", str(lease_ms))
        pools = [stage.start(*args), stage.start(*args)]
        for round_ in range(rounds):
            time.sleep(every_s)
            victim = pools[round_ % 2]
            victim.kill_tree()
            pools[round_ % 2] = stage.start(*args)
        stage.wait_done(keys, timeout)
        return {"verdict": stage.verdict(keys), "pool_kills": rounds}


def pause_past_lease(
    root: Path, tasks: int = 6, sleep_ms: int = 1_500, lease_ms: int = 1_000, pause_s: float = 4.0
) -> dict[str, Any]:
    """SIGSTOP a pool while it runs tasks, past its lease; another pool takes over; SIGCONT."""
    with scene(root) as stage:
        keys = [f"k{i}" for i in range(tasks)]
        sender = stage.sender("thread")
        for key in keys:
            sender.generate(args=(key, sleep_ms))
        args = ("--max_threads", str(tasks), "--max_processes", "0", "--lease", str(lease_ms))
        paused = stage.start(*args)
        wait_for(
            lambda: sum(1 for r in read_ledgers(root) if r.kind == "start") >= tasks,
            30,
            "the first pool to start every task",
        )
        paused.signal(signal.SIGSTOP)
        other = stage.start(*args)
        wait_for(lambda: set(keys) <= stage.ends(), pause_s + 30, "the second pool to finish")
        time.sleep(max(pause_s - sleep_ms / 1000, 0))
        paused.signal(signal.SIGCONT)
        time.sleep(sleep_ms / 1000 + 1.5)
        output = paused.output()
        refused = output.count("no longer holds")
        counts = stage.broker.counts("alsek_queue")
        results = redis.Redis.from_url(stage.server.url).keys("alsek:results:*")
        return {
            "verdict": stage.verdict(keys),
            "stale_outcomes_refused": refused,
            "remaining": counts,
            "results": len(results),
            "other_alive": other.alive(),
        }


def restart_redis(
    root: Path,
    tasks: int = 3_000,
    sleep_ms: int = 2,
    restarts: int = 3,
    every_s: float = 2.0,
    timeout: float = 600,
) -> dict[str, Any]:
    """Submit continuously while redis-server (AOF, fsync always) is killed and restarted."""
    with scene(root, persistent=True) as stage:
        args = ("--max_threads", "4", "--max_processes", "1", "--lease", "3000")
        workers = [stage.start(*args), stage.start(*args)]
        accepted: list[str] = []
        stop = threading.Event()

        def produce() -> None:
            sender = stage.sender("thread")
            for i in range(tasks):
                key = f"k{i}"
                while not stop.is_set():
                    try:
                        sender.generate(args=(key, sleep_ms), uuid=f"u-{key}")
                        accepted.append(key)
                        break
                    except BackendUnavailableError:
                        time.sleep(0.05)
                    except KeyError:  # accepted before the crash: the uuid exists
                        accepted.append(key)
                        break

        producer = threading.Thread(target=produce)
        producer.start()
        for _ in range(restarts):
            time.sleep(every_s)
            stage.server.kill()
            time.sleep(0.5)
            stage.server.start()
        producer.join(timeout)
        stop.set()
        stage.wait_done(accepted, timeout)
        alive = all(worker.alive() for worker in workers)
        return {
            "verdict": stage.verdict(accepted),
            "accepted": len(accepted),
            "restarts": restarts,
            "workers_alive": alive,
        }


def delayed_tasks(root: Path, tasks: int = 300, max_delay_ms: int = 3_000) -> dict[str, Any]:
    """Tasks with random delays never start before their ready time."""
    with scene(root) as stage:
        rng = random.Random(3)
        keys = [f"k{i}" for i in range(tasks)]
        sender = stage.sender("thread")
        worker = stage.start("--max_threads", "4", "--max_processes", "0")
        wait_for(lambda: "started WorkerPool" in worker.output(), 60, "the pool to start")
        for key in keys:
            sender.generate(args=(key, 0), delay=rng.randrange(max_delay_ms))
        stage.wait_done(keys, 60 + max_delay_ms / 1000)
        runs = read_ledgers(root)
        lateness = sorted(r.at - r.ready_at for r in runs if r.kind == "start")
        return {
            "verdict": stage.verdict(keys),
            "p50_late_ms": lateness[len(lateness) // 2],
            "max_late_ms": lateness[-1],
        }


def poison(root: Path, good: int = 200) -> dict[str, Any]:
    """Garbage, invalid and unknown-task messages among good ones."""
    with scene(root) as stage:
        keys = [f"k{i}" for i in range(good)]
        sender = stage.sender("thread")
        client = redis.Redis.from_url(stage.server.url)
        bad = []
        for i, key in enumerate(keys):
            sender.generate(args=(key, 0))
            if i % 50 == 0:
                garbage = sender.generate(args=(f"garbage-{i}", 0))
                key_of = stage.broker.backend.full_name  # (the queue's hash tag included)
                client.set(key_of(stage.broker.get_message_name(garbage)), b"\xff\x00 not json")
                invalid = sender.generate(args=(f"invalid-{i}", 0))
                data = dict(invalid.data, retries=-5, args=[f"invalid-{i}", 0])
                from alsek.effects.serialization import JsonSerializer

                client.set(
                    key_of(stage.broker.get_message_name(invalid)),
                    JsonSerializer().forward(data),
                )
                unknown = stage.broker.submit(
                    Message(task_name="no_such_task", mechanism="thread", args=(f"unknown-{i}", 0))
                )
                bad += [garbage.uuid, invalid.uuid, unknown.uuid]
        worker = stage.start("--max_threads", "4", "--max_processes", "0")
        pid = worker.pid
        stage.wait_done(keys, 60)
        wait_for(lambda: len(list(stage.broker.dead_letters())) >= len(bad), 30, "dead letters")
        dead = {record.uuid: record.reason for record in stage.broker.dead_letters()}
        executed_bad = [
            r.key for r in read_ledgers(root) if r.key.startswith(("garbage", "invalid", "unknown"))
        ]
        return {
            "verdict": stage.verdict(keys),
            "bad": len(bad),
            "dead_lettered": sorted(dead) == sorted(bad),
            "reasons": dead,
            "executed_bad": executed_bad,
            "same_worker": worker.alive() and worker.pid == pid,
        }


def sigterm_with_grace(root: Path, grace_ms: int = 1_000, lease_ms: int = 60_000) -> dict[str, Any]:
    """SIGTERM a pool running long tasks: they are handed back at once, not after the lease."""
    with scene(root) as stage:
        sender = stage.sender("process")
        sender.generate(args=("quick", 200))
        sender.generate(args=("long-1", 30_000))
        sender.generate(args=("long-2", 30_000))
        worker = stage.start(
            "--max_threads",
            "0",
            "--max_processes",
            "3",
            "--lease",
            str(lease_ms),
            "--grace",
            str(grace_ms),
        )
        wait_for(
            lambda: sum(1 for r in read_ledgers(root) if r.kind == "start") >= 3,
            60,
            "three tasks to start",
        )
        started = time.monotonic()
        worker.signal(signal.SIGTERM)
        code = worker.wait(60)
        stopped_after = time.monotonic() - started
        counts = stage.broker.counts("alsek_queue")
        return {
            "exit_code": code,
            "stopped_after_s": stopped_after,
            "counts": counts,
            "quick_done": "quick" in stage.ends(),
        }


def saturation(
    root: Path, tasks: int = 200, sleep_ms: int = 200, pools: int = 2, slots: int = 2
) -> dict[str, Any]:
    """A full pool does not hold what it cannot run: makespan versus the ideal."""
    with scene(root) as stage:
        keys = [f"k{i}" for i in range(tasks)]
        sender = stage.sender("thread")
        for key in keys:
            sender.generate(args=(key, sleep_ms))
        args = ("--max_threads", str(slots), "--max_processes", "0")
        workers = [stage.start(*args) for _ in range(pools)]
        for worker in workers:
            wait_for(lambda w=worker: "started WorkerPool" in w.output(), 60, "pools to start")
        stage.wait_done(keys, 120 + tasks * sleep_ms / 1000)
        runs = read_ledgers(root)
        first = min(r.at for r in runs if r.kind == "start")
        last = max(r.at for r in runs if r.kind == "end")
        ideal = tasks * sleep_ms / (pools * slots)
        return {
            "verdict": stage.verdict(keys),
            "makespan_ms": last - first,
            "ideal_ms": ideal,
            "ratio": (last - first) / ideal,
        }


def signal_pid(pid: int, signum: int) -> None:
    import os

    os.kill(pid, signum)
