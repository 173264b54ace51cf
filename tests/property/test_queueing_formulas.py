"""The queueing formulas of ``tests.support.queueing`` against published values and identities.

They are the oracles of the simulator's theory tests, so they are checked
on their own: against values from standard tables and textbook examples,
against closed forms of special cases, and against each other.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.queueing import (
    batch_means,
    controlled_batch_means,
    erlang_b,
    erlang_c,
    exponential_second_moment,
    lognormal_second_moment,
    mmc_mean_wait,
    mmc_wait_quantile,
    mmc_wait_tail,
    pk_mean_wait,
    priority_mean_waits,
    uniform_second_moment,
)

servers = st.integers(1, 40)
utilisations = st.floats(0.01, 0.99)
means = st.floats(0.01, 1_000.0)


@pytest.mark.parametrize(
    ("lines", "erlangs"),
    [(5, 1.361), (10, 4.461), (20, 12.031)],  # the 1% column of the Erlang B table
)
def test_erlang_b_matches_the_published_table(lines: int, erlangs: float) -> None:
    assert erlang_b(lines, erlangs) == pytest.approx(0.01, abs=5e-5)


def test_erlang_c_matches_published_and_hand_values() -> None:
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)  # 3 servers, 2 erlangs
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: an arrival waits iff the server is busy
    assert erlang_b(1, 1.0) == 0.5


def _erlang_c_by_factorials(c: int, a: Fraction) -> Fraction:
    """The textbook form, in exact arithmetic: (a^c/c!)(c/(c-a)) / (sum_{k<c} a^k/k! + same)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@given(c=st.integers(1, 25), utilisation=st.fractions(Fraction(1, 100), Fraction(99, 100)))
def test_erlang_c_recursion_equals_the_factorial_form(c: int, utilisation: Fraction) -> None:
    load = utilisation * c
    exact = _erlang_c_by_factorials(c, load)
    assert erlang_c(c, float(load)) == pytest.approx(float(exact), rel=1e-9)


@given(rho=utilisations, mean=means)
def test_mm2_closed_forms(rho: float, mean: float) -> None:
    rate = 2 * rho / mean
    assert erlang_c(2, rate * mean) == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-9)
    assert mmc_mean_wait(2, rate, mean) == pytest.approx(mean * rho**2 / (1 - rho**2), rel=1e-9)


@given(c=servers, rho=utilisations, mean=means)
def test_mmc_mean_wait_is_lq_over_lambda(c: int, rho: float, mean: float) -> None:
    rate = c * rho / mean
    queue_length = erlang_c(c, rate * mean) * rho / (1 - rho)  # L_q of M/M/c
    assert mmc_mean_wait(c, rate, mean) == pytest.approx(queue_length / rate, rel=1e-9)


@given(c=servers, rho=utilisations, mean=means, q=st.floats(0.5, 0.999))
def test_the_wait_distribution_is_consistent(c: int, rho: float, mean: float, q: float) -> None:
    rate = c * rho / mean
    waits = erlang_c(c, rate * mean)
    assert mmc_wait_tail(c, rate, mean, 0.0) == pytest.approx(waits)
    # The mean is the integral of the tail: C / (c mu - lambda).
    assert mmc_mean_wait(c, rate, mean) == pytest.approx(waits / (c / mean - rate), rel=1e-9)
    t = mmc_wait_quantile(c, rate, mean, q)
    if waits <= 1 - q:
        assert t == 0.0  # at least a fraction q does not wait at all
    else:
        assert mmc_wait_tail(c, rate, mean, t) == pytest.approx(1 - q, rel=1e-9)


def test_mm1_p95_by_hand() -> None:
    # M/M/1 with rho = 0.9, mean service 1: P(W > t) = 0.9 exp(-0.1 t) = 0.05 at t = 10 ln 18.
    assert mmc_wait_quantile(1, 0.9, 1.0, 0.95) == pytest.approx(10 * math.log(18))


@given(rho=utilisations, mean=means)
def test_pollaczek_khinchine_special_cases(rho: float, mean: float) -> None:
    rate = rho / mean
    mm1 = pk_mean_wait(rate, mean, exponential_second_moment(mean))
    assert mm1 == pytest.approx(mmc_mean_wait(1, rate, mean), rel=1e-9)
    md1 = pk_mean_wait(rate, mean, mean * mean)
    assert md1 == pytest.approx(rho * mean / (2 * (1 - rho)), rel=1e-9)
    assert md1 == pytest.approx(mm1 / 2, rel=1e-9)  # deterministic service halves the wait


def test_cobham_matches_the_published_two_class_example() -> None:
    # High priority 1/h, low 9/h, both exponential at 12/h: time in system 0.15909 h
    # (9.545 min) and 0.5379 h (32.27 min); FCFS would give 1/(12 - 10) = 0.5 h to all.
    mean = 1 / 12
    second = exponential_second_moment(mean)
    high, low = priority_mean_waits([(1, mean, second), (9, mean, second)])
    assert high + mean == pytest.approx(0.15909, abs=5e-5)
    assert low + mean == pytest.approx(0.5379, abs=5e-5)
    assert (1 * high + 9 * low) / 10 + mean == pytest.approx(0.5)


@given(
    classes=st.lists(
        st.tuples(st.floats(0.01, 1.0), st.floats(0.01, 2.0), st.floats(1.0, 3.0)),
        min_size=1,
        max_size=4,
    ),
    load=st.floats(0.05, 0.95),
)
def test_cobham_obeys_the_conservation_law(
    classes: list[tuple[float, float, float]], load: float
) -> None:
    # Scale the rates to total utilisation ``load``; second moment = factor * mean^2.
    total = sum(rate * mean for rate, mean, _ in classes)
    scaled = [(rate * load / total, mean, k * mean * mean) for rate, mean, k in classes]
    waits = priority_mean_waits(scaled)
    assert all(a <= b for a, b in itertools.pairwise(waits))  # higher priority never waits longer
    # Kleinrock: sum(rho_k W_k) is the same for every non-preemptive work-conserving order
    # (rho W0 / (1 - rho)), and with one merged class the formula is Pollaczek-Khinchine.
    residual = sum(rate * second for rate, _, second in scaled) / 2
    weighted = sum(rate * mean * wait for (rate, mean, _), wait in zip(scaled, waits, strict=True))
    assert weighted == pytest.approx(load * residual / (1 - load), rel=1e-9)
    rate = sum(r for r, _, _ in scaled)
    fcfs = pk_mean_wait(rate, load / rate, 2 * residual / rate)
    assert priority_mean_waits([(rate, load / rate, 2 * residual / rate)]) == [
        pytest.approx(fcfs, rel=1e-9)
    ]


def test_second_moments() -> None:
    assert uniform_second_moment(0.0, 1.0) == pytest.approx(1 / 3)
    assert uniform_second_moment(2.0, 2.0) == pytest.approx(4.0)  # degenerate: d^2
    assert exponential_second_moment(3.0) == 18.0
    # Log-normal: E[S^2] = exp(2 mu + 2 sigma^2) with mu = ln(median).
    assert lognormal_second_moment(math.e, 0.5) == pytest.approx(math.exp(2 + 0.5))


@given(low=st.floats(0, 100), width=st.floats(0, 100), sigma=st.floats(0, 1.5))
def test_second_moments_exceed_the_squared_mean(low: float, width: float, sigma: float) -> None:
    high = low + width
    mean = (low + high) / 2
    variance = width**2 / 12
    assert uniform_second_moment(low, high) == pytest.approx(mean**2 + variance, abs=1e-9)
    median = 10.0
    lognormal_mean = median * math.exp(sigma**2 / 2)
    assert lognormal_second_moment(median, sigma) >= lognormal_mean**2 * (1 - 1e-12)


def test_batch_means_by_hand() -> None:
    mean, error = batch_means([1.0, 1.0, 2.0, 2.0, 9.0], 2)  # the 9 is outside whole batches
    assert mean == 1.5
    assert error == pytest.approx(0.5)  # stdev(1, 2) / sqrt(2)


@given(st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=200), st.integers(2, 4))
def test_batch_means_of_whole_batches(values: list[float], batches: int) -> None:
    size = len(values) // batches
    mean, error = batch_means(values, batches)
    used = values[: size * batches]
    assert mean == pytest.approx(math.fsum(used) / len(used), rel=1e-9, abs=1e-6)
    assert error >= 0
    constant, zero = batch_means([7.0] * len(values), batches)
    assert constant == pytest.approx(7.0)
    assert zero == 0.0


def test_unstable_or_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(2, 2.0)
    with pytest.raises(ValueError, match="unstable"):
        pk_mean_wait(1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="unstable"):
        priority_mean_waits([(0.5, 1.0, 2.0), (0.6, 1.0, 2.0)])
    with pytest.raises(ValueError, match="batches"):
        batch_means([1.0], 2)


def test_a_control_variate_removes_the_part_it_explains() -> None:
    # y = 10 + 3 x exactly: the control, whose mean is known to be 0, explains all of it.
    control = [float(i % 7 - 3) for i in range(70)] + [1.0] * 10  # sample mean > 0
    values = [10 + 3 * x for x in control]
    estimate, error = controlled_batch_means(values, control, 0.0, 8)
    assert estimate == pytest.approx(10.0)
    assert error == pytest.approx(0.0, abs=1e-9)
    plain, _ = batch_means(values, 8)
    assert plain != pytest.approx(10.0)  # the plain mean carries the control's excess


@given(st.lists(st.floats(-100, 100), min_size=6, max_size=100), st.integers(3, 6))
def test_a_constant_control_gives_plain_batch_means(values: list[float], batches: int) -> None:
    assert controlled_batch_means(values, [5.0] * len(values), 5.0, batches) == pytest.approx(
        batch_means(values, batches)
    )
