"""How SQLite and DiskCache errors become Alsek errors.

A locked or busy database, a disk I/O error, a full disk and DiskCache's
lock ``Timeout`` mean the store cannot serve for now: they become
``BackendUnavailableError`` (chained), which everything that retries
outages retries. Other SQLite errors are bugs and propagate as they are.
Every public method of the DiskCache backend goes through this.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import diskcache

from alsek.exceptions import BackendUnavailableError
from alsek.pure.faults import classify_sqlite_message

F = TypeVar("F", bound=Callable[..., Any])
B = TypeVar("B", bound=type)


class Located(Protocol):
    """Anything that can say where it stores data and how long it waits for a lock."""

    def describe(self) -> str: ...

    def _timeout(self) -> float | None: ...


def translated(method: F) -> F:
    """Turn "database is locked", disk I/O errors, a full disk and lock
    timeouts into ``BackendUnavailableError`` (chained); other SQLite errors
    are bugs and propagate."""

    @functools.wraps(method)
    def wrapper(self: Located, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except diskcache.Timeout as error:
            raise BackendUnavailableError(
                f"DiskCache at {self.describe()} is unavailable: database is locked "
                f"(no write lock within the cache's timeout of {self._timeout()} s)"
            ) from error
        except sqlite3.OperationalError as error:
            if classify_sqlite_message(str(error)) != "unavailable":
                raise
            raise BackendUnavailableError(
                f"DiskCache at {self.describe()} is unavailable: {error}"
            ) from error

    wrapper.translated = True  # type: ignore[attr-defined]
    return cast(F, wrapper)


def translate_public_methods(cls: B) -> B:
    """Route every public method of ``cls`` (inherited ones too) through ``translated``."""
    for name in dir(cls):
        value = inspect.getattr_static(cls, name)
        if not name.startswith("_") and inspect.isfunction(value):
            setattr(cls, name, translated(value))
    return cls
