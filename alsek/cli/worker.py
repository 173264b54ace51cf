"""``alsek worker PACKAGE`` (also ``alsek PACKAGE``): a worker pool for PACKAGE's tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from alsek import defaults
from alsek.cli.logs import configure, log_options
from alsek.cli.target import collect
from alsek.exceptions import AlsekError, BackendAuthError


@click.command("worker")
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
    "--max_async",
    "--max-async",
    "max_async",
    type=click.IntRange(min=0),
    default=defaults.DEFAULT_MAX_ASYNC,
    show_default=True,
    help="Most coroutines (async def tasks, mechanism 'thread') running at once "
    "on the pool's event loop.",
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
    "--scheduler",
    "with_scheduler",
    is_flag=True,
    help="Also run every TriggerTask in PACKAGE (as 'alsek scheduler' does).",
)
@click.option(
    "--metrics-port",
    "metrics_port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Serve Prometheus metrics on this port (needs 'alsek[metrics]').",
)
@click.option(
    "--metrics-host",
    "metrics_host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics endpoint binds to (0.0.0.0: every interface).",
)
@log_options
def worker(
    package: str,
    queues: str | None,
    max_threads: int,
    max_processes: int | None,
    max_async: int,
    consumer_backoff_factor: int,
    consumer_backoff_floor: int,
    consumer_backoff_ceiling: int,
    lease_ms: int,
    grace_ms: int,
    idle_ms: int,
    with_scheduler: bool,
    metrics_port: int | None,
    metrics_host: str,
    log_level: str,
    log_format: str,
    log_config: Path | None,
) -> None:
    """Start a worker pool for the tasks found in PACKAGE.

    PACKAGE is a module (my_tasks), a file (my_tasks.py), a dotted path to a
    nested module (my_project.my_tasks), or a directory scanned recursively
    (my_project). Stops on SIGINT/SIGTERM after letting running tasks finish.
    """
    from alsek.effects.pool.pool import WorkerPool
    from alsek.pure.backoff import LinearBackoff
    from alsek.pure.ordering import parse_queues

    configure(log_level, log_format, log_config)
    tasks = collect(package)
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
            max_async=max_async,
            backoff=backoff,
            lease_ms=lease_ms,
            grace_ms=grace_ms,
            idle_ms=idle_ms,
        )
        metrics = None if metrics_port is None else _serve_metrics(pool, metrics_port, metrics_host)
    except AlsekError as error:
        raise click.ClickException(str(error)) from None
    from alsek.effects.triggering import start_triggers, stop_triggers, trigger_tasks

    triggers = start_triggers(trigger_tasks(tasks)) if with_scheduler else []
    try:
        pool.run()
    except BackendAuthError as error:  # refused credentials: no retry will help
        raise click.ClickException(str(error)) from None
    finally:
        stop_triggers(triggers)
        if metrics is not None:
            metrics.close()


def _serve_metrics(pool: Any, port: int, host: str) -> Any:
    from alsek.effects.metrics import metrics_for

    metrics = metrics_for(pool)
    try:
        metrics.serve(port, host)
    except OSError as error:
        raise click.ClickException(f"cannot serve metrics on {host}:{port}: {error}") from None
    return metrics
