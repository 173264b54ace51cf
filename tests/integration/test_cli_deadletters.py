"""``alsek deadletters`` as a user runs it: subprocesses against a real redis-server and
against DiskCache, by PACKAGE and by ``--redis``/``--disk``, with bad records among the
good ones."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alsek.core import task
from alsek.effects.failures import read_failure
from alsek.testing import run_until_idle
from tests.integration.test_dead_letters import put_raw
from tests.support.ops_cli import System, app_broker, make_system, write_app

KEY = "dlq:queues:alsek_queue:tasks:boom:messages:"


@pytest.fixture(params=["redis", "disk"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> System:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    write_app(tmp_path)
    return make_system(request.param, tmp_path, url)


def fail_some(system: System, count: int, queue: str = "alsek_queue") -> list[str]:
    """``count`` runs of the app's ``boom`` task that fail for good (2 attempts each)."""
    broker: Any = app_broker(system)

    @task(broker, name="boom", queue=queue, mechanism="thread", max_retries=1)
    def boom(x: int) -> None:
        raise ValueError(f"boom {x}")

    uuids = [boom.generate(args=(i,)).uuid for i in range(count)]
    run_until_idle(broker)
    return uuids


def ok(system: System, *args: str) -> str:
    done = system.cli("deadletters", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_list_show_and_filters(system: System) -> None:
    uuids = fail_some(system, 3)
    other = fail_some(system, 1, queue="other")[0]
    for target in (("ops_app",), system.store_args):
        listed = system.cli("deadletters", *target, "list")
        assert listed.returncode == 0, listed.stderr
        header, *rows = listed.stdout.splitlines()
        assert header.split() == ["FAILED", "UUID", "TASK", "QUEUE", "ATTEMPTS", "REASON"]
        assert len(rows) == 4 and "4 dead letter(s)" in listed.stderr
        row = next(r for r in rows if uuids[1] in r)
        assert "boom  alsek_queue" in row and "Z  " in row  # a readable UTC time
        assert row.split()[5:] == ["2", "ValueError:", "boom", "1", "after", "1", "retry"]
    assert uuids[0] not in ok(system, "ops_app", "list", "--queue", "other")
    assert other in ok(system, "ops_app", "list", "-q", "other", "--task", "boom")
    assert ok(system, "ops_app", "list", "--task", "nope") == ""
    assert len(ok(system, "ops_app", "list", "--since", "1h").splitlines()) == 5
    assert ok(system, "ops_app", "list", "--since", "2999-01-01T00:00:00Z") == ""
    bad_since = system.cli("deadletters", "ops_app", "list", "--since", "soon")
    assert bad_since.returncode == 2 and "expected a duration" in bad_since.stderr
    data = json.loads(ok(system, "ops_app", "list", "--json"))
    assert sorted(d["uuid"] for d in data) == sorted([*uuids, other])
    assert all(d["attempts"] == 2 and "boom" in d["traceback"] and d["readable"] for d in data)

    shown = ok(system, *system.store_args, "show", uuids[2])
    assert f"key        {KEY}{uuids[2]}" in shown and "attempts   2" in shown
    assert 'raise ValueError(f"boom {x}")' in shown  # the task's own traceback
    missing = system.cli("deadletters", "ops_app", "show", "nope")
    assert missing.returncode == 1 and "no dead letter for message 'nope'" in missing.stderr


def test_bad_records_never_break_a_command(system: System) -> None:
    uuids = fail_some(system, 4)
    broker: Any = app_broker(system)
    broker.backend.set(KEY + uuids[0], {"name": 5, "reason": None})
    put_raw(broker.backend, KEY + uuids[1], b"\x80\x81 not json")

    listed = system.cli("deadletters", "ops_app", "list")
    assert listed.returncode == 0 and "4 dead letter(s), 2 unreadable" in listed.stderr
    assert f"UNREADABLE {KEY}{uuids[0]}: invalid dead letter" in listed.stdout
    assert f"UNREADABLE {KEY}{uuids[1]}: undecodable" in listed.stdout
    shown = ok(system, "ops_app", "show", uuids[0])
    assert "problem    invalid dead letter" in shown and "{'name': 5, 'reason': None}" in shown

    again = system.cli("deadletters", "ops_app", "resubmit", "--all")
    assert again.returncode == 0 and "re-submitted 2 dead letter(s), 2 skipped" in again.stdout
    assert f"skipped: {KEY}{uuids[0]}: it cannot be read (invalid dead letter" in again.stderr
    assert "re-submitting" not in again.stderr  # no progress bar off a terminal
    assert broker.counts("alsek_queue")["ready"] == 2
    assert read_failure(broker.backend, uuids[2]) is None  # its final error is forgotten
    named = system.cli("deadletters", "ops_app", "resubmit", uuids[1])
    assert named.returncode == 1 and "it can only be removed" in named.stderr

    assert "removed 2 dead letter(s)" in ok(system, "ops_app", "remove", KEY + uuids[0], uuids[1])
    assert ok(system, "ops_app", "list") == ""


def test_bulk_removal_with_filters_and_reindex(system: System) -> None:
    fail_some(system, 3)
    kept = fail_some(system, 2, queue="other")
    removed = ok(system, *system.store_args, "remove", "--all", "--queue", "alsek_queue")
    assert removed.strip() == "removed 3 dead letter(s)"
    assert sorted(r.uuid for r in app_broker(system).dead_letters()) == sorted(kept)  # type: ignore[attr-defined]
    refused = system.cli("deadletters", "ops_app", "remove", "--queue", "other")
    assert refused.returncode == 2 and "--task, --queue and --since go with --all" in refused.stderr
    nothing = system.cli("deadletters", "ops_app", "remove")
    assert nothing.returncode == 2 and "or pass --all" in nothing.stderr
    assert ok(system, "ops_app", "reindex").strip() == "indexed 2 dead letter(s)"
    assert ok(system, "ops_app", "remove", "--all", "--since", "1d").strip() == (
        "removed 2 dead letter(s)"
    )
    gone = system.cli("deadletters", "ops_app", "remove", kept[0])
    assert gone.returncode == 1 and f"no dead letter for message {kept[0]!r}" in gone.stderr


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    write_app(tmp_path)
    system = make_system("disk", tmp_path, None)
    fail_some(system, 3)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "alsek", "deadletters", "ops_app", "remove", "--all"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            cwd=system.root,
            env=system.env,
            timeout=60,
        )
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0 and b"removed 3 dead letter(s)" in done.stdout
    assert b"removing" in shown and b"100%" in shown


def test_help_never_imports_the_package(tmp_path: Path) -> None:
    system = make_system("disk", tmp_path, None)
    for command in ("list", "show", "resubmit", "remove", "reindex"):
        done = system.cli("deadletters", "no_such_package", command, "--help")
        assert done.returncode == 0 and "Usage:" in done.stdout, done.stderr
    usage = system.cli("deadletters", "--help")
    assert "deadletters [PACKAGE] [OPTIONS] COMMAND" in usage.stdout
    missing = system.cli("deadletters", "list")
    assert missing.returncode == 2 and "name the tasks' PACKAGE" in missing.stderr
