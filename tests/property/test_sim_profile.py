"""Calibration profiles: what a file holds, how a workload takes its overheads, and errors."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsek.exceptions import ValidationError
from alsek.sim import Arrival, Fixed, Overheads, PoolSpec, TaskKind, Times, Workload, simulate
from alsek.sim.profile import BackendProfile, Profile, load_profile, profile_from_dict, save_profile
from alsek.sim.runtime import Cost, Trip

REDIS = Overheads(
    claim_rtt_ms=1.25,
    claim_ms_per_item=0.1,
    wake_latency_ms=0.6,
    dispatch_ms={"thread": 1.5, "process": 2.25, "async": 3},
    timer_ms=100,
    signals="fifo",
)
DISK = attrs.evolve(REDIS, timer_ms=0, signals="any")


def workload() -> Workload:
    return Workload(
        tasks=[TaskKind(name="a", mechanism="thread", duration=Fixed(10))],
        arrivals=[Arrival(task="a", pattern=Times(times_ms=[0, 5, 5]))],
        pool=PoolSpec(max_threads=1, max_processes=0),
    )


def test_a_profile_round_trips_through_its_file(tmp_path: Path) -> None:
    profile = Profile(
        {"redis": BackendProfile(REDIS, {"burst": {"claims": 3}}), "disk": BackendProfile(DISK)},
        "2024-05-01T12:00:00Z",
        {"cpus": 2},
    )
    path = tmp_path / "profile.json"
    save_profile(profile, path)
    again = load_profile(path)
    assert again == profile
    assert again.overheads("redis") == REDIS and again.overheads("disk") == DISK
    assert again.backends["redis"].measured == {"burst": {"claims": 3}}


def test_apply_replaces_the_workload_s_overheads_and_nothing_else() -> None:
    profile = Profile({"disk": BackendProfile(DISK)})
    applied = profile.apply(workload())
    assert applied.overheads == DISK
    assert attrs.evolve(applied, overheads=workload().overheads) == workload()
    # The overheads change the run: the first claim's answer waits for the round trip.
    assert simulate(applied, seed=1).latency.max_ms != simulate(workload(), seed=1).latency.max_ms


def test_the_backend_must_be_named_when_the_profile_has_several() -> None:
    both = Profile({"redis": BackendProfile(REDIS), "disk": BackendProfile(DISK)})
    with pytest.raises(ValidationError, match="overheads for disk, redis: say which backend"):
        both.overheads()
    with pytest.raises(ValidationError, match="no overheads for backend 'disk'"):
        Profile({"redis": BackendProfile(REDIS)}).overheads("disk")


def good() -> dict[str, object]:
    return Profile({"redis": BackendProfile(REDIS)}).to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "workload"}, "p: not a simulator profile (kind is 'workload')"),
        ({"version": 2}, "p.version: 2 is not supported (expected 1)"),
        ({"backends": {}}, "p.backends: expected a non-empty object of backends"),
        ({"backends": {"mongo": {"overheads": {}}}}, "p.backends.mongo: unknown backend"),
        ({"backends": {"redis": {}}}, "p.backends.redis.overheads: missing"),
        (
            {"backends": {"redis": {"overheads": {"signals": "all"}}}},
            "p.backends.redis.overheads.signals: unknown signals 'all' (expected one of",
        ),
        (
            {"backends": {"redis": {"overheads": {"claim_rtt": 1}}}},
            "p.backends.redis.overheads.claim_rtt: unknown field",
        ),
        (
            {"backends": {"redis": {"overheads": {}, "measured": []}}},
            "p.backends.redis.measured: expected an object",
        ),
    ],
)
def test_a_bad_profile_is_refused_naming_the_field(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        profile_from_dict({**good(), **change}, "p")


def test_unreadable_profiles_are_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read the profile"):
        load_profile(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValidationError, match=f"{broken}: not valid JSON"):
        load_profile(broken)
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([1]), encoding="utf-8")
    with pytest.raises(ValidationError, match="expected a JSON object, got list"):
        load_profile(listed)


def test_one_waiter_per_signal_needs_a_consumer_backoff() -> None:
    with pytest.raises(ValidationError, match="'fifo' needs a consumer_backoff"):
        attrs.evolve(workload(), overheads=REDIS, consumer_backoff=None)


@settings(max_examples=40, deadline=None)
@given(ms=st.floats(0, 20), seed=st.integers(0, 2**32 - 1))
def test_a_fractional_cost_is_paid_in_whole_ms_with_the_exact_mean(ms: float, seed: int) -> None:
    cost = Cost(ms, random.Random(seed))
    paid = [cost() for _ in range(4_000)]
    assert set(paid) <= {int(ms), int(ms) + 1}
    # A Bernoulli mean over 4,000 draws: its standard error is at most 0.5 / sqrt(4000).
    assert statistics.fmean(paid) == pytest.approx(ms, abs=4 * 0.5 / 4_000**0.5)


def test_a_round_trip_costs_more_per_item_it_carries() -> None:
    trip = Trip(1.5, 0.25, random.Random(1))
    for items in (0, 1, 4, 10):
        paid = [trip(items) for _ in range(4_000)]
        expected = 1.5 + 0.25 * items
        assert set(paid) <= {int(expected), int(expected) + 1}
        assert statistics.fmean(paid) == pytest.approx(expected, abs=0.04)
    whole = Trip(2, 0, random.Random(1))
    assert {whole(items) for items in range(5)} == {2}  # whole costs draw nothing
