"""``alsek --help`` documents the worker (the tour sends readers there for its options)."""

from __future__ import annotations

import subprocess
import sys

import click

from alsek.cli import main, worker
from tests.support.harness import REPO, base_env


def help_text(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "alsek", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=base_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_top_level_help_lists_the_tour_s_worker_options() -> None:
    text = help_text("--help")
    assert "python -m alsek PACKAGE [OPTIONS]" in text
    for option in ("-q, --queues", "--max_threads", "--max_processes"):
        assert option in text
    # The commands are still listed.
    for command in ("worker", "deadletters"):
        assert f"  {command} " in text


def test_every_worker_option_appears_with_its_help() -> None:
    text = " ".join(help_text("--help").split())
    options = [p for p in worker.params if isinstance(p, click.Option)]
    assert len(options) >= 10
    for option in options:
        for opt in option.opts:
            assert opt in text, opt
        assert " ".join((option.help or "").split())[:30] in text, option.name


def test_the_worker_section_does_not_replace_the_worker_s_own_help() -> None:
    assert main.commands["worker"] is worker
    text = help_text("worker", "--help")
    assert "Usage: python -m alsek worker [OPTIONS] PACKAGE" in text
    assert "Worker options" not in text
