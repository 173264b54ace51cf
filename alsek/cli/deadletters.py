"""``alsek deadletters [PACKAGE] COMMAND``: list, show, re-submit and remove dead letters.

PACKAGE names the tasks (their broker), or ``--redis URL`` / ``--disk DIR``
(with ``--namespace``) names the store. ``list``, ``resubmit --all`` and
``remove --all`` take ``--task``, ``--queue`` and ``--since`` (a duration back
from now such as ``10m``, ``2h``, ``1d``, or an ISO time). A dead letter is
named by its message's uuid or by its key (``dlq:queues:...``, shown for
records that cannot be read: they can be removed, never re-submitted).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import click

from alsek.cli.deadletters_view import HEADERS, NUMERIC, as_data, describe, row
from alsek.cli.target import Target, resolve, target_options
from alsek.exceptions import AlsekError
from alsek.pure.display import table

_PACKAGE = "alsek.deadletters.package"


class _Group(click.Group):
    """A group whose first word is PACKAGE unless it names a command (PACKAGE may be
    left out with ``--redis`` / ``--disk``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = list(args)
        i = 0
        while i < len(rest):
            word = rest[i]
            if word in ("--redis", "--disk", "--namespace"):
                i += 2
            elif word.startswith("-"):
                i += 1
            else:
                if word not in self.commands:
                    ctx.meta[_PACKAGE] = rest.pop(i)
                break
        return super().parse_args(ctx, rest)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[PACKAGE]", *super().collect_usage_pieces(ctx)]


@attrs.define
class _Lazy:
    """The system to act on, found only when a command runs (so ``--help`` never
    imports PACKAGE)."""

    package: str | None
    redis_url: str | None
    disk: str | None
    namespace: str | None
    target: Target | None = None

    def broker(self) -> Any:
        if self.target is None:
            args = [self.package] if self.package else []
            self.target = resolve(args, self.redis_url, self.disk, self.namespace)
        return self.target.broker


@click.group("deadletters", cls=_Group, short_help="List, show, re-submit and remove dead letters.")
@target_options
@click.pass_context
def deadletters(
    ctx: click.Context, redis_url: str | None, disk: str | None, namespace: str | None
) -> None:
    """List, show, re-submit and remove the dead letters of PACKAGE's broker (or of the
    store given by --redis URL or --disk DIR)."""
    ctx.obj = _Lazy(ctx.meta.pop(_PACKAGE, None), redis_url, disk, namespace)


def _filters(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--since",
        default=None,
        metavar="WHEN",
        help="Only those that failed since WHEN: a duration back from now (10m, 2h, 1d) "
        "or an ISO time (2026-12-01T12:00:00Z).",
    )(command)
    command = click.option("-q", "--queue", default=None, help="Only this queue.")(command)
    return click.option("--task", default=None, help="Only this task.")(command)


def _since(text: str | None) -> int | None:
    from alsek.effects.clock import utcnow_ms
    from alsek.pure.dead_letter_filter import parse_since

    if text is None:
        return None
    try:
        return parse_since(text, utcnow_ms())
    except AlsekError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None


@contextlib.contextmanager
def _failing_clearly() -> Iterator[None]:
    try:
        yield
    except AlsekError as error:
        raise click.ClickException(str(error)) from None


@deadletters.command("list")
@_filters
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of full records.")
@click.pass_obj
def list_dead(
    lazy: _Lazy, task: str | None, queue: str | None, since: str | None, as_json: bool
) -> None:
    """A table of dead letters, oldest first: when each failed, uuid, task, queue,
    attempts and reason (unreadable ones with their key and what is wrong)."""
    when = _since(since)
    with _failing_clearly():
        records = list(lazy.broker().dead_letters(queue, task, when))
    if as_json:
        click.echo(json.dumps([as_data(r) for r in records], default=repr))
        return
    if records:
        click.echo(table(HEADERS, [row(r) for r in records], NUMERIC))
    bad = sum(1 for r in records if not r.readable)
    click.echo(f"{len(records)} dead letter(s)" + (f", {bad} unreadable" if bad else ""), err=True)


@deadletters.command("show")
@click.argument("uuid")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@click.pass_obj
def show_dead(lazy: _Lazy, uuid: str, as_json: bool) -> None:
    """The dead letter of message UUID (or at a dlq: key), with the traceback of its
    last failure; every one, when several messages with that uuid are dead."""
    from alsek.effects.clock import utcnow_ms

    with _failing_clearly():
        records = lazy.broker().find_dead_letters(uuid)
    if not records:
        raise click.ClickException(f"no dead letter for message {uuid!r}")
    if as_json:
        click.echo(json.dumps([as_data(r) for r in records], indent=2, default=repr))
        return
    now = utcnow_ms()
    click.echo("\n\n".join(describe(r, now) for r in records))


def _chosen(
    lazy: _Lazy,
    uuids: tuple[str, ...],
    everything: bool,
    task: str | None,
    queue: str | None,
    since: str | None,
) -> tuple[list[Any], list[str]]:
    """The records a bulk command acts on, and the names that found none (or several)."""
    if everything and uuids:
        raise click.UsageError("give UUIDs or --all, not both")
    if not everything and (task or queue or since):
        raise click.UsageError("--task, --queue and --since go with --all")
    if not everything and not uuids:
        raise click.UsageError("name at least one UUID (or dlq: key), or pass --all")
    broker = lazy.broker()
    if everything:
        when = _since(since)
        with _failing_clearly():
            return list(broker.dead_letters(queue, task, when)), []
    from alsek.effects.dead_letters import only

    records, missing = [], []
    for uuid in uuids:
        try:
            records.append(only(broker.find_dead_letters(uuid), uuid))
        except AlsekError as error:
            missing.append(str(error))
    return records, missing


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal (stderr), nothing otherwise."""
    if total == 0 or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _report(verb: str, done: int, skipped: list[str], strict: bool) -> None:
    for line in skipped:
        click.echo(f"skipped: {line}", err=True)
    click.echo(f"{verb} {done} dead letter(s)" + (f", {len(skipped)} skipped" if skipped else ""))
    if skipped and strict:
        sys.exit(1)


@deadletters.command("resubmit")
@click.argument("uuids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead letter (that matches).")
@_filters
@click.pass_obj
def resubmit_dead(
    lazy: _Lazy,
    uuids: tuple[str, ...],
    everything: bool,
    task: str | None,
    queue: str | None,
    since: str | None,
) -> None:
    """Put dead messages back in their queues with a fresh retry budget (and forget
    their last error). With --all, those that cannot run are reported and skipped;
    a named one that cannot be re-submitted makes the command fail."""
    records, missing = _chosen(lazy, uuids, everything, task, queue, since)
    with _failing_clearly(), _progress(len(records), "re-submitting") as progress:
        bulk = lazy.broker().resubmit_dead_letters(records, progress=progress)
    skipped = missing + [f"{key}: {why}" for key, why in bulk.skipped]
    _report("re-submitted", len(bulk.done), skipped, strict=not everything)


@deadletters.command("remove")
@click.argument("uuids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every dead letter (that matches).")
@_filters
@click.pass_obj
def remove_dead(
    lazy: _Lazy,
    uuids: tuple[str, ...],
    everything: bool,
    task: str | None,
    queue: str | None,
    since: str | None,
) -> None:
    """Delete dead letters for good, readable or not (name an unreadable one by its
    uuid or its key)."""
    from alsek.effects import dead_letters
    from alsek.pure.dead_letter_filter import DeadLetterFilter

    if everything and not uuids:  # found without reading the records
        where = DeadLetterFilter(queue, task, _since(since))
        with _failing_clearly():
            names = dead_letters.matching_names(lazy.broker(), where)
        missing: list[str] = []
    else:
        records, missing = _chosen(lazy, uuids, everything, task, queue, since)
        names = [record.name for record in records]
    with _failing_clearly(), _progress(len(names), "removing") as progress:
        bulk = dead_letters.remove(lazy.broker(), names, progress)
    _report("removed", len(bulk.done), missing, strict=True)


@deadletters.command("reindex")
@click.pass_obj
def reindex_dead(lazy: _Lazy) -> None:
    """Index every stored dead letter: needed only when an older Alsek wrote dead
    letters into a namespace whose index is already built (Redis, DiskCache)."""
    with _failing_clearly():
        broker = lazy.broker()
        from alsek.effects.dead_letters import store_of

        if not store_of(broker).indexed:
            click.echo("this backend keeps no dead-letter index (dead letters are found by a scan)")
            return
        click.echo(f"indexed {broker.reindex_dead_letters()} dead letter(s)")
