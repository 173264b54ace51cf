"""``alsek scheduler PACKAGE`` and ``alsek worker PACKAGE --scheduler``: triggers in
long-lived processes, once per tick however many run, stopped cleanly by signals."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import Worker
from tests.support.ops_cli import System, app_broker, make_system, wait_for, write_app

TRIGGER_APP = """
import os

from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, task
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend

if os.environ.get("ALSEK_REDIS_URL"):
    backend = RedisBackend()
else:
    backend = DiskCacheBackend()
broker = Broker(backend)
LEDGER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ticks.txt")


@task(broker, mechanism="thread", trigger=IntervalTrigger(seconds=1))
def tick(message=None) -> None:
    with open(LEDGER, "a") as ledger:
        ledger.write(f"{message.uuid} {message.created_at}\\n")
"""


@pytest.fixture(params=["redis", "disk"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> System:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    write_app(tmp_path, "trigger_app", TRIGGER_APP)
    return make_system(request.param, tmp_path, url)


def scheduler(system: System, name: str) -> Worker:
    """``python -m alsek scheduler trigger_app`` in a subprocess."""
    args = ["--log-level", "DEBUG"]
    log = system.root / f"{name}.log"
    return Worker(system.root, "trigger_app", args, system.env, log, command="scheduler")


def test_two_schedulers_submit_each_tick_once(system: System) -> None:
    broker: Any = app_broker(system)
    first, second = scheduler(system, "first"), scheduler(system, "second")
    try:
        wait_for(lambda: broker.counts("alsek_queue")["ready"] >= 3, 60, "three ticks")
    finally:
        for each in (first, second):
            each.signal(signal.SIGTERM)
        codes = [first.wait(60), second.wait(60)]
    logs = first.output() + second.output()
    assert codes == [0, 0], logs
    for each in (first, second):
        assert "scheduled tick" in each.output() and "scheduler stopped" in each.output()
    # Both fired every tick; the backend took one message per tick.
    assert "was already submitted elsewhere" in logs
    claimed = broker.claim(None, ["thread"], 60_000, [f"t{i}" for i in range(100)]).claims
    ticks = [int(claim.payload["created_at"]) for claim in claimed]
    assert len(ticks) == len(set(ticks)) >= 3
    assert all(tick % 1000 == 0 for tick in ticks)  # on the shared one-second grid


def test_a_worker_with_the_scheduler_runs_its_own_triggers(system: System) -> None:
    ledger = system.root / "ticks.txt"
    worker = Worker(
        system.root,
        "trigger_app",
        ["--scheduler", "--max_threads", "1", "--max_processes", "0"],
        system.env,
        system.root / "worker.log",
    )
    try:
        wait_for(
            lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 2, 60, "two runs"
        )
    finally:
        worker.signal(signal.SIGINT)
        assert worker.wait(60) == 0, worker.output()
    assert "scheduled tick" in worker.output() and "pool stopped after" in worker.output()


def test_a_package_without_triggers_is_refused(tmp_path: Path) -> None:
    write_app(tmp_path)
    system = make_system("disk", tmp_path, None)
    done = system.cli("scheduler", "ops_app")
    assert done.returncode == 1 and "no TriggerTask found in 'ops_app'" in done.stderr
