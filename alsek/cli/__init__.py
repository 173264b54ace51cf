"""The command line: ``alsek PACKAGE [options]`` starts a worker pool.

``alsek PACKAGE`` is short for ``alsek worker PACKAGE`` (also reachable as
``python -m alsek worker PACKAGE``). Other commands, one module each:
``status`` (queues and workers), ``inspect`` (one message), ``cancel``,
``scheduler`` (run triggers), ``deadletters`` (list, show, re-submit and
remove dead letters), ``dashboard`` (a web dashboard, an optional extra) and
``simulate`` (predict a workload's behaviour) and ``calibrate`` (measure the
simulator's overheads on a real pool).
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path

import click

from alsek import __version__
from alsek.cli.worker import worker


def _is_package(word: str) -> bool:
    """Whether ``word`` names a file, a directory or an importable top-level module
    (found without importing it)."""
    if Path(word).exists():
        return True
    try:
        sys.path.insert(0, str(Path.cwd()))
        try:
            return importlib.util.find_spec(word) is not None
        finally:
            sys.path.pop(0)
    except (ImportError, ValueError):
        return False


def looks_like_a_command(word: str, commands: list[str]) -> bool:
    """A word close to a command's name (``stauts``, ``deadletter``) that names no
    package: a mistyped command, not a package to import."""
    if any(c in word for c in "./\\") or word.startswith("-"):
        return False
    return bool(difflib.get_close_matches(word, commands, n=1, cutoff=0.6)) and not _is_package(
        word
    )


class _DefaultToWorker(click.Group):
    """A group where an unknown first word is a package for the ``worker`` command,
    unless it looks like a mistyped command (then click says "No such command")."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        word = args[0] if args else ""
        unknown = bool(word) and not word.startswith("-") and word not in self.commands
        # A mistyped command falls through to click's "No such command".
        if unknown and not looks_like_a_command(word, list(self.commands)):
            args = ["worker", *args]
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The epilog, then the worker's usage and options, taken from the
        ``worker`` command itself so that they never drift from it."""
        super().format_epilog(ctx, formatter)
        worker_command = self.commands.get("worker")
        if worker_command is None:
            return
        worker_ctx = click.Context(worker_command, info_name=ctx.command_path, parent=None)
        formatter.write_paragraph()
        formatter.write_usage(ctx.command_path, "PACKAGE [OPTIONS]", prefix="Worker usage: ")
        with formatter.section("Worker options"):
            records = [
                record
                for param in worker_command.get_params(worker_ctx)
                if param.name != "help"
                and (record := param.get_help_record(worker_ctx)) is not None
            ]
            formatter.write_dl(records)


@click.group(
    cls=_DefaultToWorker,
    epilog="Run 'alsek PACKAGE [OPTIONS]' to start a worker pool: it is short for "
    "'alsek worker PACKAGE [OPTIONS]' (see 'alsek worker --help').",
)
@click.version_option(__version__, prog_name="alsek")
def main() -> None:
    """Alsek: a distributed task queue for Python."""


def _mount() -> None:
    from alsek.cli.cancel import cancel
    from alsek.cli.dashboard import dashboard
    from alsek.cli.deadletters import deadletters
    from alsek.cli.inspection import inspect_message
    from alsek.cli.scheduler import scheduler
    from alsek.cli.status import status

    main.add_command(worker, "worker")
    main.add_command(status, "status")
    main.add_command(inspect_message, "inspect")
    main.add_command(cancel, "cancel")
    main.add_command(scheduler, "scheduler")
    main.add_command(dashboard, "dashboard")
    main.add_command(deadletters, "deadletters")


_mount()


def _mount_simulator() -> None:
    try:
        from alsek.cli.calibrate import calibrate
        from alsek.cli.simulate import simulate
    except ImportError:  # pragma: no cover - only while the simulator is absent
        return
    main.add_command(simulate, "simulate")
    main.add_command(calibrate, "calibrate")


_mount_simulator()
