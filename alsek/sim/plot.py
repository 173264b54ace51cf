"""A PNG of a report: queue depth and latency over time.

matplotlib is an optional extra (``pip install 'alsek[plot]'``); it is
imported only when ``plot`` is called, and never through pyplot, so no
global backend state is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alsek.exceptions import AlsekError
from alsek.sim.report import Report


class PlotUnavailableError(AlsekError, ImportError):
    """``plot`` needs matplotlib, which is not installed."""


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailableError(
            "plotting needs matplotlib, which is not installed: "
            "pip install 'alsek[plot]' (or pip install matplotlib)"
        ) from None
    return Figure


def plot(report: Report, path: str | Path) -> Path:
    """Write a PNG of queue depth and latency over time to ``path``; return the path.

    Raises:
        PlotUnavailableError: matplotlib is not installed.
    """
    figure = _figure_class()(figsize=(10, 7), layout="constrained")
    depth, latency = figure.subplots(2, 1, sharex=True)
    if report.depth_series:
        seconds = [row[0] / 1000 for row in report.depth_series]
        for column, name in enumerate(report.depth_columns[1:], start=1):
            label = "in flight" if name == "in_flight" else name.replace("waiting:", "waiting ")
            depth.step(
                seconds, [row[column] for row in report.depth_series], where="post", label=label
            )
        depth.legend(loc="upper right")
    depth.set_ylabel("messages")
    depth.set_title(f"{report.workload} (seed {report.seed}): queue depth")
    if report.latency_series:
        seconds = [row[0] / 1000 for row in report.latency_series]
        latency.plot(seconds, [row[2] / 1000 for row in report.latency_series], label="p50")
        latency.plot(seconds, [row[3] / 1000 for row in report.latency_series], label="p95")
        latency.legend(loc="upper left")
    latency.set_ylabel("latency (s), by completion time")
    latency.set_xlabel("simulated time (s)")
    target = Path(path)
    figure.savefig(target, format="png", dpi=100)
    return target
