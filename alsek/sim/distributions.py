"""Random inputs of a workload: task durations and arrival patterns.

Every draw takes the simulation's one ``random.Random`` as a parameter, so a
seed fixes the whole run. Durations are whole milliseconds (the clock's
unit); arrival patterns yield non-decreasing submit times in ms.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import ClassVar

import attrs

from alsek.sim.checks import fail, number, numbers, optional, sequence, to_tuple


def _ms(value: float) -> int:
    """A sampled duration as whole milliseconds (never negative)."""
    return max(int(value + 0.5), 0)


@attrs.frozen
class Fixed:
    """Always ``ms``."""

    kind: ClassVar[str] = "fixed"
    ms: float = attrs.field(validator=number())

    def sample(self, rnd: random.Random) -> int:
        """One duration in ms."""
        return _ms(self.ms)

    @property
    def mean_ms(self) -> float:
        """Expected duration."""
        return float(_ms(self.ms))


@attrs.frozen
class Uniform:
    """Uniform on ``[low_ms, high_ms]``."""

    kind: ClassVar[str] = "uniform"
    low_ms: float = attrs.field(validator=number())
    high_ms: float = attrs.field(validator=number())

    def __attrs_post_init__(self) -> None:
        if self.high_ms < self.low_ms:
            raise fail(self, "high_ms", f"must be >= low_ms ({self.low_ms}), got {self.high_ms}")

    def sample(self, rnd: random.Random) -> int:
        """One duration in ms."""
        return _ms(rnd.uniform(self.low_ms, self.high_ms))

    @property
    def mean_ms(self) -> float:
        """Expected duration."""
        return (self.low_ms + self.high_ms) / 2


@attrs.frozen
class Exponential:
    """Exponential with mean ``mean_ms`` (memoryless service, as in M/M/c)."""

    kind: ClassVar[str] = "exponential"
    mean_ms: float = attrs.field(validator=number(strict=True))

    def sample(self, rnd: random.Random) -> int:
        """One duration in ms."""
        return _ms(rnd.expovariate(1.0 / self.mean_ms))


@attrs.frozen
class LogNormal:
    """Log-normal with median ``median_ms`` and shape ``sigma``: a long right tail."""

    kind: ClassVar[str] = "lognormal"
    median_ms: float = attrs.field(validator=number(strict=True))
    sigma: float = attrs.field(default=0.5, validator=number())

    def sample(self, rnd: random.Random) -> int:
        """One duration in ms."""
        return _ms(rnd.lognormvariate(math.log(self.median_ms), self.sigma))

    @property
    def mean_ms(self) -> float:
        """Expected duration."""
        return self.median_ms * math.exp(self.sigma**2 / 2)


@attrs.frozen
class Empirical:
    """Resampling of measured durations ``samples_ms`` (each equally likely)."""

    kind: ClassVar[str] = "empirical"
    samples_ms: tuple[float, ...] = attrs.field(converter=to_tuple, validator=[sequence, numbers()])

    def sample(self, rnd: random.Random) -> int:
        """One duration in ms."""
        return _ms(rnd.choice(self.samples_ms))

    @property
    def mean_ms(self) -> float:
        """Expected duration."""
        return sum(_ms(s) for s in self.samples_ms) / len(self.samples_ms)


Duration = Fixed | Uniform | Exponential | LogNormal | Empirical
DURATIONS: dict[str, type[Duration]] = {
    cls.kind: cls for cls in (Fixed, Uniform, Exponential, LogNormal, Empirical)
}


def _rate_bounds(pattern: FixedRate | Poisson) -> None:
    if pattern.until_ms is not None and pattern.until_ms < pattern.start_ms:
        raise fail(pattern, "until_ms", f"must be >= start_ms ({pattern.start_ms})")


def _bounded(times: Iterator[float], count: int | None, until: int | None) -> Iterator[int]:
    for index, at in enumerate(times):
        if count is not None and index >= count:
            return
        ms = int(at)
        if until is not None and ms > until:
            return
        yield ms


@attrs.frozen
class FixedRate:
    """``rate`` submissions per second, evenly spaced from ``start_ms``."""

    kind: ClassVar[str] = "fixed"
    rate: float = attrs.field(validator=number(strict=True))
    start_ms: int = attrs.field(default=0, validator=number(integer=True))
    count: int | None = attrs.field(default=None, validator=optional(number(integer=True)))
    until_ms: int | None = attrs.field(default=None, validator=optional(number(integer=True)))

    def __attrs_post_init__(self) -> None:
        _rate_bounds(self)

    @property
    def bounded(self) -> bool:
        """Whether the pattern ends on its own."""
        return self.count is not None or self.until_ms is not None

    def times(self, rnd: random.Random, horizon: int | None) -> Iterator[int]:
        """Submit times, ending at ``count``, ``until_ms`` or ``horizon``."""
        gap = 1000.0 / self.rate
        steps = (self.start_ms + k * gap for k in _count_up())
        return _bounded(steps, self.count, _earliest(self.until_ms, horizon))


@attrs.frozen
class Poisson:
    """A Poisson process of ``rate`` submissions per second from ``start_ms``."""

    kind: ClassVar[str] = "poisson"
    rate: float = attrs.field(validator=number(strict=True))
    start_ms: int = attrs.field(default=0, validator=number(integer=True))
    count: int | None = attrs.field(default=None, validator=optional(number(integer=True)))
    until_ms: int | None = attrs.field(default=None, validator=optional(number(integer=True)))

    def __attrs_post_init__(self) -> None:
        _rate_bounds(self)

    @property
    def bounded(self) -> bool:
        """Whether the pattern ends on its own."""
        return self.count is not None or self.until_ms is not None

    def times(self, rnd: random.Random, horizon: int | None) -> Iterator[int]:
        """Submit times, ending at ``count``, ``until_ms`` or ``horizon``."""
        return _bounded(self._gaps(rnd), self.count, _earliest(self.until_ms, horizon))

    def _gaps(self, rnd: random.Random) -> Iterator[float]:
        per_ms = self.rate / 1000.0
        at = float(self.start_ms)
        while True:
            at += rnd.expovariate(per_ms)
            yield at


@attrs.frozen
class Burst:
    """``count`` submissions at once, at ``at_ms``."""

    at_ms: int = attrs.field(validator=number(integer=True))
    count: int = attrs.field(validator=number(integer=True))


def _bursts(instance: Bursts, attribute: attrs.Attribute[object], value: object) -> None:
    if not isinstance(value, tuple) or not value:
        raise fail(instance, attribute.name, "must be a non-empty list of {at_ms, count}")
    for index, item in enumerate(value):
        if not isinstance(item, Burst):
            raise fail(instance, f"bursts[{index}]", f"must be a Burst, got {item!r}")


@attrs.frozen
class Bursts:
    """Groups of simultaneous submissions."""

    kind: ClassVar[str] = "bursts"
    bursts: tuple[Burst, ...] = attrs.field(converter=to_tuple, validator=_bursts)
    bounded: ClassVar[bool] = True

    def times(self, rnd: random.Random, horizon: int | None) -> Iterator[int]:
        """Submit times in order, dropping any past ``horizon``."""
        for burst in sorted(self.bursts, key=lambda b: b.at_ms):
            if horizon is not None and burst.at_ms > horizon:
                return
            yield from [burst.at_ms] * burst.count


@attrs.frozen
class Times:
    """Explicit submit times in ms."""

    kind: ClassVar[str] = "times"
    times_ms: tuple[int, ...] = attrs.field(
        converter=to_tuple, validator=[sequence, numbers(integer=True)]
    )
    bounded: ClassVar[bool] = True

    def times(self, rnd: random.Random, horizon: int | None) -> Iterator[int]:
        """Submit times in order, dropping any past ``horizon``."""
        for at in sorted(self.times_ms):
            if horizon is not None and at > horizon:
                return
            yield at


ArrivalPattern = FixedRate | Poisson | Bursts | Times
ARRIVALS: dict[str, type[ArrivalPattern]] = {
    cls.kind: cls for cls in (FixedRate, Poisson, Bursts, Times)
}


def _count_up() -> Iterator[int]:
    k = 0
    while True:
        yield k
        k += 1


def _earliest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
