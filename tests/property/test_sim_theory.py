"""The simulator against queueing theory: M/M/c, M/D/1, M/G/1 and a two-class priority queue.

How the workloads meet the theory's assumptions:

* Poisson arrivals: ``Poisson(rate)`` streams cut at a common horizon (``until_ms``).
* Service: the task's duration distribution, with a mean of ``SERVICE_MS`` = 100 s. The
  clock counts whole ms, so durations and arrival times are rounded; at this scale the
  rounding moves no mean by more than 0.01%.
* c servers: one pool with c slots of one mechanism and none of the other.
* No overheads (``IDEAL``): ``claim_rtt_ms=0`` (a claim and the round trip recording an
  outcome take no time), ``wake_latency_ms=0`` (a submission wakes an idle pool at
  once), ``dispatch_ms=0`` (a claimed task starts at once); ``consumer_backoff=None``
  (no polling: pools wake on signals). A claim takes at most the free slots (the batch
  only caps that), so no message is held in a batch while a server is free.
* ``timeout_ms`` far beyond any sampled duration, no failures: one run per message.

What is measured: each message's wait (submit to start) and service, from the trace,
in submission order. Messages submitted in the first ``WARM_UP`` of the horizon (the
transient from an empty system) or the last ``COOL_DOWN`` (with priorities, the last
low-priority messages see no more high-priority arrivals) are left out.

Statistics: waits of successive messages are strongly correlated, so standard errors
come from batch means (``BATCHES`` contiguous batches), sharpened by a control variate:
the work each message brings, service - c * (gap to the next arrival), whose mean is
known (a sample that brought more work than expected also waited longer).

Tolerances: each is stated per case below, set at about 4 standard errors of its
estimate at that sample size (measured over 10 seeds; see the comments at the cases),
so a change in the order of random draws fails a check with a probability of about
1e-4. Every check also asserts that its own run's standard error is at most half its
tolerance: the sample must support the tolerance. The sample sizes are the largest that keep
this file under about 30 s on one core; the M/M/c tolerances shrink as 1/sqrt(n).

Beyond the statistics, each FCFS run is checked exactly against the c-server FCFS
recursion on its own arrivals and services, and the priority run against the
non-preemptive single-server rule and priority order on every claim.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import pytest

from alsek.sim import (
    Arrival,
    Exponential,
    Fixed,
    LogNormal,
    Overheads,
    Poisson,
    PoolSpec,
    Report,
    TaskKind,
    Uniform,
    Workload,
    simulate,
)
from alsek.sim.distributions import Duration
from tests.property.test_sim_support import check_trace
from tests.support.queueing import (
    controlled_mean,
    erlang_c,
    exponential_second_moment,
    lognormal_second_moment,
    mmc_mean_wait,
    mmc_wait_quantile,
    pk_mean_wait,
    priority_mean_waits,
    uniform_second_moment,
)

pytestmark = pytest.mark.slow  # 2 to 5 s per case: long runs are what make the statistics

SERVICE_MS = 100_000
IDEAL = Overheads(claim_rtt_ms=0, wake_latency_ms=0, dispatch_ms={"thread": 0, "process": 0})
NEVER_MS = 10**12  # a timeout no sampled duration reaches
WARM_UP, COOL_DOWN = 0.1, 0.02
BATCHES = 20
SEED = 1


def second_moment(duration: Duration) -> float:
    """E[S^2] of a service distribution (in ms^2)."""
    if isinstance(duration, Exponential):
        return exponential_second_moment(duration.mean_ms)
    if isinstance(duration, Fixed):
        return duration.mean_ms**2
    if isinstance(duration, Uniform):
        return uniform_second_moment(duration.low_ms, duration.high_ms)
    assert isinstance(duration, LogNormal)
    return lognormal_second_moment(duration.median_ms, duration.sigma)


@dataclass(frozen=True)
class Case:
    """Poisson classes (name, priority, service, rate per ms), highest priority first."""

    name: str
    servers: int
    classes: tuple[tuple[str, int, Duration, float], ...]
    customers: int  # expected arrivals: sets the horizon
    mechanism: str = "process"

    @property
    def rate(self) -> float:
        return sum(rate for *_, rate in self.classes)

    @property
    def horizon_ms(self) -> int:
        return round(self.customers / self.rate)

    @property
    def mean_service(self) -> float:
        return sum(rate * duration.mean_ms for _, _, duration, rate in self.classes) / self.rate

    @property
    def utilisation(self) -> float:
        return self.rate * self.mean_service / self.servers

    def workload(self) -> Workload:
        slots = {"max_threads": 0, "max_processes": 0}
        slots["max_threads" if self.mechanism == "thread" else "max_processes"] = self.servers
        kinds = [
            TaskKind(
                name=name,
                priority=priority,
                duration=duration,
                mechanism=self.mechanism,  # type: ignore[arg-type]
                timeout_ms=NEVER_MS,
            )
            for name, priority, duration, _ in self.classes
        ]
        arrivals = [
            Arrival(task=name, pattern=Poisson(rate=rate * 1000, until_ms=self.horizon_ms))
            for name, _, _, rate in self.classes
        ]
        return Workload(
            tasks=kinds,
            arrivals=arrivals,
            pool=PoolSpec(**slots),
            overheads=IDEAL,
            consumer_backoff=None,
            name=self.name,
        )


@dataclass
class Run:
    """A finished run, message by message in submission order."""

    case: Case
    report: Report
    uuids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    arrivals: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    services: list[int] = field(default_factory=list)

    @property
    def waits(self) -> list[int]:
        return [start - at for start, at in zip(self.starts, self.arrivals, strict=True)]

    def batches(self) -> list[range]:
        """``BATCHES`` equal runs of consecutive measured messages (warm-up, cool-down left out)."""
        horizon = self.case.horizon_ms
        low, high = WARM_UP * horizon, (1 - COOL_DOWN) * horizon
        measured = [i for i, at in enumerate(self.arrivals) if low <= at <= high]
        size = len(measured) // BATCHES
        first = measured[0]
        return [range(first + j * size, first + (j + 1) * size) for j in range(BATCHES)]

    def work_means(self, batches: list[range]) -> list[float]:
        """Per batch, the mean work brought minus its known mean (the control variate).

        Work of a message: its service - c * the gap to the next arrival; its
        mean is E[S] - c / lambda.
        """
        c, at, case = self.case.servers, self.arrivals, self.case
        expected = case.mean_service - c / case.rate
        return [
            sum(self.services[i] - c * (at[i + 1] - at[i]) for i in b) / len(b) - expected
            for b in batches
        ]

    def estimate(self, values: list[float], kind: str | None = None) -> tuple[float, float]:
        """Controlled batch-means (estimate, standard error) of ``values`` (of ``kind`` only)."""
        batches = self.batches()
        ys = []
        for b in batches:
            chosen = [values[i] for i in b if kind is None or self.kinds[i] == kind]
            ys.append(math.fsum(chosen) / len(chosen))
        return controlled_mean(ys, self.work_means(batches))


def run(case: Case, seed: int = SEED) -> Run:
    """Simulate ``case`` and index its trace by message."""
    report = simulate(case.workload(), seed=seed)
    result = Run(case, report)
    started: dict[str, tuple[int, int]] = {}
    for t, event, _, uuid, detail in report.trace or ():
        if event == "submit":
            result.uuids.append(uuid)
            result.kinds.append(detail[0])
            result.arrivals.append(t)
        elif event == "end":
            assert uuid not in started, f"{uuid} ran twice"
            started[uuid] = (detail[1], t - detail[1])
    for uuid in result.uuids:
        start, service = started[uuid]
        result.starts.append(start)
        result.services.append(service)
    return result


class Checks:
    """Collects every comparison of a case, then fails showing all of them."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.lines: list[str] = []
        self.failed = False

    def close(
        self, what: str, estimate: float, error: float | None, theory: float, tol: float
    ) -> None:
        """|estimate - theory| <= tol (absolute), and the standard error (if any) <= tol / 2."""
        ok = abs(estimate - theory) <= tol and (error is None or 2 * error <= tol)
        shown = "-" if error is None else f"{error:.4g}"
        self._line(
            ok,
            f"{what}: {estimate:.6g} vs theory {theory:.6g} (diff {estimate - theory:+.4g}, "
            f"tolerance {tol:.4g}, standard error {shown})",
        )

    def exact(self, what: str, ok: bool, detail: str) -> None:
        self._line(ok, f"{what}: {detail}")

    def _line(self, ok: bool, text: str) -> None:
        self.failed |= not ok
        self.lines.append(("ok   " if ok else "FAIL ") + text)

    def verify(self) -> None:
        assert not self.failed, f"{self.case.name}:\n" + "\n".join(self.lines)


def check_inputs(checks: Checks, result: Run) -> None:
    """The inputs are what the theory assumes: the Poisson rate and the mean service.

    Counts and independent services have exact standard errors: sqrt(n) / T
    for the rate, sd(S) / sqrt(n) for the mean service; 4 of them each.
    """
    case, n = result.case, len(result.arrivals)
    error = math.sqrt(n) / case.horizon_ms
    checks.close("arrival rate (/ms)", n / case.horizon_ms, error, case.rate, 4 * error)
    for name, _, duration, _ in case.classes:
        services = [s for s, k in zip(result.services, result.kinds, strict=True) if k == name]
        sd = math.sqrt(max(second_moment(duration) - duration.mean_ms**2, 0.0))
        error = sd / math.sqrt(len(services))
        mean = math.fsum(services) / len(services)
        # Rounding to whole ms moves the mean by well under 0.5 ms.
        checks.close(f"mean service {name} (ms)", mean, error, duration.mean_ms, 4 * error + 0.5)


def check_little(checks: Checks, result: Run, mean_wait: float, tol: float) -> None:
    """Little's law, L = lambda W and L_q = lambda W_q, on the whole run and against theory.

    The engine integrates the number in system and in queue over time, apart
    from the per-message latencies; over a run that starts and ends empty the
    two agree exactly (up to the report's rounding). Against theory, the
    whole run includes the warm-up and the drain: its L_q is held to the mean
    wait's tolerance plus 4 / sqrt(n) for the arrival rate.
    """
    report = result.report
    rate = report.submitted / report.end_ms
    for what, measured, mean in (
        ("L = lambda W", report.mean_in_system, report.latency.mean_ms),
        ("L_q = lambda W_q", report.mean_queued, report.wait.mean_ms),
    ):
        ok = math.isclose(measured, rate * mean, rel_tol=1e-4, abs_tol=1e-4)
        checks.exact(f"Little {what}", ok, f"{measured} vs {rate * mean:.6g}")
    theory = result.case.rate * mean_wait
    slack = (tol + 4 / math.sqrt(report.submitted)) * theory
    checks.close("L_q vs lambda W_q(theory)", report.mean_queued, None, theory, slack)


def check_fcfs_path(checks: Checks, result: Run) -> None:
    """Every start equals the FCFS c-server recursion on the run's own arrivals and services.

    First come, first served: messages submitted in the same ms in submission order.
    """
    order = range(len(result.uuids))  # submission order
    free = [0] * result.case.servers
    wrong = 0
    for i in order:
        start = max(result.arrivals[i], heapq.heappop(free))
        heapq.heappush(free, start + result.services[i])
        wrong += start != result.starts[i]
    checks.exact("FCFS c-server recursion", wrong == 0, f"{wrong} of {len(order)} starts differ")


def fraction(values: list[int], above: float) -> list[float]:
    """Indicators of ``value > above`` (their mean estimates a probability)."""
    return [1.0 if value > above else 0.0 for value in values]


# -- M/M/c --------------------------------------------------------------------


def mmc(servers: int, rho: float, customers: int, mechanism: str) -> Case:
    rate = rho * servers / SERVICE_MS
    classes = (("s", 0, Exponential(mean_ms=SERVICE_MS), rate),)
    return Case(f"M/M/{servers} rho={rho} ({mechanism})", servers, classes, customers, mechanism)


def check_mmc(
    checks: Checks, result: Run, tol_mean: float, tol_wait: float, tol_tail: float
) -> None:
    """Mean wait (relative ``tol_mean``), P(W > 0) and P(W > p95) (absolute), and the p95."""
    case = result.case
    c, rate, mean = case.servers, case.rate, case.mean_service
    waits = result.waits
    mean_wait = mmc_mean_wait(c, rate, mean)
    estimate, error = result.estimate([float(w) for w in waits])
    checks.close("mean wait (ms)", estimate, error, mean_wait, tol_mean * mean_wait)
    estimate, error = result.estimate(fraction(waits, 0))
    checks.close("P(W > 0), Erlang C", estimate, error, erlang_c(c, rate * mean), tol_wait)
    p95 = mmc_wait_quantile(c, rate, mean, 0.95)
    assert p95 > 0, "every case has more than 5% of messages waiting"
    estimate, error = result.estimate(fraction(waits, p95))
    checks.close("P(W > theory's p95)", estimate, error, 0.05, tol_tail)
    # The same band in time: near its p95 the density of W is 0.05 (c mu - lambda).
    density = 0.05 * (c / mean - rate)
    measured = sorted(waits[i] for b in result.batches() for i in b)
    empirical = measured[math.ceil(0.95 * len(measured)) - 1]
    checks.close("p95 wait (ms)", empirical, error / density, p95, tol_tail / density)
    check_little(checks, result, mean_wait, tol_mean)


# -- M/G/1 ----------------------------------------------------------------------


def mg1(name: str, service: Duration, rho: float, customers: int) -> Case:
    rate = rho / service.mean_ms
    return Case(f"{name} rho={rho}", 1, (("s", 0, service, rate),), customers)


def check_mg1(checks: Checks, result: Run, tol_mean: float, tol_p: float) -> None:
    """Mean wait against Pollaczek-Khinchine; P(W > 0) = rho (an arrival finds the server busy)."""
    case = result.case
    ((_, _, service, rate),) = case.classes
    mean_wait = pk_mean_wait(rate, service.mean_ms, second_moment(service))
    estimate, error = result.estimate([float(w) for w in result.waits])
    checks.close("mean wait (ms), P-K", estimate, error, mean_wait, tol_mean * mean_wait)
    estimate, error = result.estimate(fraction(result.waits, 0))
    checks.close("P(W > 0) = rho", estimate, error, case.utilisation, tol_p)
    check_little(checks, result, mean_wait, tol_mean)


# -- two priority classes on one server ------------------------------------------


def check_one_server_never_idles_with_work(checks: Checks, result: Run) -> None:
    """In start order each run starts when it arrives or when the previous one ends, whichever
    is later: one run at a time, no pre-emption, no idling while a message waits."""
    # A run of 0 ms (a rounded sample) goes before another starting in the same ms.
    order = sorted(range(len(result.uuids)), key=lambda i: (result.starts[i], result.services[i]))
    end, wrong = 0, 0
    for i in order:
        wrong += result.starts[i] != max(result.arrivals[i], end)
        end = result.starts[i] + result.services[i]
    checks.exact("non-preemptive single server", wrong == 0, f"{wrong} starts differ")


def priority_case(customers: int) -> Case:
    """The published two-class example scaled to SERVICE_MS: rates 1 and 9 per 12 services."""
    service = Exponential(mean_ms=SERVICE_MS)
    classes = (
        ("urgent", 0, service, 1 / 12 / SERVICE_MS),
        ("bulk", 1, service, 9 / 12 / SERVICE_MS),
    )
    return Case("M/M/1 two priorities rho=0.833", 1, classes, customers)


def check_priority(checks: Checks, result: Run, tols: tuple[float, ...], tol_p: float) -> None:
    """Each class's mean wait against Cobham's formula (relative ``tols``); P(W > 0) = rho."""
    case = result.case
    moments = [(rate, d.mean_ms, second_moment(d)) for _, _, d, rate in case.classes]
    waits = priority_mean_waits(moments)
    values = [float(w) for w in result.waits]
    for (name, *_), mean_wait, tol in zip(case.classes, waits, tols, strict=True):
        estimate, error = result.estimate(values, kind=name)
        checks.close(f"mean wait {name} (ms), Cobham", estimate, error, mean_wait, tol * mean_wait)
    estimate, error = result.estimate(fraction(result.waits, 0))
    checks.close("P(W > 0) = rho", estimate, error, case.utilisation, tol_p)
    overall = sum(rate * w for (rate, _, _), w in zip(moments, waits, strict=True)) / case.rate
    check_little(checks, result, overall, max(tols))


# -- the cases -------------------------------------------------------------------
#
# Each tolerance is about 4 times the larger of two measures of its estimate's error,
# both taken over seeds 1..10 at the same sample size: the spread of the estimates
# around the theory and the mean batch-means standard error. The comments give those
# measures: relative for the mean wait, absolute for the probabilities. Pooled over the
# ten seeds, no estimate differed from the theory by more than 2.2 of its standard
# errors (as many as chance gives among about 50 estimates): no bias was seen.

MMC_CASES = [
    # servers, rho, messages, mechanism, tolerance: mean wait, P(W > 0), P(W > p95)
    (1, 0.5, 30_000, "process", 0.11, 0.015, 0.014),  # 0.024/0.026 0.0032/0.0036 0.0033/0.0032
    (2, 0.5, 30_000, "thread", 0.19, 0.015, 0.015),  # 0.047/0.035 0.0036/0.0036 0.0037/0.0032
    (4, 0.5, 30_000, "process", 0.24, 0.017, 0.014),  # 0.059/0.056 0.0043/0.0038 0.0032/0.0033
    (8, 0.5, 30_000, "thread", 0.62, 0.013, 0.012),  # 0.156/0.102 0.0028/0.0032 0.0029/0.0030
    (1, 0.8, 60_000, "process", 0.14, 0.009, 0.026),  # 0.021/0.034 0.0021/0.0019 0.0040/0.0065
    (2, 0.8, 60_000, "thread", 0.15, 0.012, 0.028),  # 0.034/0.037 0.0024/0.0029 0.0070/0.0063
    (4, 0.8, 60_000, "process", 0.19, 0.017, 0.032),  # 0.044/0.047 0.0029/0.0042 0.0079/0.0072
    (8, 0.8, 60_000, "thread", 0.30, 0.021, 0.033),  # 0.073/0.064 0.0038/0.0053 0.0082/0.0074
    (1, 0.9, 100_000, "process", 0.22, 0.005, 0.045),  # 0.048/0.054 0.0012/0.0011 0.0089/0.0111
    (2, 0.9, 100_000, "thread", 0.24, 0.008, 0.042),  # 0.058/0.050 0.0020/0.0016 0.0102/0.0104
    (4, 0.9, 100_000, "process", 0.21, 0.011, 0.041),  # 0.036/0.051 0.0020/0.0026 0.0078/0.0101
    (8, 0.9, 100_000, "thread", 0.29, 0.016, 0.051),  # 0.073/0.065 0.0033/0.0040 0.0126/0.0112
]


@pytest.mark.parametrize(
    ("servers", "rho", "messages", "mechanism", "tol_mean", "tol_wait", "tol_tail"),
    MMC_CASES,
    ids=[f"M/M/{c}-rho{rho}" for c, rho, *_ in MMC_CASES],
)
def test_mmc_waits_match_erlang_c(
    servers: int,
    rho: float,
    messages: int,
    mechanism: str,
    tol_mean: float,
    tol_wait: float,
    tol_tail: float,
) -> None:
    case = mmc(servers, rho, messages, mechanism)
    result = run(case)
    checks = Checks(case)
    check_inputs(checks, result)
    check_fcfs_path(checks, result)
    check_mmc(checks, result, tol_mean, tol_wait, tol_tail)
    checks.verify()


MG1_CASES = [
    # case, tolerance: mean wait (relative), P(W > 0) (absolute)
    (mg1("M/D/1", Fixed(SERVICE_MS), 0.8, 50_000), 0.12, 0.008),  # 0.024/0.029 0.0016/0.0020
    (  # 0.021/0.035 0.0012/0.0020
        mg1("M/G/1 uniform", Uniform(low_ms=0, high_ms=2 * SERVICE_MS), 0.8, 50_000),
        0.14,
        0.008,
    ),
    (  # sigma 1: E[S^2] = e E[S]^2, a heavier tail than the exponential's 2 E[S]^2
        mg1(
            "M/G/1 lognormal",
            LogNormal(median_ms=SERVICE_MS / math.sqrt(math.e), sigma=1.0),
            0.7,
            50_000,
        ),
        0.20,
        0.009,
    ),  # 0.050/0.040 0.0021/0.0022
]


@pytest.mark.parametrize(
    ("case", "tol_mean", "tol_wait"), MG1_CASES, ids=[case.name for case, *_ in MG1_CASES]
)
def test_mg1_waits_match_pollaczek_khinchine(case: Case, tol_mean: float, tol_wait: float) -> None:
    result = run(case)
    checks = Checks(case)
    check_inputs(checks, result)
    check_fcfs_path(checks, result)
    check_mg1(checks, result, tol_mean, tol_wait)
    checks.verify()


def test_two_priority_classes_match_cobham() -> None:
    # Waits: urgent 0.909, bulk 5.45 mean services. Tolerances: urgent 0.07 (0.014/0.017),
    # bulk 0.16 (0.030/0.039), P(W > 0) 0.007 (-/0.0016).
    case = priority_case(60_000)
    result = run(case)
    checks = Checks(case)
    check_inputs(checks, result)
    check_one_server_never_idles_with_work(checks, result)
    check_priority(checks, result, (0.07, 0.16), 0.007)
    checks.verify()
    check_trace(case.workload(), result.report)  # every claim took the first in priority order
