"""A discrete-event simulator of Alsek worker pools.

It drives the same pure functions the real workers use (``alsek.pure``:
queue order and ``priority_key``, ``plan_claim``/``admit``/``finish``,
``decide_on_claim``, ``decide``, ``retry`` with its backoff, callback
chains) on a virtual millisecond clock, so a workload can be sized before
it is deployed ("how many workers, how long to drain, what do retries
cost") and tests can replay thousands of deterministic fault schedules.
It imports only ``alsek.pure``, ``alsek.exceptions``, ``alsek.defaults``,
attrs (the record library ``alsek.pure`` is built on) and the standard library.

    >>> from alsek.sim import load_workload, simulate
    >>> report = simulate(load_workload("examples/workload.toml"), seed=1)
    >>> print(report.to_table())  # doctest: +SKIP

The overheads of the real backend (a claim's round trip, a hand-off, how a
wake-up reaches a waiting consumer) come from the workload, or from a
profile ``python -m alsek calibrate`` measured on a real pool
(``alsek.sim.profile``: ``load_profile(path).apply(workload, "redis")``).
"""

from __future__ import annotations

from alsek.sim.distributions import (
    Burst,
    Bursts,
    Empirical,
    Exponential,
    Fixed,
    FixedRate,
    LogNormal,
    Poisson,
    Times,
    Uniform,
)
from alsek.sim.engine import Engine
from alsek.sim.load import load_workload, workload_from_dict
from alsek.sim.plot import PlotUnavailableError, plot
from alsek.sim.profile import BackendProfile, Profile, load_profile, save_profile
from alsek.sim.report import LatencyStats, Report, TaskStats, build_report
from alsek.sim.workload import Arrival, Kill, Overheads, PoolSpec, TaskKind, Workload


def simulate(workload: Workload, seed: int = 0, trace: bool = True) -> Report:
    """Run ``workload`` once with ``seed``; the same seed gives the same report and trace.

    Args:
        workload: what runs, how often, on which pools.
        seed: seeds the run's one ``random.Random``.
        trace: keep the event trace in ``Report.trace`` (costs memory on big runs).
    """
    engine = Engine(workload, seed, trace)
    engine.run()
    return build_report(engine, seed)


__all__ = [
    "Arrival",
    "BackendProfile",
    "Burst",
    "Bursts",
    "Empirical",
    "Exponential",
    "Fixed",
    "FixedRate",
    "Kill",
    "LatencyStats",
    "LogNormal",
    "Overheads",
    "PlotUnavailableError",
    "Poisson",
    "PoolSpec",
    "Profile",
    "Report",
    "TaskKind",
    "TaskStats",
    "Times",
    "Uniform",
    "Workload",
    "load_profile",
    "load_workload",
    "plot",
    "save_profile",
    "simulate",
    "workload_from_dict",
]
