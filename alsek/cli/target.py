"""Which system a reading command looks at: PACKAGE's broker, or ``--redis URL`` /
``--disk DIR`` (with ``--namespace``) when the tasks are not at hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import click

from alsek import defaults
from alsek.exceptions import AlsekError


@attrs.frozen
class Target:
    """A broker to read, the tasks found (none with ``--redis``/``--disk``), and the
    arguments left after PACKAGE."""

    broker: Any
    tasks: tuple[Any, ...]
    args: tuple[str, ...]

    @property
    def result_stores(self) -> list[Any]:
        """The tasks' result stores (one per store)."""
        stores: dict[Any, Any] = {}
        for task in self.tasks:
            if task.result_store is not None:
                stores.setdefault(task.result_store.backend.identity(), task.result_store)
        return list(stores.values())


def collect(package: str) -> list[Any]:
    """The tasks in PACKAGE, or a clear CLI error."""
    from alsek.effects.discovery import collect_tasks

    try:
        return collect_tasks(package)
    except AlsekError as error:
        raise click.ClickException(str(error)) from None


def target_options(command: Any) -> Any:
    """``--redis URL``, ``--disk DIR`` and ``--namespace NS``."""
    command = click.option(
        "--namespace",
        default=None,
        help=f"Namespace, with --redis or --disk (default {defaults.DEFAULT_NAMESPACE!r}).",
    )(command)
    command = click.option(
        "--disk",
        "disk",
        metavar="DIR",
        type=click.Path(file_okay=False),
        default=None,
        help="Read the DiskCache store in DIR instead of PACKAGE's broker.",
    )(command)
    return click.option(
        "--redis",
        "redis_url",
        metavar="URL",
        default=None,
        help="Read the Redis at URL instead of PACKAGE's broker.",
    )(command)


def resolve(
    args: Sequence[str], redis_url: str | None, disk: str | None, namespace: str | None
) -> Target:
    """The broker to read: from ``--redis``/``--disk`` (every arg is left), or from the
    tasks of the first arg, PACKAGE."""
    from alsek.effects.broker import Broker
    from alsek.effects.pool.sizing import broker_of

    if redis_url is not None and disk is not None:
        raise click.UsageError("give --redis or --disk, not both")
    if redis_url is not None or disk is not None:
        try:
            if redis_url is not None:
                from alsek.effects.backends.redis import RedisBackend

                backend: Any = RedisBackend(redis_url, namespace or defaults.DEFAULT_NAMESPACE)
            else:
                from alsek.effects.backends.disk import DiskCacheBackend

                backend = DiskCacheBackend(disk, namespace or defaults.DEFAULT_NAMESPACE)
        except AlsekError as error:
            raise click.ClickException(str(error)) from None
        return Target(Broker(backend), (), tuple(args))
    if namespace is not None:
        raise click.UsageError("--namespace goes with --redis or --disk (PACKAGE names its own)")
    if not args:
        raise click.UsageError("name the tasks' PACKAGE, or give --redis URL or --disk DIR")
    tasks = collect(args[0])
    try:
        broker = broker_of(tasks)
    except AlsekError as error:
        raise click.ClickException(str(error)) from None
    return Target(broker, tuple(tasks), tuple(args[1:]))
