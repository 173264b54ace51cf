"""Durations at the edge: a ``datetime.timedelta`` wherever milliseconds are taken.

Every duration inside Alsek is an int of milliseconds (messages, backoff
records, backends). Public entry points accept a ``timedelta`` too and turn
it into milliseconds here, before any bound is checked, so the checks and
their errors stay those of ``alsek.pure.validate``: a negative or too long
``timedelta`` is refused exactly as the same number of milliseconds would be.

A ``timedelta`` must be a whole number of milliseconds: rounding a
sub-millisecond part away would change what the caller asked for without
telling them, so it is refused with the field's name instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, overload

from alsek.exceptions import ValidationError

#: What a public duration parameter accepts: milliseconds or a ``timedelta``.
Duration = int | timedelta

_US_PER_MS = 1000
_US_PER_DAY = 86_400 * 1_000_000


def timedelta_to_ms(field: str, value: timedelta) -> int:
    """``value`` in whole milliseconds.

    Raises:
        ValidationError: ``value`` has a sub-millisecond part (naming ``field``).
    """
    # Exact integer arithmetic: ``total_seconds()`` is a float and loses
    # microseconds past ~285 years.
    micros = value.days * _US_PER_DAY + value.seconds * 1_000_000 + value.microseconds
    ms, rest = divmod(micros, _US_PER_MS)
    if rest:
        raise ValidationError(
            f"{field} must be a whole number of milliseconds, got {value!r} ({micros} microseconds)"
        )
    return ms


@overload
def to_ms(field: str, value: Duration) -> int: ...


@overload
def to_ms(field: str, value: Duration | None) -> int | None: ...


def to_ms(field: str, value: Any) -> Any:
    """``value`` in milliseconds if it is a ``timedelta``; anything else unchanged.

    Anything else is left for the field's own check (an int passes, a str or a
    float is refused there, with the usual message).
    """
    if isinstance(value, timedelta):
        return timedelta_to_ms(field, value)
    return value
