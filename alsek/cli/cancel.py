"""``alsek cancel PACKAGE UUID...``: remove waiting messages, stop running ones."""

from __future__ import annotations

import time

import click

from alsek.cli.target import resolve, target_options
from alsek.exceptions import AlsekError


@click.command("cancel", short_help="Cancel waiting or running messages.")
@click.argument("args", nargs=-1, metavar="[PACKAGE] UUID...")
@target_options
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a pool to stop a running message.",
)
def cancel(
    args: tuple[str, ...],
    redis_url: str | None,
    disk: str | None,
    namespace: str | None,
    wait_s: float,
) -> None:
    """Cancel messages: a waiting (ready or delayed) one is removed; a running one is
    stopped by the pool running it, on any host (a thread task gets an exception
    raised in it, a process task is terminated). Either way it is recorded as
    cancelled and never retried.

    Exits with 1 when a UUID is not queued, 2 when a stop was not confirmed in time.
    """
    from alsek.effects.inspection import locate
    from alsek.pure.cancel import CancelResult

    target = resolve(args, redis_url, disk, namespace)
    if not target.args:
        raise click.UsageError("name at least one message UUID")
    broker, code, requested = target.broker, 0, []
    for uuid in target.args:
        try:
            result = broker.cancel(uuid)
        except AlsekError as error:
            raise click.ClickException(str(error)) from None
        if result is CancelResult.REMOVED:
            click.echo(f"cancelled {uuid} (it was waiting; removed)")
        elif result is CancelResult.REQUESTED:
            click.echo(f"stopping {uuid} (it is running)")
            requested.append(uuid)
        else:
            click.echo(f"{uuid}: not found (not queued: done, dead or unknown)", err=True)
            code = 1
    deadline = time.monotonic() + wait_s
    while requested:
        still = []
        for uuid in requested:
            where = locate(broker, uuid).where
            if where == "cancelled":
                click.echo(f"cancelled {uuid} (stopped while running)")
            elif where in ("running", "ready", "delayed"):
                still.append(uuid)
            else:
                click.echo(f"{uuid}: ended as {where} before it could be stopped")
        requested = still
        if requested and time.monotonic() >= deadline:
            for uuid in requested:
                click.echo(f"{uuid}: stop requested, not yet confirmed", err=True)
            code = code or 2
            break
        if requested:
            time.sleep(0.1)
    if code:
        raise click.exceptions.Exit(code)
