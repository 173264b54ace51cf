"""The one cattrs converter: records to plain data and back.

Only this module imports cattrs. Serializers (JSON or custom) live in the
effects layer and see nothing but the plain dicts produced here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import cattrs
from cattrs.v import format_exception

from alsek.exceptions import ValidationError
from alsek.pure.activity import MinuteRow, row_from_list, row_to_list
from alsek.pure.message import FIELDS, Message

T = TypeVar("T")
M = TypeVar("M", bound=Message)

converter = cattrs.Converter(forbid_extra_keys=False)


def _exactly(kind: type) -> Callable[[Any, Any], Any]:
    """A structure hook accepting only values already of ``kind`` (no coercion).

    cattrs' defaults call ``int(x)``, ``str(x)`` and ``bool(x)``: stored data
    with ``retries=1.5`` or ``queue=None`` would silently become 1 and 'None'.
    """

    def hook(value: Any, _: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _any_tuple(value: Any, _: Any) -> tuple[Any, ...]:
    """``tuple[Any, ...]`` from a list or tuple only (a string is not a sequence of args)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list or tuple, got {type(value).__name__}")
    return tuple(value)


for _kind in (str, int, bool):
    converter.register_structure_hook(_kind, _exactly(_kind))
converter.register_structure_hook_func(lambda kind: kind == tuple[Any, ...], _any_tuple)
# A worker record holds up to an hour of minute rows per task: stored as short lists.
converter.register_unstructure_hook(MinuteRow, row_to_list)
converter.register_structure_hook(MinuteRow, lambda value, _: row_from_list(value))


def _format(error: BaseException, kind: Any) -> str:
    # Our validators' errors already say which field and why: keep their text.
    if isinstance(error, ValidationError):
        return str(error)
    return format_exception(error, kind)


def _describe(error: BaseException, what: str) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        details = "; ".join(cattrs.transform_error(error, path=what, format_exception=_format))
        return details or str(error)
    return f"{what}: {error}"


def structure(data: Any, cls: type[T], what: str | None = None) -> T:
    """Build a ``cls`` record from plain data, with a clear error naming the field."""
    label = what or cls.__name__
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise ValidationError(f"invalid {label}: {_describe(error, label)}") from error


def unstructure(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) for a record."""
    return converter.unstructure(obj)


def message_to_data(message: Message) -> dict[str, Any]:
    """The persisted form of a message (same as ``message.data``)."""
    return message.data


def message_from_data(data: Any, cls: type[M] = Message) -> M:  # type: ignore[assignment]
    """Rebuild a message of class ``cls`` from its persisted form.

    Raises ``ValidationError`` naming the offending field for anything that
    is not a well-formed message (wrong types, missing fields, bad values).
    """
    if not isinstance(data, dict):
        raise ValidationError(f"invalid Message: expected a dict, got {type(data).__name__}")
    missing = [name for name in ("task_name", "uuid", "created_at") if name not in data]
    if missing:
        raise ValidationError(f"invalid Message: missing field(s) {', '.join(missing)}")
    known = {name: data[name] for name in FIELDS if name in data}
    for name in ("kwargs", "callback_message_data", "backoff_settings"):
        if isinstance(known.get(name), dict):
            known[name] = dict(known[name])  # never share a dict with the caller's data
    # The record's validators check every field's type and value, so the
    # record is built directly (cattrs would check the same things twice).
    try:
        return cls(**known)
    except ValidationError as error:
        raise ValidationError(f"invalid Message: {error}") from error
    except (TypeError, ValueError) as error:
        raise ValidationError(f"invalid Message: {error}") from error
