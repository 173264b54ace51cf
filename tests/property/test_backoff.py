"""Backoff records: clamping, monotonicity, settings round trip, validation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.pure.backoff import (
    DEFAULT_TASK_BACKOFF,
    NO_BACKOFF,
    Backoff,
    ConstantBackoff,
    ExponentialBackoff,
    LinearBackoff,
    backoff_duration,
    backoff_from_settings,
)
from tests.property.strategies import (
    backoffs,
    constant_backoffs,
    exponential_backoffs,
    light,
    linear_backoffs,
)

incidents = st.integers(min_value=0, max_value=200)
positive_incidents = st.integers(min_value=1, max_value=200)
KINDS = (ConstantBackoff, LinearBackoff, ExponentialBackoff)


@light
@given(backoffs)
def test_zero_override_means_no_wait_before_the_first_incident(backoff: Backoff) -> None:
    if backoff.zero_override:
        assert backoff.get(0) == 0
    elif backoff.floor:
        assert backoff.get(0) >= backoff.floor


@light
@given(backoffs, positive_incidents)
def test_result_is_an_int_within_floor_and_ceiling(backoff: Backoff, n: int) -> None:
    duration = backoff.get(n)
    assert isinstance(duration, int) and duration >= 0
    if backoff.floor is not None:
        assert duration >= backoff.floor
    if backoff.ceiling is not None:
        assert duration <= backoff.ceiling


@light
@given(backoffs, incidents)
def test_result_is_the_clamped_formula(backoff: Backoff, n: int) -> None:
    if backoff.zero_override and n == 0:
        assert backoff.get(n) == 0
        return
    floor = backoff.floor if backoff.floor is not None else 0
    ceiling = backoff.ceiling if backoff.ceiling is not None else float("inf")
    if isinstance(backoff, ConstantBackoff):
        raw = backoff.constant
    elif isinstance(backoff, LinearBackoff):
        raw = backoff.factor * n
    else:
        assert isinstance(backoff, ExponentialBackoff)
        raw = backoff.factor * backoff.base**n
    assert backoff.get(n) == int(min(max(raw, floor), ceiling))


@light
@given(st.one_of(linear_backoffs(), exponential_backoffs(min_base=1)), incidents, incidents)
def test_monotone_in_incidents(backoff: Backoff, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert backoff.get(low) <= backoff.get(high)


@light
@given(constant_backoffs(), positive_incidents, positive_incidents)
def test_constant_is_constant(backoff: ConstantBackoff, a: int, b: int) -> None:
    assert backoff.get(a) == backoff.get(b)


@light
@given(backoffs)
def test_settings_round_trip(backoff: Backoff) -> None:
    assert backoff_from_settings(backoff.settings) == backoff
    assert backoff_from_settings(json.loads(json.dumps(backoff.settings))) == backoff
    assert type(backoff_from_settings(backoff.settings)) is type(backoff)


@light
@given(backoffs, incidents)
def test_backoff_duration_matches_get(backoff: Backoff, n: int) -> None:
    assert backoff_duration(backoff.settings, n) == backoff.get(n)
    assert backoff_duration(None, n) == 0


def test_default_settings_are_the_tour_settings() -> None:
    assert ExponentialBackoff().settings == {
        "algorithm": "ExponentialBackoff",
        "parameters": {
            "base": 4,
            "factor": 10000,
            "floor": 60000,
            "ceiling": 3600000,
            "zero_override": True,
        },
    }
    assert ExponentialBackoff() == DEFAULT_TASK_BACKOFF
    assert list(ExponentialBackoff().settings["parameters"]) == [
        "base",
        "factor",
        "floor",
        "ceiling",
        "zero_override",
    ]


def test_default_exponential_values() -> None:
    backoff = ExponentialBackoff()
    assert [backoff.get(n) for n in range(6)] == [0, 60_000, 160_000, 640_000, 2_560_000, 3_600_000]


@light
@given(incidents)
def test_disabled_backoff_is_always_zero(n: int) -> None:
    disabled = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)
    assert disabled == NO_BACKOFF
    assert disabled.get(n) == 0
    assert backoff_duration(disabled.settings, n) == 0


@pytest.mark.parametrize("n", [10**6, 10**9, 2**62])
@pytest.mark.parametrize("kind", KINDS)
def test_huge_incident_counts_return_the_ceiling_quickly(kind: type[Backoff], n: int) -> None:
    backoff = kind(floor=0, ceiling=3_600_000)
    if kind is ConstantBackoff:
        backoff = ConstantBackoff(constant=5_000_000, floor=0, ceiling=3_600_000)
    started = time.perf_counter()
    assert backoff.get(n) == 3_600_000
    assert time.perf_counter() - started < 0.5


@light
@given(st.integers(min_value=1, max_value=3000))
def test_exponential_without_ceiling_never_overflows(n: int) -> None:
    backoff = ExponentialBackoff(base=4, factor=10, floor=None, ceiling=None)
    assert backoff.get(n) == 10 * 4**n


@light
@given(st.sampled_from(KINDS), st.integers(1, 10**6), st.integers(0, 10**6 - 1))
def test_floor_above_ceiling_is_rejected(kind: type[Backoff], floor: int, below: int) -> None:
    with pytest.raises(ValidationError, match="floor"):
        kind(floor=floor, ceiling=min(below, floor - 1))


NEGATIVE: list[tuple[type[Backoff], str]] = [
    (ConstantBackoff, "constant"),
    (ConstantBackoff, "floor"),
    (ConstantBackoff, "ceiling"),
    (LinearBackoff, "factor"),
    (LinearBackoff, "floor"),
    (ExponentialBackoff, "base"),
    (ExponentialBackoff, "factor"),
    (ExponentialBackoff, "ceiling"),
]


@light
@given(
    st.sampled_from(NEGATIVE),
    st.integers(max_value=-1) | st.floats(max_value=-0.001) | st.sampled_from(["1", True]),
)
def test_negative_or_non_numeric_parameters_are_rejected(
    target: tuple[type[Backoff], str], value: Any
) -> None:
    kind, field = target
    with pytest.raises(ValidationError, match=field):
        kind(**{field: value, **({"floor": None} if field == "ceiling" else {})})


@light
@given(backoffs, st.integers(max_value=-1) | st.just(True) | st.just(1.5))
def test_invalid_incident_counts_are_rejected(backoff: Backoff, n: Any) -> None:
    with pytest.raises(ValidationError, match="incidents"):
        backoff.get(n)


@light
@given(st.text(max_size=20).filter(lambda name: name not in {k.__name__ for k in KINDS}))
def test_unknown_algorithm_is_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="unknown algorithm"):
        backoff_from_settings({"algorithm": name, "parameters": {}})


@pytest.mark.parametrize(
    "settings",
    [
        {"parameters": {}},
        {"algorithm": "ConstantBackoff", "parameters": {"nope": 1}},
        {"algorithm": "LinearBackoff", "parameters": {"factor": -1}},
        {"algorithm": "ExponentialBackoff", "parameters": {"floor": 10, "ceiling": 1}},
        {"algorithm": "ExponentialBackoff", "parameters": [1, 2]},
        ["ExponentialBackoff"],
        "ExponentialBackoff",
    ],
)
def test_malformed_settings_are_rejected(settings: Any) -> None:
    with pytest.raises(ValidationError):
        backoff_from_settings(settings)


def test_none_settings_mean_no_backoff() -> None:
    assert backoff_from_settings(None) is None
