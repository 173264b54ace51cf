"""``alsek dashboard PACKAGE [--host] [--port] [--token] [--show-args]``: the web
dashboard (the ``alsek[dashboard]`` extra: Starlette, uvicorn, Jinja2)."""

from __future__ import annotations

import importlib

import click

from alsek.cli.target import resolve, target_options

INSTALL_HINT = "the dashboard needs its extra: pip install 'alsek[dashboard]'"
WEB_STACK = ("starlette", "uvicorn", "jinja2")


def require_web_stack() -> None:
    """A clear CLI error when the dashboard's extra is not installed."""
    for name in WEB_STACK:
        try:
            importlib.import_module(name)
        except ImportError:
            raise click.ClickException(f"{INSTALL_HINT} ({name} is missing)") from None


@click.command("dashboard", short_help="A web dashboard, with a capacity forecast.")
@click.argument("package", required=False)
@target_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="ALSEK_DASHBOARD_TOKEN",
    default=None,
    help="Require this token (a bearer header, or entered once and kept in a cookie); "
    "needed to listen beyond this host. Also read from ALSEK_DASHBOARD_TOKEN.",
)
@click.option("--show-args", is_flag=True, help="Show task arguments (hidden by default).")
@click.option(
    "--refresh",
    default=5,
    show_default=True,
    type=click.IntRange(0, 3600),
    help="Refresh pages every so many seconds (0: never).",
)
def dashboard(
    package: str | None,
    redis_url: str | None,
    disk: str | None,
    namespace: str | None,
    host: str,
    port: int,
    token: str | None,
    show_args: bool,
    refresh: int,
) -> None:
    """Serve a web dashboard of PACKAGE's broker (or of --redis URL / --disk DIR):
    queues, workers, messages, dead letters and a capacity forecast from the
    simulator. Listens on 127.0.0.1 unless --host says otherwise, which needs --token.
    """
    require_web_stack()
    from alsek.dashboard.security import is_loopback

    if token is not None and not token.strip():
        raise click.UsageError("--token must not be empty")
    if not is_loopback(host) and token is None:
        raise click.UsageError(
            f"--token is required to listen on {host} (anyone who can reach it could "
            "resubmit, remove and cancel messages)"
        )
    target = resolve([package] if package else [], redis_url, disk, namespace)
    import uvicorn

    from alsek.dashboard.app import create_app
    from alsek.dashboard.data import Source

    source = Source(
        target.broker,
        tuple(target.result_stores),
        tuple(sorted({task.queue for task in target.tasks})),
        show_args,
    )
    app = create_app(source, token=token, refresh_s=refresh)
    shown = f"[{host}]" if ":" in host else host
    from alsek.effects.backends.operations_for import operations_for

    where = operations_for(target.broker.backend).describe()
    click.echo(f"Alsek dashboard of {where} on http://{shown}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
