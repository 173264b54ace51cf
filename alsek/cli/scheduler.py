"""``alsek scheduler PACKAGE``: run every TriggerTask in PACKAGE until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from alsek.cli.logs import configure, log_options
from alsek.cli.target import collect


@click.command("scheduler", short_help="Run the TriggerTasks of PACKAGE.")
@click.argument("package")
@log_options
def scheduler(package: str, log_level: str, log_format: str, log_config: Path | None) -> None:
    """Run every TriggerTask found in PACKAGE: each fire submits its message. Any number
    of schedulers (and 'alsek worker --scheduler') may run the same triggers: each tick
    is submitted once. Stops cleanly on SIGINT and SIGTERM.
    """
    import logging

    from alsek.effects.triggering import start_triggers, stop_triggers, trigger_tasks

    configure(log_level, log_format, log_config)
    log = logging.getLogger("alsek.scheduler")
    triggers = trigger_tasks(collect(package))
    if not triggers:
        raise click.ClickException(f"no TriggerTask found in {package!r}")
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = start_triggers(triggers)
        log.info("scheduler running %d trigger(s)", len(started))
        while not stop.wait(1.0):
            pass
    finally:
        stop_triggers(triggers)
        for sig, old in previous.items():
            signal.signal(sig, old)
        log.info("scheduler stopped")
