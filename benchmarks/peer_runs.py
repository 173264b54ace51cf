"""One measured run of one system (Alsek or a peer) for ``benchmarks/peers.py``.

A run has its own redis-server (none for the SQLite-based systems) and three phases:

1. memory: one producer thread submits ``memory_n`` no-op messages with no worker
   running; ``INFO memory`` used_memory grows by the bytes per queued message, and the
   time taken gives the enqueue rate. The server is then flushed.
2. throughput: ``n`` no-op messages are submitted, the workers start, and the rate is
   taken between the first and the last completion, counted outside the store (each
   task appends a byte to a file). ``INFO commandstats`` and ``INFO cpu``
   (used_cpu_sys + used_cpu_user) are read before the submissions, after them, and
   once the last task is done and its acknowledgement has landed (0.3 s later), for
   Redis commands (those run inside Lua scripts included) and server CPU per task.
3. latency: with the same workers, ``samples`` single tasks are submitted one at a
   time and their results awaited (blocking where the system offers it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "benchmarks"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from tests.support.redis_server import RedisServer  # noqa: E402

PY = sys.executable
HARNESS_COMMANDS = ("info",)


@attrs.frozen
class System:
    """A system under test: its apps' kind, worker command lines and mechanism."""

    key: str
    label: str
    peer: str
    workers: tuple[tuple[str, ...], ...]
    mechanism: str = "thread"
    redis: bool = True


def alsek_worker(threads: int, processes: int) -> tuple[str, ...]:
    return (PY, "-m", "alsek", "worker", "peer_apps", "--max_threads", str(threads),
            "--max_processes", str(processes), "--log-level", "warning")


HUEY = (PY, "-m", "huey.bin.huey_consumer", "peer_apps.huey", "-q")
SYSTEMS = (
    System("alsek-threads", "Alsek, 1 pool x 8 threads", "alsek", (alsek_worker(8, 0),)),
    System("alsek-processes", "Alsek, 2 task processes", "alsek", (alsek_worker(0, 2),),
           "process"),
    System("alsek-2pools", "Alsek, 2 pools x 8 threads", "alsek",
           (alsek_worker(8, 0), alsek_worker(8, 0))),
    System("alsek-disk", "Alsek on DiskCache, 8 threads", "alsek-disk", (alsek_worker(8, 0),),
           redis=False),
    System("dramatiq-1", "Dramatiq, 1 process x 8 threads", "dramatiq",
           ((PY, "-m", "dramatiq", "peer_apps", "-p", "1", "-t", "8"),)),
    System("dramatiq-2", "Dramatiq, 2 processes x 8 threads", "dramatiq",
           ((PY, "-m", "dramatiq", "peer_apps", "-p", "2", "-t", "8"),)),
    System("huey-threads", "Huey, -w 8 -k thread", "huey", ((*HUEY, "-w", "8", "-k", "thread"),)),
    System("huey-processes", "Huey, -w 2 -k process", "huey",
           ((*HUEY, "-w", "2", "-k", "process"),)),
    System("huey-sqlite", "Huey on SQLite, -w 8 -k thread", "huey-sqlite",
           ((*HUEY, "-w", "8", "-k", "thread"),), redis=False),
    System("celery-prefork", "Celery, prefork -c 2", "celery",
           ((PY, "-m", "celery", "-A", "peer_apps", "worker", "-P", "prefork", "-c", "2",
             "--loglevel", "WARNING"),)),
)


@attrs.frozen
class Figures:
    """What one run measured (None: not measured for this system)."""

    tasks_per_s: float
    enqueue_per_s: float
    p50_ms: float
    p95_ms: float
    commands_enqueue: float | None = None
    commands_processing: float | None = None
    cpu_us_enqueue: float | None = None
    cpu_us_processing: float | None = None
    bytes_per_message: float | None = None

    @property
    def commands(self) -> float | None:
        if self.commands_enqueue is None or self.commands_processing is None:
            return None
        return self.commands_enqueue + self.commands_processing

    @property
    def cpu_us(self) -> float | None:
        if self.cpu_us_enqueue is None or self.cpu_us_processing is None:
            return None
        return self.cpu_us_enqueue + self.cpu_us_processing


class Probe:
    """``INFO`` samples of one redis-server: commands run (by name) and CPU seconds."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def sample(self) -> tuple[dict[str, int], float]:
        stats = self.client.info("commandstats")
        calls = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}
        cpu = self.client.info("cpu")
        return calls, float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])

    def memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])


def per_task(before: tuple[dict[str, int], float], after: tuple[dict[str, int], float],
             n: int) -> tuple[float, float]:
    """Commands (the harness's own left out) and CPU microseconds per task."""
    calls = sum(
        count - before[0].get(name, 0)
        for name, count in after[0].items()
        if name not in HARNESS_COMMANDS and not name.startswith("config")
    )
    return calls / n, (after[1] - before[1]) * 1e6 / n


def environment(system: System, url: str, where: str, ledger: str) -> dict[str, str]:
    env = dict(os.environ, BENCH_PEER=system.peer, BENCH_REDIS_URL=url, BENCH_DIR=where,
               BENCH_LEDGER=ledger)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO)])
    env.pop("ALSEK_REDIS_URL", None)
    return env


def load_apps(env: dict[str, str]) -> Any:
    """``peer_apps`` configured as the workers will see it, in this process."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("BENCH_")})
    sys.modules.pop("peer_apps", None)
    import peer_apps  # type: ignore[import-not-found]

    return peer_apps


def ledger_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def drain(ledger: str, n: int, timeout: float) -> float:
    """Tasks/s between the first and the last completion."""
    deadline = time.monotonic() + timeout
    while (first := ledger_size(ledger)) == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("no task finished: the workers did not start")
        time.sleep(0.0005)
    started = time.perf_counter()
    while ledger_size(ledger) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ledger_size(ledger)} of {n} tasks finished")
        time.sleep(0.001)
    return (n - first) / (time.perf_counter() - started)


def latencies(call: Callable[[int], Any], samples: int) -> tuple[float, float]:
    for i in range(20):  # warm up
        call(i)
    times = []
    for i in range(samples):
        begin = time.perf_counter()
        if call(i) != i:
            raise AssertionError("a task returned the wrong result")
        times.append((time.perf_counter() - begin) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def timed_submissions(submit: Callable[[], Any], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        submit()
    return n / (time.perf_counter() - started)


def start_workers(system: System, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i, command in enumerate(system.workers):
        log = open(logs / f"worker-{i}.log", "wb")  # noqa: SIM115 - lives as long as the worker
        procs.append(subprocess.Popen(command, env=env, cwd=HERE, stdout=log, stderr=log))
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run(system: System, n: int, memory_n: int, samples: int, timeout: float = 600) -> Figures:
    """Measure ``system`` once (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="alsek-peers-") as tmp:
        server = RedisServer().start() if system.redis else None
        try:
            return _run(system, server, Path(tmp), n, memory_n, samples, timeout)
        finally:
            if server is not None:
                server.close()


def _run(system: System, server: RedisServer | None, tmp: Path, n: int, memory_n: int,
         samples: int, timeout: float) -> Figures:
    ledger = str(tmp / "ledger")
    env = environment(system, server.url if server else "", str(tmp), ledger)
    apps = load_apps(env)
    probe = Probe(server.url) if server else None

    def submit() -> None:
        apps.submit_noop(system.mechanism)

    memory_before = probe.memory() if probe else 0
    enqueue_rate = timed_submissions(submit, memory_n)
    bytes_per_message = (probe.memory() - memory_before) / memory_n if probe else None
    if probe:
        probe.client.flushall()
    else:  # the SQLite files: start again from an empty store
        apps = _fresh_store(system, env, tmp)

    s0 = probe.sample() if probe else None
    timed_submissions(submit, n)
    s1 = probe.sample() if probe else None
    procs = start_workers(system, env, tmp)
    try:
        rate = drain(ledger, n, timeout)
        time.sleep(0.3)  # the last acknowledgements land
        s2 = probe.sample() if probe else None
        p50, p95 = latencies(lambda i: apps.round_trip(i, system.mechanism), samples)
    except Exception:
        for log in sorted(tmp.glob("worker-*.log")):
            sys.stderr.write(f"--- {system.label}: {log.name}\n{log.read_text()[-3000:]}\n")
        raise
    finally:
        stop_workers(procs)
    figures = Figures(rate, enqueue_rate, p50, p95, bytes_per_message=bytes_per_message)
    if s0 is not None and s1 is not None and s2 is not None:
        enq_cmds, enq_cpu = per_task(s0, s1, n)
        proc_cmds, proc_cpu = per_task(s1, s2, n)
        figures = attrs.evolve(figures, commands_enqueue=enq_cmds, commands_processing=proc_cmds,
                               cpu_us_enqueue=enq_cpu, cpu_us_processing=proc_cpu)
    return figures


def _fresh_store(system: System, env: dict[str, str], tmp: Path) -> Any:
    """A new directory for a SQLite-based store (the memory phase filled the old one)."""
    fresh = tmp / "fresh"
    fresh.mkdir()
    env["BENCH_DIR"] = str(fresh)
    return load_apps(env)
