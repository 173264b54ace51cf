"""``alsek inspect PACKAGE UUID``: where one message is and what is known of it."""

from __future__ import annotations

import json
from typing import Any

import attrs
import click

from alsek.cli.target import resolve, target_options
from alsek.exceptions import AlsekError
from alsek.pure.display import duration, timestamp

#: Message fields shown, in this order.
SHOWN = (
    "task_name",
    "queue",
    "args",
    "kwargs",
    "priority",
    "mechanism",
    "retries",
    "timeout",
    "delay",
    "created_at",
    "updated_at",
    "progenitor",
    "metadata",
)


def _where(location: Any, now: int) -> str:
    place, worker = location.place, location.worker
    if location.where == "running":
        text = "running"
        if worker is not None:
            started = next((t.started_at for t in worker.running if t.uuid == location.uuid), None)
            text += f" on worker {worker.id} (host {worker.host}, pid {worker.pid})"
            if started is not None:
                text += f" for {duration(max(now - started, 0))}"
        if place is not None and place.lease_left_ms is not None:
            text += f"; lease {duration(place.lease_left_ms)} left"
        return text
    if location.where == "ready" and place is not None:
        return f"ready (waiting {duration(max(-(place.ready_in_ms or 0), 0))})"
    if location.where == "delayed" and place is not None:
        return f"delayed (ready in {duration(place.ready_in_ms)})"
    words = {
        "dead": "dead (in the dead-letter queue)",
        "done": "done (result stored)",
        "cancelled": "cancelled",
        "failed": "failed for good (no dead letter kept)",
    }
    where: str = location.where
    return words.get(where, where)


def render(location: Any, now: int) -> str:
    """The readable form of a location."""
    lines = [f"message      {location.uuid}", f"where        {_where(location, now)}"]
    data = location.message or {}
    for field in SHOWN:
        if field in data and data[field] not in (None, {}, []):
            value = data[field]
            if field in ("created_at", "updated_at"):
                value = timestamp(value)
            elif field in ("timeout", "delay"):
                value = f"{value} ms"
            lines.append(f"{field.replace('_', ' '):<12} {value}")
    if location.place is not None:
        lines.append(f"deliveries   {location.place.deliveries}")
    dead = location.dead_letter
    if dead is not None:
        lines.append(f"dead since   {timestamp(dead.failed_at)}: {dead.reason}")
    if location.result is not None:
        lines.append(f"result       {json.dumps(location.result.get('result'), default=repr)}")
        lines.append(f"finished at  {timestamp(location.result.get('timestamp'))}")
    error = location.last_error
    if error is not None:
        final = "final" if error.final else "a retry followed"
        lines.append(
            f"last error   {error.summary} ({error.outcome.replace('_', ' ')}, "
            f"attempt {error.attempts}, {timestamp(error.at)}, {final})"
        )
        if error.traceback:
            lines.extend("  " + line for line in error.traceback.rstrip("\n").splitlines())
    return "\n".join(lines)


def as_data(location: Any) -> dict[str, Any]:
    """The ``--json`` form of a location."""
    data: dict[str, Any] = attrs.asdict(location, recurse=True)
    return data


@click.command("inspect", short_help="Where one message is, and what is known of it.")
@click.argument("args", nargs=-1, metavar="[PACKAGE] UUID")
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def inspect_message(
    args: tuple[str, ...],
    redis_url: str | None,
    disk: str | None,
    namespace: str | None,
    as_json: bool,
) -> None:
    """Where message UUID is (ready, delayed, running on which worker, dead, or done
    with a result), its fields, its deliveries and its last error.

    Reads PACKAGE's broker (and its tasks' result stores), or the store given by
    --redis URL or --disk DIR. Exits with 1 when nothing is known of UUID.
    """
    from alsek.effects.clock import utcnow_ms
    from alsek.effects.inspection import locate

    target = resolve(args, redis_url, disk, namespace)
    if len(target.args) != 1:
        raise click.UsageError("name exactly one message UUID")
    try:
        location = locate(target.broker, target.args[0], target.result_stores)
    except AlsekError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(as_data(location), indent=2, default=repr))
    else:
        click.echo(render(location, utcnow_ms()))
    if location.where == "unknown":
        raise click.exceptions.Exit(1)
