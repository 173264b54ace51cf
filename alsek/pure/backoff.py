"""Backoff algorithms: how long to wait after the n-th incident.

An *incident* is a failed attempt (for tasks) or an empty pass over the
queues (for consumers). Every algorithm is a frozen record; ``get(n)`` is a
pure function of the record and ``n``, clamped to ``[floor, ceiling]``, and
``zero_override`` makes ``get(0) == 0`` so a first attempt never waits.
Records serialize to ``backoff_settings`` (a plain dict) and back.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

import attrs

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.durations import to_ms
from alsek.pure.validate import check_int


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    bound = attribute.name in ("floor", "ceiling")
    if value is None and bound:
        return
    kinds: tuple[type, ...] = (int,) if bound else (int, float)  # bounds are whole ms
    if isinstance(value, bool) or not isinstance(value, kinds) or cast(float, value) < 0:
        raise ValidationError(
            f"{type(instance).__name__}.{attribute.name} must be a non-negative "
            f"{'int' if bound else 'number'}, "
            f"got {value!r}"
        )


# Durations may be given as ``timedelta``s; the records hold milliseconds.
def _constant_ms(value: Any) -> Any:
    return to_ms("backoff constant", value)


def _factor_ms(value: Any) -> Any:
    return to_ms("backoff factor", value)


def _floor_ms(value: Any) -> Any:
    return to_ms("backoff floor", value)


def _ceiling_ms(value: Any) -> Any:
    return to_ms("backoff ceiling", value)


def _check_bounds(backoff: Backoff) -> None:
    floor, ceiling = backoff.floor, backoff.ceiling
    if floor is not None and ceiling is not None and floor > ceiling:
        raise ValidationError(
            f"{type(backoff).__name__}: floor ({floor}) must not exceed ceiling ({ceiling})"
        )


class Backoff:
    """Base of the backoff records. Subclasses define ``formula``."""

    floor: int | None
    ceiling: int | None
    zero_override: bool
    _registry: ClassVar[dict[str, type[Backoff]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Backoff._registry[cls.__name__] = cls

    def formula(self, incidents: int) -> float:
        """Unclamped duration in ms for ``incidents`` incidents."""
        raise NotImplementedError  # abstract: every concrete backoff defines it

    def get(self, incidents: int) -> int:
        """Duration in milliseconds to wait after ``incidents`` incidents."""
        check_int("incidents", incidents, 0)
        if self.zero_override and incidents == 0:
            return 0
        duration = self.formula(incidents)
        if self.floor is not None:
            duration = max(duration, self.floor)
        if self.ceiling is not None:
            duration = min(duration, self.ceiling)
        return int(duration)

    @property
    def parameters(self) -> dict[str, Any]:
        """The constructor arguments, in declaration order."""
        return attrs.asdict(self)  # type: ignore[arg-type]

    @property
    def settings(self) -> dict[str, Any]:
        """The form stored in ``Message.backoff_settings``."""
        return {"algorithm": type(self).__name__, "parameters": self.parameters}


@attrs.frozen
class ConstantBackoff(Backoff):
    """The same wait after every incident."""

    constant: int = attrs.field(default=60_000, converter=_constant_ms, validator=_non_negative)
    floor: int | None = attrs.field(default=60_000, converter=_floor_ms, validator=_non_negative)
    ceiling: int | None = attrs.field(
        default=3_600_000,
        converter=_ceiling_ms,
        validator=_non_negative,
    )
    zero_override: bool = True

    def __attrs_post_init__(self) -> None:
        _check_bounds(self)

    def formula(self, incidents: int) -> float:
        return self.constant


@attrs.frozen
class LinearBackoff(Backoff):
    """A wait of ``factor * incidents``."""

    factor: int = attrs.field(default=10_000, converter=_factor_ms, validator=_non_negative)
    floor: int | None = attrs.field(default=60_000, converter=_floor_ms, validator=_non_negative)
    ceiling: int | None = attrs.field(
        default=3_600_000, converter=_ceiling_ms, validator=_non_negative
    )
    zero_override: bool = True

    def __attrs_post_init__(self) -> None:
        _check_bounds(self)

    def formula(self, incidents: int) -> float:
        return self.factor * incidents


@attrs.frozen
class ExponentialBackoff(Backoff):
    """A wait of ``factor * base ** incidents``."""

    base: int = attrs.field(default=4, validator=_non_negative)
    factor: int = attrs.field(default=10_000, converter=_factor_ms, validator=_non_negative)
    floor: int | None = attrs.field(default=60_000, converter=_floor_ms, validator=_non_negative)
    ceiling: int | None = attrs.field(
        default=3_600_000,
        converter=_ceiling_ms,
        validator=_non_negative,
    )
    zero_override: bool = True

    def __attrs_post_init__(self) -> None:
        _check_bounds(self)

    def formula(self, incidents: int) -> float:
        if self.factor == 0 or self.base == 0:
            return 0.0 if incidents > 0 or self.factor == 0 else float(self.factor)
        if self.base > 1 and self.ceiling is not None:
            # Avoid astronomically large intermediates: past the ceiling the
            # exact value does not matter, only that it exceeds the ceiling.
            log_value = math.log(self.factor) + incidents * math.log(self.base)
            if log_value > math.log(max(self.ceiling, 1)) + 1:
                return float(self.ceiling) + 1.0
        # Exact (int) arithmetic: without a ceiling, float() overflows past ~1e308.
        exact: int = self.factor * cast(int, self.base**incidents)
        return exact


#: The backoff used by tasks that do not choose one.
DEFAULT_TASK_BACKOFF = ExponentialBackoff()
#: Settings meaning "never wait" (the tour's way of disabling backoff).
NO_BACKOFF = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)


def backoff_from_settings(settings: dict[str, Any] | None) -> Backoff | None:
    """Rebuild a backoff record from ``backoff_settings`` (None stays None)."""
    if settings is None:
        return None
    if not isinstance(settings, dict):
        raise ValidationError(f"backoff_settings must be a dict or None, got {settings!r}")
    algorithm = settings.get("algorithm")
    cls = Backoff._registry.get(str(algorithm))
    if cls is None:
        known = ", ".join(sorted(Backoff._registry))
        raise ValidationError(
            f"backoff_settings names an unknown algorithm {algorithm!r} (known: {known})"
        )
    parameters = settings.get("parameters") or {}
    try:
        return cls(**parameters)
    except TypeError as error:
        raise ValidationError(f"backoff_settings for {algorithm}: {error}") from None


def backoff_duration(settings: dict[str, Any] | None, incidents: int) -> int:
    """Wait after ``incidents`` incidents under ``settings`` (0 when disabled)."""
    backoff = backoff_from_settings(settings)
    return 0 if backoff is None else backoff.get(incidents)


#: The consumer's backoff after empty passes (see ``alsek.defaults``).
DEFAULT_CONSUMER_BACKOFF = LinearBackoff(
    factor=defaults.CONSUMER_BACKOFF_FACTOR,
    floor=defaults.CONSUMER_BACKOFF_FLOOR,
    ceiling=defaults.CONSUMER_BACKOFF_CEILING,
    zero_override=False,
)
