"""Prometheus metrics of a pool, scraped over HTTP after a known workload."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.effects.metrics import metrics_for
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt
from tests.support.ops_cli import make_system, write_app


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample at ``http://127.0.0.1:port/metrics``, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples[(name, frozenset(labels.items()))]  # type: ignore[no-any-return]


@pytest.fixture()
def broker(backend: Backend) -> Iterator[Broker]:
    broker = Broker(backend)
    wt.bind(broker, ResultStore(backend))
    yield broker
    wt.bind(wt.placeholder, None)


def test_a_known_workload_reads_back_from_the_endpoint(tmp_path: Path, broker: Broker) -> None:
    store = ResultStore(broker.backend)
    for i in range(5):
        wt.t_echo.generate(args=(i,))
    for i in range(3):
        wt.p_echo.generate(args=(i,))
    wt.t_fail.generate(args=(str(tmp_path / "ledger"),))
    loaded = wt.p_loaded.generate(args=("prometheus_client",))
    wt.t_echo.generate(args=("later",), delay=600_000)
    wt.t_echo.generate(args=("elsewhere",), queue="other", delay=600_000)
    pool = WorkerPool(wt.ALL, queues=["alsek_queue", "other"], max_threads=2, max_processes=1)
    metrics = metrics_for(pool)
    port = metrics.serve(0)
    try:
        with pool:
            wait_until(lambda: pool.completed == 5 + 3 + 3 + 1, 60, "the workload")
            # Process tasks are recorded in the pool's own process; their process never
            # loads the metrics library.
            assert store.get(loaded, timeout=10_000) is False
            wait_until(lambda: not pool.slots.live(), 10, "the slots to free")
            samples = scrape(port)
    finally:
        metrics.close()
    tasks = "alsek_tasks_total"
    assert value(samples, tasks, task="t_echo", queue="alsek_queue", outcome="succeeded") == 5
    assert value(samples, tasks, task="p_echo", queue="alsek_queue", outcome="succeeded") == 3
    assert value(samples, tasks, task="t_fail", queue="alsek_queue", outcome="failed") == 3
    assert value(samples, tasks, task="p_loaded", queue="alsek_queue", outcome="succeeded") == 1
    runs = "alsek_task_run_seconds_count"
    assert value(samples, runs, task="t_echo", queue="alsek_queue") == 5
    assert value(samples, runs, task="p_echo", queue="alsek_queue") == 3
    assert value(samples, "alsek_task_run_seconds_sum", task="p_echo", queue="alsek_queue") >= 0
    inf = value(
        samples, "alsek_task_run_seconds_bucket", task="t_fail", queue="alsek_queue", le="+Inf"
    )
    assert inf == 3
    assert value(samples, "alsek_task_wait_seconds_count", task="t_echo", queue="alsek_queue") == 5
    assert value(samples, "alsek_slots", mechanism="thread") == 2
    assert value(samples, "alsek_slots", mechanism="process") == 1
    assert value(samples, "alsek_slots_in_use", mechanism="thread") == 0
    depth = "alsek_queue_depth"
    assert value(samples, depth, queue="alsek_queue", state="delayed") == 1
    assert value(samples, depth, queue="alsek_queue", state="ready") == 0
    assert value(samples, depth, queue="other", state="delayed") == 1
    assert value(samples, "alsek_queue_oldest_ready_seconds", queue="alsek_queue") == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("kind", ["redis", "disk"])
def test_the_worker_command_serves_metrics(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    from alsek.effects.task import Task

    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    write_app(tmp_path)
    system = make_system(kind, tmp_path, url)
    from tests.support.ops_cli import app_broker

    sender = Task(
        lambda a, b: None, app_broker(system), name="add", queue="fast", mechanism="thread"
    )  # type: ignore[arg-type]
    for i in range(4):
        sender.generate(args=(i, i))
    port = free_port()
    worker = system.worker(
        "--max_threads", "2", "--max_processes", "0", "--metrics-port", str(port)
    )
    try:

        def counted() -> bool:
            try:
                samples = scrape(port)
            except OSError:
                return False
            key = (
                "alsek_tasks_total",
                frozenset({"task": "add", "queue": "fast", "outcome": "succeeded"}.items()),
            )
            return samples.get(key) == 4

        wait_until(counted, 60, "four successes in the metrics")
    finally:
        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0, worker.output()
    assert f"serving Prometheus metrics on http://127.0.0.1:{port}/metrics" in worker.output()
