"""Watching a worker pool's threads: none may die, the long-lived ones must keep running."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("tests.faults")

#: Threads a running pool always has.
LONG_LIVED = ("alsek-pool", "alsek-monitor")


class ThreadWatch:
    """Records every thread that dies of an uncaught exception while it is installed."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._before: set[threading.Thread] = set()
        self._previous: Any = None

    def install(self) -> None:
        """Start watching (call before the pool starts its threads)."""
        self._before = set(threading.enumerate())
        self._previous = threading.excepthook
        threading.excepthook = self._died

    def _died(self, args: Any) -> None:
        thread = args.thread.name if args.thread is not None else "?"
        self.errors.append(f"{thread}: {args.exc_type.__name__}: {args.exc_value}")
        error = (args.exc_type, args.exc_value, args.exc_traceback)
        log.error("thread %s died", thread, exc_info=error)

    def dead(self) -> list[str]:
        """Threads that died, and long-lived pool threads started since ``install`` that are
        not running."""
        found = list(self.errors)
        mine = [t for t in threading.enumerate() if t not in self._before]
        for name in LONG_LIVED:
            if not any(t.name == name and t.is_alive() for t in mine):
                found.append(f"{name} is not running")
        return found

    def uninstall(self) -> None:
        if self._previous is not None:
            threading.excepthook = self._previous
            self._previous = None
