"""Field validators shared by the workload records.

Each validator raises ``FieldError`` naming the field and the problem, so a
record built by hand says ``"Exponential.mean_ms: must be > 0, got -3"`` and
the file loader can re-home the same problem at its path in the file
(``"tasks[1].duration.mean_ms: must be > 0, got -3"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from alsek.exceptions import ValidationError

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


class FieldError(ValidationError):
    """A record field failed validation: ``field`` is a dotted path inside the record."""

    def __init__(self, owner: str, field: str, problem: str) -> None:
        self.owner = owner
        self.field = field
        self.problem = problem
        super().__init__(f"{owner}.{field}: {problem}" if owner else f"{field}: {problem}")


def fail(instance: Any, field: str, problem: str) -> FieldError:
    """A ``FieldError`` for ``field`` of ``instance`` (to raise)."""
    return FieldError(type(instance).__name__, field, problem)


def is_number(value: Any) -> bool:
    """An int or float, but not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """An int, but not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def number(minimum: float = 0.0, *, strict: bool = False, integer: bool = False) -> Validator:
    """A number ``>= minimum`` (``> minimum`` when ``strict``), an int if ``integer``."""
    what = "an int" if integer else "a number"
    bound = f"{'>' if strict else '>='} {minimum:g}"

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok_type = is_int(value) if integer else is_number(value)
        if not ok_type or value < minimum or (strict and value == minimum):
            raise fail(instance, attribute.name, f"must be {what} {bound}, got {value!r}")

    return check


def optional(check: Validator) -> Validator:
    """``check`` unless the value is None."""

    def optional_check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional_check


def probability(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A number in [0, 1]."""
    if not is_number(value) or not 0 <= value <= 1:
        raise fail(instance, attribute.name, f"must be a probability in [0, 1], got {value!r}")


def one_of(choices: Iterable[str], what: str) -> Validator:
    """One of ``choices``."""
    allowed = tuple(choices)

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            expected = ", ".join(repr(c) for c in allowed)
            raise fail(
                instance, attribute.name, f"unknown {what} {value!r} (expected one of {expected})"
            )

    return check


def numbers(minimum: float = 0.0, *, integer: bool = False, nonempty: bool = True) -> Validator:
    """A sequence of numbers ``>= minimum``, naming the first bad item."""
    what = "an int" if integer else "a number"

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if nonempty and not value:
            raise fail(instance, attribute.name, "must be a non-empty list")
        for index, item in enumerate(value):
            ok_type = is_int(item) if integer else is_number(item)
            if not ok_type or item < minimum:
                raise fail(
                    instance,
                    f"{attribute.name}[{index}]",
                    f"must be {what} >= {minimum:g}, got {item!r}",
                )

    return check


def to_tuple(value: Any) -> Any:
    """Lists become tuples (records are frozen); anything else is left for validation."""
    return tuple(value) if isinstance(value, list) else value


def sequence(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A tuple (lists are converted before validation)."""
    if not isinstance(value, tuple):
        raise fail(instance, attribute.name, f"must be a list, got {type(value).__name__}")
