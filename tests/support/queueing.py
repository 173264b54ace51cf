"""Queueing-theory formulas and batch-means statistics, the oracles of the simulator tests.

Every formula is for a stable system in steady state with Poisson arrivals at
rate ``rate`` and first-come-first-served order within a class; times are in
any one unit (the rates are per that unit). "Wait" is the time in queue,
from arrival to the start of service, not counting the service itself.

References: Erlang B/C and the M/M/c waiting-time distribution (Kleinrock,
*Queueing Systems* vol. 1, section 3.5); Pollaczek-Khinchine (ibid. 5.6);
the non-preemptive priority queue (Cobham 1954; Kleinrock vol. 2, 3.6), and
with c servers of one exponential service time (Gross and Harris, 3.4).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/c/c with offered ``load`` = rate * mean service (erlangs).

    The standard recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)),
    numerically stable where the factorial form overflows.
    """
    if servers < 1 or load <= 0:
        raise ValueError(f"need servers >= 1 and load > 0, got {servers}, {load}")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival at M/M/c must wait (all ``servers`` busy), load < servers.

    From Erlang B: C = c B / (c - a (1 - B)).
    """
    if not 0 < load < servers:
        raise ValueError(f"M/M/{servers} is unstable at load {load} (need 0 < load < servers)")
    blocking = erlang_b(servers, load)
    return servers * blocking / (servers - load * (1 - blocking))


def _mmc(servers: int, rate: float, mean_service: float) -> tuple[float, float]:
    """(probability of waiting, decay rate c*mu - lambda of the wait's tail)."""
    load = rate * mean_service
    return erlang_c(servers, load), servers / mean_service - rate


def mmc_mean_wait(servers: int, rate: float, mean_service: float) -> float:
    """Mean wait in M/M/c: C(c, a) / (c mu - lambda)."""
    waits, decay = _mmc(servers, rate, mean_service)
    return waits / decay


def mmc_wait_tail(servers: int, rate: float, mean_service: float, t: float) -> float:
    """P(W > t) in M/M/c under FCFS: C(c, a) exp(-(c mu - lambda) t), for t >= 0."""
    waits, decay = _mmc(servers, rate, mean_service)
    return waits * math.exp(-decay * t)


def mmc_wait_quantile(servers: int, rate: float, mean_service: float, q: float) -> float:
    """The ``q``-quantile of the wait in M/M/c (0 when at least a fraction q does not wait).

    Inverts ``mmc_wait_tail``: t = ln(C / (1 - q)) / (c mu - lambda).
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be in (0, 1), got {q}")
    waits, decay = _mmc(servers, rate, mean_service)
    if waits <= 1 - q:
        return 0.0
    return math.log(waits / (1 - q)) / decay


def pk_mean_wait(rate: float, mean_service: float, second_moment: float) -> float:
    """Mean wait in M/G/1 (Pollaczek-Khinchine): lambda E[S^2] / (2 (1 - rho)).

    With deterministic service E[S^2] = d^2, so the M/D/1 wait is rho d / (2 (1 - rho)).
    """
    rho = rate * mean_service
    if not 0 <= rho < 1:
        raise ValueError(f"M/G/1 is unstable at rho = {rho}")
    return rate * second_moment / (2 * (1 - rho))


def priority_mean_waits(classes: Sequence[tuple[float, float, float]]) -> list[float]:
    """Mean wait of each class of a non-preemptive priority M/G/1 queue (Cobham's formula).

    ``classes`` are (rate, mean service, second moment of service), highest
    priority first. With W0 = sum(lambda_i E[S_i^2]) / 2 (the mean residual
    work found in service) and sigma_k the load of classes 1..k:
    W_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k)).
    """
    residual = sum(rate * second for rate, _, second in classes) / 2
    waits, above = [], 0.0
    for rate, mean, _ in classes:
        upto = above + rate * mean
        if upto >= 1:
            raise ValueError(f"unstable: the load of the classes so far is {upto}")
        waits.append(residual / ((1 - above) * (1 - upto)))
        above = upto
    return waits


def mmc_priority_mean_waits(
    servers: int, rates: Sequence[float], mean_service: float
) -> list[float]:
    """Mean wait of each class of a non-preemptive priority M/M/c queue where every class
    has the same exponential service (``rates`` highest priority first).

    With W0 = C(c, a) / (c mu), the mean time until some server frees when all are busy
    times the chance they are, and sigma_k = (lambda_1 + ... + lambda_k) / (c mu):
    W_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k)) (Gross and Harris, *Fundamentals of
    Queueing Theory*, 3.4). With one server it is Cobham's formula for exponential service.
    """
    capacity = servers / mean_service
    total = sum(rates)
    residual = erlang_c(servers, total * mean_service) / capacity
    waits, above = [], 0.0
    for rate in rates:
        upto = above + rate / capacity
        waits.append(residual / ((1 - above) * (1 - upto)))
        above = upto
    return waits


def exponential_second_moment(mean: float) -> float:
    """E[S^2] of an exponential with this mean: 2 m^2."""
    return 2 * mean * mean


def uniform_second_moment(low: float, high: float) -> float:
    """E[S^2] of a uniform on [low, high]: (a^2 + ab + b^2) / 3."""
    return (low * low + low * high + high * high) / 3


def lognormal_second_moment(median: float, sigma: float) -> float:
    """E[S^2] of a log-normal with this median and shape: median^2 exp(2 sigma^2)."""
    return median * median * math.exp(2 * sigma * sigma)


def split_means(values: Sequence[float], batches: int) -> list[float]:
    """Means of ``batches`` equal contiguous batches of ``values`` (a remainder is dropped)."""
    size = len(values) // batches
    if batches < 2 or size < 1:
        raise ValueError(f"need >= 2 batches of >= 1 value, got {len(values)} values / {batches}")
    return [math.fsum(values[i * size : (i + 1) * size]) / size for i in range(batches)]


def batch_means(values: Sequence[float], batches: int) -> tuple[float, float]:
    """(mean, standard error) of a correlated sequence, from ``batches`` contiguous batch means.

    Waits of successive customers are strongly correlated, so the naive
    sd / sqrt(n) understates the error; the means of long consecutive
    batches are nearly independent, so their spread gives an honest error.
    The overall mean uses the values in whole batches only.
    """
    means = split_means(values, batches)
    return math.fsum(means) / batches, statistics.stdev(means) / math.sqrt(batches)


def controlled_mean(ys: Sequence[float], xs: Sequence[float]) -> tuple[float, float]:
    """(estimate, standard error) from batch means ``ys`` and a control variate's ``xs``.

    ``xs`` are the batch means of a control minus its known mean: a quantity
    correlated with the output (e.g. the work each customer brings: a sample
    that happened to bring more work than expected also waited longer). The
    estimate is mean(y) - b mean(x), b fitted by least squares across the k
    batches, with variance s^2 (1/k + mean(x)^2 / Sxx), s^2 the residual
    variance on k - 2 degrees of freedom (Lavenberg and Welch 1981). A
    control that does not vary gives plain batch means.
    """
    k = len(ys)
    if k < 3 or len(xs) != k:
        raise ValueError(f"need >= 3 batches and one control mean per batch, got {k}, {len(xs)}")
    y_bar, x_bar = math.fsum(ys) / k, math.fsum(xs) / k
    sxx = math.fsum((x - x_bar) ** 2 for x in xs)
    if sxx == 0:
        return y_bar, statistics.stdev(ys) / math.sqrt(k)
    slope = math.fsum((x - x_bar) * (y - y_bar) for x, y in zip(xs, ys, strict=True)) / sxx
    residual = math.fsum(
        (y - y_bar - slope * (x - x_bar)) ** 2 for x, y in zip(xs, ys, strict=True)
    )
    variance = residual / (k - 2) * (1 / k + x_bar * x_bar / sxx)
    return y_bar - slope * x_bar, math.sqrt(variance)


def controlled_batch_means(
    values: Sequence[float], control: Sequence[float], expected: float, batches: int
) -> tuple[float, float]:
    """``controlled_mean`` of ``values`` in ``batches``; ``control`` has known mean ``expected``."""
    if len(values) != len(control):
        raise ValueError(f"one control per value, got {len(values)} values, {len(control)}")
    xs = [x - expected for x in split_means(control, batches)]
    return controlled_mean(split_means(values, batches), xs)
