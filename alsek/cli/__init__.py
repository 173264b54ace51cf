"""The command line: ``alsek PACKAGE [options]`` starts a worker pool.

``alsek PACKAGE`` is short for ``alsek worker PACKAGE`` (also reachable as
``python -m alsek worker PACKAGE``). Other commands: ``deadletters`` to
list, inspect and re-submit dead letters, and ``simulate`` to predict a
workload's behaviour.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from alsek import __version__, defaults
from alsek.exceptions import AlsekError, BackendAuthError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _DefaultToWorker(click.Group):
    """A group where an unknown first word is a package for the ``worker`` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
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
    from alsek.effects.discovery import collect_tasks

    try:
        return collect_tasks(package)
    except AlsekError as error:
        raise click.ClickException(str(error)) from None


@main.command("worker")
@click.argument("package")
@click.option(
    "-q",
    "--queues",
    default=None,
    help="Comma-separated queues to consume, highest priority first "
    "(default: the tasks' queues, alphabetically).",
)
@click.option(
    "--max_threads",
    "--max-threads",
    "max_threads",
    type=click.IntRange(min=0),
    default=defaults.DEFAULT_MAX_THREADS,
    show_default=True,
    help="Most thread-mechanism tasks running at once.",
)
@click.option(
    "--max_processes",
    "--max-processes",
    "max_processes",
    type=click.IntRange(min=0),
    default=None,
    help="Most process-mechanism tasks running at once (default: the CPU count).",
)
@click.option(
    "--consumer_backoff_factor",
    "--consumer-backoff-factor",
    type=click.IntRange(min=0),
    default=defaults.CONSUMER_BACKOFF_FACTOR,
    show_default=True,
    help="Consumer backoff: extra wait (ms) per consecutive empty pass.",
)
@click.option(
    "--consumer_backoff_floor",
    "--consumer-backoff-floor",
    type=click.IntRange(min=0),
    default=defaults.CONSUMER_BACKOFF_FLOOR,
    show_default=True,
    help="Consumer backoff: shortest wait (ms).",
)
@click.option(
    "--consumer_backoff_ceiling",
    "--consumer-backoff-ceiling",
    type=click.IntRange(min=0),
    default=defaults.CONSUMER_BACKOFF_CEILING,
    show_default=True,
    help="Consumer backoff: longest wait (ms) between passes.",
)
@click.option(
    "--lease",
    "lease_ms",
    type=click.IntRange(min=100),
    default=defaults.DEFAULT_LEASE_MS,
    show_default=True,
    help="Lease (ms) on a claimed message, renewed while it runs.",
)
@click.option(
    "--grace",
    "grace_ms",
    type=click.IntRange(min=0),
    default=defaults.DEFAULT_GRACE_MS,
    show_default=True,
    help="On SIGINT/SIGTERM, how long (ms) running tasks may finish.",
)
@click.option(
    "--idle",
    "idle_ms",
    type=click.IntRange(min=1),
    default=defaults.DEFAULT_IDLE_MS,
    show_default=True,
    help="How long (ms) an idle worker thread or process lives.",
)
@click.option(
    "--log-level",
    "--log_level",
    "log_level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    help="Logging level.",
)
def worker(
    package: str,
    queues: str | None,
    max_threads: int,
    max_processes: int | None,
    consumer_backoff_factor: int,
    consumer_backoff_floor: int,
    consumer_backoff_ceiling: int,
    lease_ms: int,
    grace_ms: int,
    idle_ms: int,
    log_level: str,
) -> None:
    """Start a worker pool for the tasks found in PACKAGE.

    PACKAGE is a module (my_tasks), a file (my_tasks.py), a dotted path to a
    nested module (my_project.my_tasks), or a directory scanned recursively
    (my_project). Stops on SIGINT/SIGTERM after letting running tasks finish.
    """
    from alsek.effects.pool.pool import WorkerPool
    from alsek.pure.backoff import LinearBackoff
    from alsek.pure.ordering import parse_queues

    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    tasks = _tasks(package)
    try:
        backoff = LinearBackoff(
            factor=consumer_backoff_factor,
            floor=consumer_backoff_floor,
            ceiling=consumer_backoff_ceiling,
            zero_override=False,
        )
        pool = WorkerPool(
            tasks,
            queues=parse_queues(queues),
            max_threads=max_threads,
            max_processes=max_processes,
            backoff=backoff,
            lease_ms=lease_ms,
            grace_ms=grace_ms,
            idle_ms=idle_ms,
        )
    except AlsekError as error:
        raise click.ClickException(str(error)) from None
    try:
        pool.run()
    except BackendAuthError as error:  # refused credentials: no retry will help
        raise click.ClickException(str(error)) from None


@main.group("deadletters")
@click.argument("package")
@click.pass_context
def deadletters(ctx: click.Context, package: str) -> None:
    """List, inspect and re-submit the dead letters of PACKAGE's broker."""
    from alsek.effects.pool.pool import broker_of

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


def _mount_simulator() -> None:
    try:
        from alsek.cli.simulate import simulate
    except ImportError:  # pragma: no cover - only while the simulator is absent
        return
    main.add_command(simulate, "simulate")


_mount_simulator()
