"""``calibrate``: measure the simulator's overheads on a real pool, into a profile file.

Runs ``alsek.calibration`` (a short probe workload on a real worker pool)
against each backend given and writes one profile holding them all;
``simulate WORKLOAD --profile FILE`` uses it. Mounted as
``python -m alsek calibrate`` by the CLI group.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import click

from alsek.exceptions import AlsekError


def _host() -> dict[str, Any]:
    """Where the profile was measured (to read, and to compare profiles)."""
    return {
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@click.command(name="calibrate")
@click.option("--redis", "redis_url", help="Measure this Redis (a URL, redis://HOST:PORT/DB).")
@click.option(
    "--disk",
    "disk_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Measure DiskCache in this directory (created if missing).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the profile (JSON) to this file.",
)
@click.option(
    "--probes",
    type=click.IntRange(5, 1000),
    default=25,
    show_default=True,
    help="Idle probe messages per slot kind.",
)
@click.option(
    "--bursts",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Runs of each saturated burst (the profile takes their medians).",
)
def calibrate(
    redis_url: str | None, disk_dir: Path | None, out: Path, probes: int, bursts: int
) -> None:
    """Measure the simulator's overheads on a real worker pool and write a profile.

    A short, standard probe workload (about 20 s per backend) runs on a pool
    of 8 threads, 4 task processes and 16 async slots, in a queue of its own
    (alsek-calibration): use a backend no other pool consumes every queue of.
    Then 'alsek simulate WORKLOAD --profile FILE' predicts with the result.
    """
    if redis_url is None and disk_dir is None:
        raise click.UsageError("name a backend to measure: --redis URL and/or --disk DIR")
    # The pool machinery and the simulator are imported here, not with the CLI.
    from alsek.calibration import calibrate_backend
    from alsek.core import Broker
    from alsek.sim.profile import Profile, save_profile
    from alsek.storage.backends.disk import DiskCacheBackend
    from alsek.storage.backends.redis import RedisBackend

    backends: list[tuple[str, Any]] = []
    try:
        if redis_url is not None:
            backends.append(("redis", RedisBackend(redis_url)))
        if disk_dir is not None:
            disk_dir.mkdir(parents=True, exist_ok=True)
            backends.append(("disk", DiskCacheBackend(str(disk_dir))))
        measured_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        host = _host()
        entries = {}
        for name, backend in backends:
            click.echo(f"calibrating {name} ({backend!r})")
            entries[name] = calibrate_backend(Broker(backend), probes, bursts, log=click.echo)
            overheads = entries[name].overheads
            click.echo(
                f"  claim_rtt_ms={overheads.claim_rtt_ms} "
                f"claim_ms_per_item={overheads.claim_ms_per_item} "
                f"wake_latency_ms={overheads.wake_latency_ms} "
                f"dispatch_ms={overheads.dispatch_ms} timer_ms={overheads.timer_ms} "
                f"signals={overheads.signals}"
            )
    except (AlsekError, OSError) as error:
        raise click.ClickException(f"calibration failed: {error}") from None
    save_profile(Profile(entries, measured_at, host), out)
    click.echo(f"profile written to {out}")
