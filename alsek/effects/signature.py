"""What a task function's signature tells: whether it takes the message, whether it is a
coroutine function."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from alsek.exceptions import ValidationError


def wants_message(function: Callable[..., Any]) -> bool:
    try:
        parameter = inspect.signature(function).parameters.get("message")
    except (TypeError, ValueError):
        return False
    if parameter is None:
        return False
    return _names_message(parameter.annotation)


def _names_message(annotation: Any) -> bool:
    """Whether a ``message`` annotation resolves to ``Message`` (``Optional`` allowed)."""
    if annotation is inspect.Parameter.empty:
        return True
    if isinstance(annotation, str):
        return (
            re.fullmatch(r"\s*(Optional\[)?\s*([\w.]*\.)?Message\s*(\]|\|\s*None)?\s*", annotation)
            is not None
        )
    if getattr(annotation, "__name__", None) == "Message":
        return True
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return len(args) == 1 and _names_message(args[0])


def _calls(function: Callable[..., Any]) -> list[Any]:
    """What calling ``function`` runs: itself, an async ``__call__``, a partial's function."""
    found: list[Any] = [function]
    if not inspect.isroutine(function):
        found.append(type(function).__call__)
    inner = getattr(function, "func", None)  # functools.partial
    if inner is not None:
        found.extend(_calls(inner))
    return found


def is_coroutine_function(function: Callable[..., Any]) -> bool:
    """Whether calling ``function`` returns a coroutine (directly, through
    ``functools.partial``, or via an async ``__call__``)."""
    return any(inspect.iscoroutinefunction(c) for c in _calls(function))


def check_not_async_generator(function: Callable[..., Any], name: str) -> None:
    """Refuse async generator functions: a task returns one result, and a worker
    could only create the generator, never run it."""
    if any(inspect.isasyncgenfunction(c) for c in _calls(function)):
        raise ValidationError(
            f"task {name!r} is an async generator function: a task returns one result. "
            f"Make it an async def that returns a list, or submit one task per item"
        )
