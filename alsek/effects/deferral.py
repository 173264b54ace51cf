"""Deferred mode: the next ``generate()`` builds a message without submitting it."""

from __future__ import annotations

import threading
from typing import TypeVar

D = TypeVar("D", bound="Deferrable")


class Deferrable:
    """Per-thread, stackable deferral of submissions (mixed into ``Task``)."""

    _deferred: threading.local

    def defer(self: D) -> D:
        """Make the next ``generate()`` (in this thread) build without submitting.

        Deferrals stack, so ``t.defer().generate(callback=t.defer().generate())``
        defers both calls: Python evaluates both ``defer()`` before either
        ``generate()``.
        """
        self._deferred.count = getattr(self._deferred, "count", 0) + 1
        return self

    def cancel_defer(self: D) -> D:
        """Undo one pending ``defer()``."""
        self._deferred.count = max(getattr(self._deferred, "count", 0) - 1, 0)
        return self

    @property
    def deferred(self) -> bool:
        """Whether the next ``generate()`` will skip submission."""
        return bool(getattr(self._deferred, "count", 0))

    def _take_deferral(self) -> bool:
        """Whether this ``generate()`` skips submission (consuming one ``defer()``)."""
        skip = self.deferred
        self.cancel_defer()
        return skip
