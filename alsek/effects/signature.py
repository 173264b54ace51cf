"""What a task function's signature tells: whether it takes the message, whether it is async."""

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


def _is_async(function: Callable[..., Any]) -> bool:
    """Whether calling ``function`` returns a coroutine or an async generator
    (directly, through ``functools.partial``, or via an async ``__call__``)."""
    call = type(function).__call__ if not inspect.isroutine(function) else None
    return any(
        inspect.iscoroutinefunction(c) or inspect.isasyncgenfunction(c)
        for c in (function, call)
        if c is not None
    )


def check_sync(function: Callable[..., Any], name: str) -> None:
    """Refuse ``async def`` functions: a worker would only create the coroutine,
    never run it, and ack a task whose body never ran."""
    if _is_async(function):
        raise ValidationError(
            f"task {name!r} is an async function: async tasks are not supported yet. "
            f"Wrap it in a sync function that calls asyncio.run({name}(...))"
        )
