"""The arithmetic behind a calibration profile: the claim-cost line and the median burst."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.calibration.burst import Burst, Loaded, fit_line, median_burst


@given(
    intercept=st.floats(0, 10),
    slope=st.floats(0, 2),
    xs=st.lists(st.integers(0, 32), min_size=2, max_size=50).filter(lambda v: len(set(v)) > 1),
)
def test_a_line_through_the_points_is_found(intercept: float, slope: float, xs: list[int]) -> None:
    fitted = fit_line([(x, intercept + slope * x) for x in xs])
    assert fitted == pytest.approx((intercept, slope), abs=1e-6)


def test_the_slope_is_never_negative_and_a_flat_cloud_is_its_mean() -> None:
    assert fit_line([(1, 5.0), (2, 3.0), (3, 1.0)]) == (3.0, 0.0)
    assert fit_line([(2, 1.0), (2, 3.0)]) == (2.0, 0.0)
    assert all(math.isnan(v) for v in fit_line([]))


def burst(slot_cost: float, rtt: float) -> Burst:
    kind = Loaded(96, 100, 8, 1_300.0, 3.0, slot_cost, 2.0)
    return Burst({"thread": kind}, 10, rtt, 0.1)


def test_the_median_burst_takes_each_figure_s_median() -> None:
    runs = [burst(2.0, 1.0), burst(40.0, 9.0), burst(3.0, 1.5), burst(2.5, 30.0), burst(1.0, 1.2)]
    median = median_burst(runs)
    assert median.kinds["thread"].slot_cost_ms == 2.5  # two spoiled runs do not move it
    assert median.claim_rtt_ms == 1.5
    assert median.claims == 50 and median.kinds["thread"].count == 96
