"""``simulate WORKLOAD``: predict throughput, latency and backlog of a workload.

Runs ``alsek.sim`` (the pure core on a virtual clock) and prints the report
table. Mounted as ``python -m alsek simulate`` by the CLI group; usable on
its own as ``python -c "from alsek.cli.simulate import simulate; simulate()" ...``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from alsek.exceptions import ValidationError


def _check_plotting() -> None:
    """Fail before a long run, not after it, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.UsageError(
            "--plot needs matplotlib, which is not installed: pip install 'alsek[plot]'"
        ) from None


def _described(overheads: Any) -> str:
    """The overheads a run used, in one line."""
    kinds = ", ".join(f"{kind} {ms}" for kind, ms in sorted(overheads.dispatch_ms.items()))
    return (
        f"claim {overheads.claim_rtt_ms} ms + {overheads.claim_ms_per_item} ms per item, "
        f"wake-up {overheads.wake_latency_ms} ms, dispatch ms: {kinds}, "
        f"timer {overheads.timer_ms} ms, signals {overheads.signals}"
    )


@click.command(name="simulate")
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the run.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the report as JSON to this file.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a PNG of queue depth and latency over time (needs matplotlib).",
)
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use the overheads of this calibration profile ('alsek calibrate --out') in "
    "place of the workload's [overheads].",
)
@click.option(
    "--backend",
    type=click.Choice(["redis", "disk"]),
    help="Which backend's overheads of the profile (needed when it has several).",
)
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the event trace, one JSON array per line.",
)
def simulate(
    workload: Path,
    seed: int,
    json_path: Path | None,
    plot_path: Path | None,
    profile_path: Path | None,
    backend: str | None,
    trace_path: Path | None,
) -> None:
    """Simulate the worker pools of WORKLOAD (a .toml or .json file) and print a report.

    The simulator runs Alsek's own scheduling, retry, backoff, dead-letter and
    capacity rules on a virtual clock, so the answer comes in seconds. With
    --profile it uses overheads measured by 'alsek calibrate' on your machine
    and backend.
    """
    # The simulator is imported here, not with the CLI: a worker starts without it.
    from alsek.sim import load_workload, plot
    from alsek.sim import simulate as run_simulation
    from alsek.sim.plot import PlotUnavailableError
    from alsek.sim.profile import load_profile

    if plot_path is not None:
        _check_plotting()
    if backend is not None and profile_path is None:
        raise click.UsageError("--backend chooses among a profile's backends: give --profile")
    try:
        spec = load_workload(workload)
    except ValidationError as error:
        raise click.BadParameter(str(error), param_hint="WORKLOAD") from None
    if profile_path is not None:
        try:
            spec = load_profile(profile_path).apply(spec, backend)
        except ValidationError as error:
            raise click.BadParameter(str(error), param_hint="--profile") from None
    report = run_simulation(spec, seed=seed, trace=trace_path is not None)
    if profile_path is not None:
        click.echo(f"overheads of {profile_path} ({_described(spec.overheads)})\n")
    click.echo(report.to_table(), nl=False)
    if json_path is not None:
        json_path.write_text(report.to_json() + "\n", encoding="utf-8")
        click.echo(f"\nreport written to {json_path}")
    if trace_path is not None:
        lines = (json.dumps(event) for event in report.trace or ())
        trace_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        click.echo(f"trace written to {trace_path}")
    if plot_path is not None:
        try:
            plot(report, plot_path)
        except PlotUnavailableError as error:
            raise click.UsageError(str(error)) from None
        click.echo(f"plot written to {plot_path}")
