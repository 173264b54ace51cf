"""Exceptions as data: what a failed task reports."""

from __future__ import annotations

import traceback

from alsek.pure.outcome import ErrorInfo


def error_info(error: BaseException) -> ErrorInfo:
    """A serializable description of ``error``."""
    return ErrorInfo(
        type_name=type(error).__qualname__,
        message=str(error),
        traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )
