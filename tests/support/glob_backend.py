"""A custom backend whose ``scan`` is a plain glob, as the original Alsek's was.

``fnmatch.fnmatchcase`` over full names, with no implicit prefix: ``queues:a``
matches only the name ``queues:a`` itself. Alsek's generic queue path must
work on it, which holds only if every caller passes explicit globs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from tests.support.memory_backend import CustomBackend


class GlobBackend(CustomBackend):
    """The tour's CustomBackend with the strictest scan the contract allows."""

    def scan(self, pattern: str | None = None) -> Iterable[str]:
        match = self.full_name("*" if pattern is None else pattern)
        with self.conn.lock:
            keys = [k for k in list(self.conn.data) if self._live(k) is not None]
        return [self.short_name(k) for k in keys if fnmatch.fnmatchcase(k, match)]
