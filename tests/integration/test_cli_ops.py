"""``alsek status``, ``inspect`` and ``cancel`` as a user runs them: subprocesses against a
real redis-server and against DiskCache, by PACKAGE and by ``--redis``/``--disk``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alsek.effects.task import Task
from tests.support.ops_cli import System, app_broker, make_system, wait_for, write_app


@pytest.fixture(params=["redis", "disk"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> System:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    write_app(tmp_path)
    return make_system(request.param, tmp_path, url)


def sender(system: System, name: str, queue: str, mechanism: str = "thread") -> Task:
    """A task in this process that submits ``name``'s messages to the app's broker."""
    from alsek.storage.result import ResultStore

    broker: Any = app_broker(system)
    return Task(
        lambda *a, **k: None,
        broker,
        name=name,
        queue=queue,
        mechanism=mechanism,
        result_store=ResultStore(broker.backend),
        backoff=None,  # retries follow at once
    )


def status_json(system: System, *target: str) -> dict[str, Any]:
    done = system.cli("status", *(target or system.store_args), "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def queue_row(data: dict[str, Any], queue: str) -> dict[str, Any]:
    (row,) = [q for q in data["queues"] if q["queue"] == queue]
    return row


def test_status_inspect_and_cancel_of_queued_messages(system: System) -> None:
    add = sender(system, "add", "fast")
    ready = [add.generate(args=(i, i)) for i in range(3)]
    later = add.generate(args=(9, 9), delay=600_000)
    sender(system, "boom", "alsek_queue").generate(args=(1,))

    by_store, by_package = status_json(system), status_json(system, "ops_app")
    for data in (by_store, by_package):
        fast = queue_row(data, "fast")
        assert (fast["ready"], fast["delayed"], fast["running"], fast["dead"]) == (3, 1, 0, 0)
        assert fast["oldest_ready_ms"] is not None and fast["oldest_ready_ms"] >= 0
        assert queue_row(data, "alsek_queue")["ready"] == 1
        assert data["workers"] == []
    text = system.cli("status", "ops_app")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["QUEUE", "READY", "DELAYED", "RUNNING", "DEAD", "OLDEST", "READY"]
    assert lines[2].split()[:5] == ["fast", "3", "1", "0", "0"]
    assert "no live workers" in text.stdout

    shown = system.cli("inspect", "ops_app", ready[0].uuid)
    assert shown.returncode == 0, shown.stderr
    assert f"message      {ready[0].uuid}" in shown.stdout
    assert "where        ready (waiting " in shown.stdout
    assert "task name    add" in shown.stdout and "args         [0, 0]" in shown.stdout
    assert "deliveries   0" in shown.stdout
    delayed = system.cli("inspect", *system.store_args, later.uuid, "--json")
    assert delayed.returncode == 0, delayed.stderr
    place = json.loads(delayed.stdout)
    assert place["where"] == "delayed" and place["message"]["args"] == [9, 9]
    assert 0 < place["place"]["ready_in_ms"] <= 600_000

    cancelled = system.cli("cancel", "ops_app", ready[1].uuid, later.uuid)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"cancelled {ready[1].uuid} (it was waiting; removed)" in cancelled.stdout
    assert f"cancelled {later.uuid} (it was waiting; removed)" in cancelled.stdout
    fast = queue_row(status_json(system), "fast")
    assert (fast["ready"], fast["delayed"]) == (2, 0)
    after = system.cli("inspect", "ops_app", later.uuid)
    assert "where        cancelled" in after.stdout
    assert "last error   TaskCancelledError: cancelled while queued (cancelled" in after.stdout

    missing = system.cli("cancel", *system.store_args, "no-such-uuid")
    assert missing.returncode == 1 and "no-such-uuid: not found" in missing.stderr
    unknown = system.cli("inspect", *system.store_args, "no-such-uuid")
    assert unknown.returncode == 1 and "where        unknown" in unknown.stdout


def test_a_running_system_seen_and_steered_from_the_command_line(system: System) -> None:
    broker: Any = app_broker(system)
    worker = system.worker("--max_threads", "2", "--max_processes", "1", "--log-format", "json")
    try:
        wait_for(lambda: len(status_json(system)["workers"]) == 1, 60, "the worker's record")
        spin = sender(system, "spin", "alsek_queue").generate(args=(60,))
        nap = sender(system, "nap", "alsek_queue", "process").generate(args=(60,))
        done = sender(system, "add", "fast").generate(args=(1, 2))
        failed = sender(system, "boom", "alsek_queue").generate(args=(7,))

        def busy() -> bool:
            (record,) = status_json(system)["workers"]
            return {r["uuid"] for r in record["running"]} == {spin.uuid, nap.uuid}

        wait_for(busy, 60, "both slow tasks to run")
        (record,) = status_json(system, "ops_app")["workers"]
        assert (record["slots_used"], record["slots_total"]) == (2, 3)
        assert record["pid"] == worker.pid and record["uptime_ms"] > 0
        text = system.cli("status", *system.store_args).stdout
        assert "WORKER" in text and f"  {worker.pid}  " in text and "  2/3  " in text

        running = system.cli("inspect", "ops_app", spin.uuid)
        assert f"where        running on worker {record['id']}" in running.stdout
        assert "deliveries   1" in running.stdout and "lease " in running.stdout

        stopped = system.cli("cancel", "ops_app", spin.uuid, nap.uuid, "--wait", "30")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        for message in (spin, nap):
            assert f"stopping {message.uuid} (it is running)" in stopped.stdout
            assert f"cancelled {message.uuid} (stopped while running)" in stopped.stdout
        wait_for(lambda: broker.counts("alsek_queue")["leased"] == 0, 30, "the slots to free")

        wait_for(
            lambda: queue_row(status_json(system), "alsek_queue")["dead"] == 1, 60, "a dead letter"
        )
        dead = system.cli("inspect", *system.store_args, failed.uuid)
        assert "where        dead (in the dead-letter queue)" in dead.stdout
        assert "last error   ValueError: boom 7 (failed, attempt 2," in dead.stdout
        assert 'raise ValueError(f"boom {x}")' in dead.stdout
        wait_for(
            lambda: (
                system.cli("inspect", "ops_app", done.uuid).returncode == 0
                and "done" in system.cli("inspect", "ops_app", done.uuid).stdout
            ),
            30,
            "the result",
        )
        result = system.cli("inspect", "ops_app", done.uuid)
        assert (
            "where        done (result stored)" in result.stdout
            and "result       3" in result.stdout
        )
    finally:
        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0, worker.output()
    assert status_json(system)["workers"] == []  # a clean stop leaves the registry
    lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    tasks = {line["uuid"]: line for line in lines if line.get("logger") == "alsek.task"}
    assert tasks[done.uuid]["outcome"] == "succeeded" and tasks[done.uuid]["task"] == "add"
    assert tasks[done.uuid]["queue"] == "fast" and isinstance(tasks[done.uuid]["duration_ms"], int)
    assert tasks[spin.uuid]["outcome"] == "cancelled"
    assert (
        tasks[failed.uuid]["level"] == "ERROR"
        and "ValueError: boom 7" in tasks[failed.uuid]["traceback"]
    )
    assert any("started WorkerPool" in line["message"] for line in lines)


def test_status_watch_refreshes_until_interrupted(system: System) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "alsek", "status", *system.store_args, "--watch", "0.2", "--json"],
        cwd=system.root,
        env=system.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        assert json.loads(first)["at"] <= json.loads(second)["at"]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_a_reading_command_needs_a_system(tmp_path: Path) -> None:
    write_app(tmp_path)
    system = make_system("disk", tmp_path, None)
    nothing = system.cli("status")
    assert nothing.returncode == 2
    assert "name the tasks' PACKAGE, or give --redis URL or --disk DIR" in nothing.stderr
    both = system.cli("status", "--redis", "redis://127.0.0.1:1/0", "--disk", str(tmp_path))
    assert both.returncode == 2 and "not both" in both.stderr
    wrong = system.cli("inspect", "ops_app")
    assert wrong.returncode == 2 and "name exactly one message UUID" in wrong.stderr
