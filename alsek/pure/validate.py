"""Shared field checks: "an int within [lo, hi]", with errors naming the field and the limits.

Every bound on user input (delays, ttls, timeouts, priorities, counts) goes
through ``check_int`` so that a bad value fails the same way wherever it is
given (task definition, ``generate()``, a stored message) and on every
backend, before anything is written.
"""

from __future__ import annotations

from typing import Any

from alsek import defaults
from alsek.exceptions import ValidationError

DURATION_UNIT = "ms; at most 100 years"


def is_int_within(value: Any, lo: int, hi: int | None = None) -> bool:
    """Whether ``value`` is an int (bools excluded) with ``lo <= value`` (``<= hi``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return lo <= value and (hi is None or value <= hi)


def describe_range(lo: int, hi: int | None = None, unit: str = "") -> str:
    """``'an int >= lo'`` or ``'an int >= lo and <= hi'``, with ``unit`` after the limit."""
    upper = "" if hi is None else f" and <= {hi}"
    return f"an int >= {lo}{upper}{f' ({unit})' if unit else ''}"


def check_int(field: str, value: Any, lo: int, hi: int | None = None, unit: str = "") -> int:
    """``value`` if it is an int in ``[lo, hi]`` (``hi`` None: no upper limit).

    Raises:
        ValidationError: naming ``field``, the limits and the value.
    """
    if not is_int_within(value, lo, hi):
        raise ValidationError(f"{field} must be {describe_range(lo, hi, unit)}, got {value!r}")
    return int(value)


def check_optional_int(
    field: str, value: Any, lo: int, hi: int | None = None, unit: str = ""
) -> int | None:
    """``check_int``, letting None through."""
    return None if value is None else check_int(field, value, lo, hi, unit)


def check_duration(field: str, value: Any, lo: int = 0) -> int:
    """A delay, timeout or ttl: an int of ms in ``[lo, MAX_DURATION_MS]``."""
    return check_int(field, value, lo, defaults.MAX_DURATION_MS, DURATION_UNIT)


def check_optional_duration(field: str, value: Any, lo: int = 0) -> int | None:
    """``check_duration``, letting None through."""
    return None if value is None else check_duration(field, value, lo)


def check_priority(field: str, value: Any) -> int:
    """A priority: an int in ``[MIN_PRIORITY, MAX_PRIORITY]`` (Redis keeps scores as doubles)."""
    return check_int(field, value, defaults.MIN_PRIORITY, defaults.MAX_PRIORITY)
