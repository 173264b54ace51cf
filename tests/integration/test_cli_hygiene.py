"""The command line says what is wrong: mistyped commands, missing or broken packages,
and where logging goes (text, JSON, a dictConfig file)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import Worker, base_env, wait_for
from tests.support.ops_cli import write_app


def alsek(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alsek", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=base_env(),
        timeout=60,
    )


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("stauts", "status"),
        ("deadletter", "deadletters"),
        ("inspekt", "inspect"),
        ("cancle", "cancel"),
    ],
)
def test_a_mistyped_command_is_not_imported_as_a_package(
    tmp_path: Path, word: str, meant: str
) -> None:
    done = alsek(tmp_path, word, "x")
    assert done.returncode == 2
    assert f"No such command '{word}'. Did you mean '{meant}'?" in done.stderr
    assert "cannot import" not in done.stderr


def test_a_package_that_resembles_a_command_still_runs_as_a_package(tmp_path: Path) -> None:
    (tmp_path / "statuses.py").write_text("X = 1\n")  # close to 'status', but it exists
    done = alsek(tmp_path, "statuses")
    assert done.returncode == 1 and "no tasks found in 'statuses'" in done.stderr


def test_inspect_is_a_command_not_the_standard_library(tmp_path: Path) -> None:
    done = alsek(tmp_path, "inspect", "--help")
    assert done.returncode == 0 and "Where message UUID is" in done.stdout


def test_a_package_that_is_neither_importable_nor_a_path(tmp_path: Path) -> None:
    done = alsek(tmp_path, "status", "no_such_app")
    assert done.returncode == 1
    assert "cannot import 'no_such_app': it is neither an importable module nor a file" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_file_that_fails_to_import_in_a_directory_scan_is_named(tmp_path: Path) -> None:
    package = tmp_path / "app"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "broken.py").write_text("import json\nraise RuntimeError('bad config')\n")
    done = alsek(tmp_path, "app")
    assert done.returncode == 1
    assert "cannot import 'app.inner.broken'" in done.stderr
    assert str(package / "inner" / "broken.py") in done.stderr
    assert "RuntimeError: bad config" in done.stderr and "Traceback" not in done.stderr


def test_logs_as_json_lines_or_through_a_dictconfig_file(tmp_path: Path) -> None:
    write_app(tmp_path)
    store = tmp_path / "store"
    env = base_env({"ALSEK_DISKCACHE_DIR": str(store)})
    config = tmp_path / "logging.json"
    target = tmp_path / "alsek.log"
    config.write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {"plain": {"format": "CONFIGURED %(levelname)s %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "filename": str(target),
                        "formatter": "plain",
                    }
                },
                "root": {"level": "INFO", "handlers": ["file"]},
            }
        )
    )
    worker = Worker(
        tmp_path,
        "ops_app",
        [
            "--max_threads",
            "1",
            "--max_processes",
            "0",
            "-q",
            "fast,nowhere",
            "--log-config",
            str(config),
        ],
        env,
        tmp_path / "worker.log",
    )
    try:
        wait_for(
            lambda: target.exists() and "started WorkerPool" in target.read_text(), 60, "start"
        )
    finally:
        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0, worker.output()
    text = target.read_text()
    assert "CONFIGURED INFO started WorkerPool" in text
    assert f"on {store} (namespace 'alsek')" in text
    assert "CONFIGURED WARNING queue 'nowhere' is not the queue of any task here" in text
    assert "CONFIGURED INFO pool stopped after 0 tasks" in text
    bad = alsek(tmp_path, "worker", "ops_app", "--log-config", str(tmp_path / "ops_app.py"))
    assert bad.returncode == 2 and "--log-config" in bad.stderr


def test_the_start_up_line_names_redis_without_its_password(tmp_path: Path, redis_url: str) -> None:
    write_app(tmp_path)
    secret_url = redis_url.replace("redis://", "redis://:hunter2@")
    env = base_env({"ALSEK_REDIS_URL": secret_url})
    worker = Worker(tmp_path, "ops_app", ["--max_processes", "0"], env, tmp_path / "w.log")
    try:
        wait_for(lambda: "started WorkerPool" in worker.output() or not worker.alive(), 60, "start")
    finally:
        worker.signal(signal.SIGTERM)
        worker.wait(60)
    output = worker.output()
    assert "hunter2" not in output
    assert "redis://:***@127.0.0.1" in output or "refused" in output
