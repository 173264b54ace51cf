"""Deferred connections: build the client on first use, not at construction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyClient:
    """Wraps a zero-argument factory; ``get()`` calls it once and caches the client.

    Useful where the database may not be up when the application starts
    (e.g. a web app importing its task module at boot).
    """

    def __init__(self, client_func: Callable[[], Any]) -> None:
        if not callable(client_func):
            raise TypeError(f"LazyClient needs a callable, got {client_func!r}")
        self.client_func = client_func
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def evaluated(self) -> bool:
        """Whether the factory has been called."""
        return self._client is not None

    def get(self) -> Any:
        """The client, created on the first call."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self.client_func()
        return self._client
