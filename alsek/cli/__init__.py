"""The command line: ``alsek PACKAGE [options]`` starts a worker pool.

``alsek PACKAGE`` is short for ``alsek worker PACKAGE`` (also reachable as
``python -m alsek worker PACKAGE``). Other commands, one module each:
``status`` (queues and workers), ``inspect`` (one message), ``cancel``,
``scheduler`` (run triggers), ``deadletters`` (list, show, re-submit and
remove dead letters) and ``simulate`` (predict a workload's behaviour).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import click

from alsek import __version__
from alsek.cli.worker import worker
from alsek.exceptions import AlsekError


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


def _tasks(package: str) -> list[Any]:
    from alsek.cli.target import collect

    return collect(package)


@main.group("deadletters")
@click.argument("package")
@click.pass_context
def deadletters(ctx: click.Context, package: str) -> None:
    """List, inspect and re-submit the dead letters of PACKAGE's broker."""
    from alsek.effects.pool.sizing import broker_of

    try:
        ctx.obj = broker_of(_tasks(package))
    except AlsekError as error:
        raise click.ClickException(str(error)) from None


@deadletters.command("list")
@click.option("-q", "--queue", default=None, help="Only this queue.")
@click.pass_obj
def deadletters_list(broker: Any, queue: str | None) -> None:
    """One line per dead letter: uuid, task, queue, time, reason."""
    count = 0
    for record in broker.dead_letters(queue):
        data = record.message or {}
        click.echo(
            f"{record.uuid}\t{data.get('task_name', '?')}\t{data.get('queue', '?')}\t"
            f"{record.failed_at}\t{record.reason}"
        )
        count += 1
    click.echo(f"{count} dead letter(s)", err=True)


@deadletters.command("show")
@click.argument("uuid")
@click.pass_obj
def deadletters_show(broker: Any, uuid: str) -> None:
    """The full dead letter of message UUID, as JSON."""
    from alsek.pure.codec import unstructure

    try:
        record = broker.get_dead_letter(uuid)
    except AlsekError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(unstructure(record), indent=2, default=repr))


@deadletters.command("resubmit")
@click.argument("uuids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Re-submit every dead letter.")
@click.pass_obj
def deadletters_resubmit(broker: Any, uuids: tuple[str, ...], everything: bool) -> None:
    """Put dead messages back in their queues with a fresh retry budget."""
    if everything:
        uuids = tuple(record.uuid for record in broker.dead_letters() if record.message)
    if not uuids:
        raise click.UsageError("name at least one UUID, or pass --all")
    for uuid in uuids:
        try:
            message = broker.resubmit_dead_letter(uuid)
        except AlsekError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"re-submitted {message.summary}")


@deadletters.command("remove")
@click.argument("uuids", nargs=-1, required=True)
@click.pass_obj
def deadletters_remove(broker: Any, uuids: tuple[str, ...]) -> None:
    """Delete dead letters for good."""
    for uuid in uuids:
        try:
            broker.remove_dead_letter(uuid)
        except AlsekError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"removed {uuid}")


def _mount() -> None:
    from alsek.cli.cancel import cancel
    from alsek.cli.inspection import inspect_message
    from alsek.cli.scheduler import scheduler
    from alsek.cli.status import status

    main.add_command(worker, "worker")
    main.add_command(status, "status")
    main.add_command(inspect_message, "inspect")
    main.add_command(cancel, "cancel")
    main.add_command(scheduler, "scheduler")


_mount()


def _mount_simulator() -> None:
    try:
        from alsek.cli.simulate import simulate
    except ImportError:  # pragma: no cover - only while the simulator is absent
        return
    main.add_command(simulate, "simulate")


_mount_simulator()
