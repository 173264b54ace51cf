"""``alsek status PACKAGE [--watch SECONDS] [--json]``: queues and live workers."""

from __future__ import annotations

import json
import time
from typing import Any

import attrs
import click

from alsek.cli.target import resolve, target_options
from alsek.exceptions import AlsekError
from alsek.pure.display import duration, table


def snapshot(broker: Any, also: list[str]) -> dict[str, Any]:
    """What ``status`` shows, as plain data (the ``--json`` form)."""
    from alsek.effects.clock import utcnow_ms
    from alsek.effects.inspection import queue_statuses

    now = utcnow_ms()
    queues = [attrs.asdict(row) for row in queue_statuses(broker, also)]
    workers = []
    for record in broker.workers():
        workers.append(
            {
                "id": record.id,
                "host": record.host,
                "pid": record.pid,
                "uptime_ms": record.uptime_ms(now),
                "queues": list(record.queues),
                "slots_used": record.slots_used,
                "slots_total": record.slots_total,
                "busy": record.busy,
                "slots": record.slots,
                "tasks_per_s": record.tasks_per_s,
                "processed": record.processed,
                "failed": record.failed,
                "running": [
                    {**attrs.asdict(task), "running_ms": max(now - task.started_at, 0)}
                    for task in record.running
                ],
            }
        )
    return {"at": now, "queues": queues, "workers": workers}


def render(data: dict[str, Any]) -> str:
    """The readable form of a snapshot."""
    queue_rows = [
        [
            q["queue"],
            str(q["ready"]),
            str(q["delayed"]),
            str(q["running"]),
            str(q["dead"]),
            duration(q["oldest_ready_ms"]),
        ]
        for q in data["queues"]
    ]
    parts = [
        table(
            ["QUEUE", "READY", "DELAYED", "RUNNING", "DEAD", "OLDEST READY"],
            queue_rows,
            [False, True, True, True, True, True],
        )
        if queue_rows
        else "no queues"
    ]
    worker_rows = [
        [
            w["id"],
            w["host"],
            str(w["pid"]),
            duration(w["uptime_ms"]),
            f"{w['slots_used']}/{w['slots_total']}",
            f"{w['tasks_per_s']:.1f}",
            str(w["processed"]),
            str(w["failed"]),
        ]
        for w in data["workers"]
    ]
    parts.append(
        table(
            ["WORKER", "HOST", "PID", "UPTIME", "SLOTS", "TASKS/S", "DONE", "FAILED"],
            worker_rows,
            [False, False, True, True, True, True, True, True],
        )
        if worker_rows
        else "no live workers"
    )
    return "\n\n".join(parts)


@click.command("status", short_help="Queues and live workers.")
@click.argument("package", required=False)
@target_options
@click.option(
    "--watch",
    "watch",
    type=click.FloatRange(min=0.1),
    default=None,
    metavar="SECONDS",
    help="Show it again every SECONDS until interrupted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per refresh).")
def status(
    package: str | None,
    redis_url: str | None,
    disk: str | None,
    namespace: str | None,
    watch: float | None,
    as_json: bool,
) -> None:
    """Queues (ready, delayed, running and dead messages, and how long the oldest ready
    one has waited) and live workers (host, pid, uptime, slots in use, tasks/s).

    Reads PACKAGE's broker, or the store given by --redis URL or --disk DIR.
    """
    target = resolve([package] if package else [], redis_url, disk, namespace)
    also = sorted({task.queue for task in target.tasks})
    try:
        while True:
            try:
                data = snapshot(target.broker, also)
            except AlsekError as error:
                raise click.ClickException(str(error)) from None
            if as_json:
                click.echo(json.dumps(data))
            else:
                if watch is not None and click.get_text_stream("stdout").isatty():
                    click.clear()
                click.echo(render(data))
                if watch is not None:
                    click.echo()
            if watch is None:
                return
            time.sleep(watch)
    except KeyboardInterrupt:
        return
