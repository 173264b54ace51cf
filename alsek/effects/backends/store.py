"""``Store``: the five primitives a backend implements, and what is built on them.

A store keeps serialized values under names inside a namespace. A custom
backend implements ``exists``, ``set``, ``get``, ``delete`` and ``scan``
(the tour's "Custom Backends"); the derived helpers, waiting, locks'
compare-and-set and result descendants here work on any store, and Redis
and DiskCache override them with native, atomic versions.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from alsek import defaults
from alsek.effects.serialization import JsonSerializer, Serializer
from alsek.exceptions import DeserializationError, SerializationError
from alsek.pure.keys import (
    check_namespace,
    descendant_marker_name,
    descendants_pattern,
    uuid_from_descendant_marker,
)

_MISSING: Any = object()
_wakers: dict[str, threading.Event] = {}
_wakers_lock = threading.Lock()


class Store(ABC):
    """The storage contract: five primitives and what is derived from them.

    A custom backend implements ``exists``, ``set``, ``get``, ``delete`` and
    ``scan``; ``scan(pattern)`` matches ``pattern`` as a plain glob over full
    names (see ``scan``). Everything else has a generic version built on those five.

    Args:
        namespace: prefix of every name this backend writes.
        serializer: encodes values; ``JsonSerializer()`` by default.
    """

    def __init__(
        self,
        namespace: str = defaults.DEFAULT_NAMESPACE,
        serializer: Serializer | None = None,
    ) -> None:
        self.namespace = check_namespace(namespace)
        self.serializer = serializer if serializer is not None else JsonSerializer()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r})"

    def identity(self) -> tuple[Any, ...]:
        """What makes two backend objects the same store (used to compare brokers)."""
        return (type(self).__name__, id(self), self.namespace)

    def check(self) -> None:  # noqa: B027 - optional hook, a no-op here
        """Make sure the store can be used, before a worker pool starts.

        Raises ``BackendAuthError`` when it refuses the credentials (no retry
        will help) and ``BackendUnavailableError`` when it cannot serve now.
        A no-op here; Redis PINGs, DiskCache opens its database.
        """

    def server_warnings(self) -> list[str]:
        """Settings of the store that weaken the delivery guarantees (none known here)."""
        return []

    # -- naming and encoding --------------------------------------------------

    def full_name(self, name: str) -> str:
        """``name`` inside this backend's namespace."""
        return f"{self.namespace}:{name}"

    def short_name(self, full: str | bytes) -> str:
        """Strip the namespace from a stored key."""
        text = full.decode() if isinstance(full, bytes) else full
        prefix = f"{self.namespace}:"
        return text[len(prefix) :] if text.startswith(prefix) else text

    def encode(self, name: str | None, value: Any) -> str | bytes:
        """Serialize ``value`` for ``name`` or raise ``SerializationError`` (nothing written)."""
        try:
            return self.serializer.forward(value)
        except (TypeError, ValueError, OverflowError, RecursionError) as error:
            raise SerializationError(name, value, error) from error

    def decode(self, name: str | None, raw: str | bytes) -> Any:
        """Deserialize what is stored at ``name`` or raise ``DeserializationError``."""
        try:
            return self.serializer.reverse(raw)
        except Exception as error:  # any decoder failure means corrupt data
            raise DeserializationError(name, error) from error

    def encode_message(self, name: str, data: Any) -> str | bytes:
        """Serialize a message's data (its full form) for the queue operations to store
        at ``name``. Stored as given here; Redis and DiskCache store the compact form
        (``alsek.pure.payload``) and read either form back through ``decode``."""
        return self.encode(name, data)

    # -- the five primitives ----------------------------------------------------

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether ``name`` holds a value."""

    @abstractmethod
    def set(self, name: str, value: Any, nx: bool = False, ttl: int | None = None) -> None:
        """Store ``value`` at ``name`` (for ``ttl`` ms). With ``nx``, raise
        ``KeyExistsError`` if ``name`` exists."""

    @abstractmethod
    def get(self, name: str) -> Any:
        """The value at ``name``."""

    @abstractmethod
    def delete(self, name: str, missing_ok: bool = False) -> None:
        """Remove ``name``; raise ``KeyError`` if absent unless ``missing_ok``."""

    @abstractmethod
    def scan(self, pattern: str | None = None) -> Iterable[str]:
        """Names in this namespace (without the namespace prefix) matching ``pattern``.

        The contract, as in the original Alsek: ``pattern`` is a glob (``*``,
        ``?``, ``[...]``) over the whole name, with no implicit prefix, and
        None means ``"*"``. Alsek's own callers always pass explicit globs
        (``queues:emails:*``, ``leases:*``, ``dlq:*``), so a backend that
        implements exactly this (say, ``fnmatch.fnmatchcase`` over full
        names) powers every generic operation. The built-in backends also
        accept a pattern without wildcards as a prefix (``queues:a`` matches
        ``queues:a`` and every ``queues:a:...``); nothing relies on it.
        """

    # -- derived helpers --------------------------------------------------------

    def count(self, pattern: str | None = None) -> int:
        """How many names match ``pattern`` (None: every name in the namespace)."""
        return sum(1 for _ in self.scan("*" if pattern is None else pattern))

    def clear_namespace(self) -> int:
        """Delete every name in the namespace; returns how many."""
        names = list(self.scan("*"))
        for name in names:
            self.delete(name, missing_ok=True)
        return len(names)

    def get_or_none(self, name: str) -> Any:
        """The value at ``name``, or None when it is absent."""
        try:
            return self.get(name)
        except KeyError:
            return None

    def set_if_absent(self, name: str, value: Any, ttl: int | None = None) -> bool:
        """``set(nx=True)`` that answers False instead of raising."""
        try:
            self.set(name, value, nx=True, ttl=ttl)
        except KeyError:  # KeyExistsError, or a custom backend's plain KeyError
            return False
        return True

    # -- waiting -----------------------------------------------------------------

    def _waker(self, wake_key: str) -> threading.Event:
        with _wakers_lock:
            event = _wakers.get(wake_key)
            if event is None:
                event = _wakers[wake_key] = threading.Event()
            return event

    def wait_for_work(
        self, queues: Sequence[str] | None, timeout_ms: int, wake_key: str | None = None
    ) -> None:
        """Block up to ``timeout_ms``, until work may have arrived in ``queues``, or
        until ``wake(wake_key)``.

        The generic version can only be woken by ``wake`` from this process;
        Redis blocks on signal lists, DiskCache on a named pipe.
        """
        if timeout_ms <= 0:
            return
        if wake_key is None:
            time.sleep(timeout_ms / 1000)
            return
        event = self._waker(wake_key)
        event.wait(timeout_ms / 1000)
        event.clear()

    def wake(self, wake_key: str) -> None:
        """Interrupt ``wait_for_work(..., wake_key=wake_key)``."""
        self._waker(wake_key).set()

    def wait_for_value(self, name: str, timeout_ms: int, delete: bool = False) -> Any:
        """The value at ``name``, waiting up to ``timeout_ms`` for it to appear
        (None if it does not); with ``delete``, remove it once read."""
        deadline = time.monotonic() + timeout_ms / 1000
        pause = 0.0005
        while True:
            value = self.get_or_none(name)
            if value is not None:
                if delete:
                    self.delete(name, missing_ok=True)
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)

    def notify_value(self, name: str) -> None:  # noqa: B027 - optional hook, a no-op here
        """Wake anyone in ``wait_for_value(name)`` (no-op where waiting polls)."""

    def set_and_notify(
        self,
        name: str,
        value: Any,
        nx: bool = False,
        ttl: int | None = None,
        extra: Sequence[tuple[str, Any]] = (),
    ) -> bool:
        """Set ``name`` (plus ``extra`` names, same ttl) and wake its waiters.

        Returns False, writing nothing, when ``nx`` and ``name`` exists.
        """
        if nx:
            if not self.set_if_absent(name, value, ttl=ttl):
                return False
        else:
            self.set(name, value, ttl=ttl)
        for extra_name, extra_value in extra:
            self.set(extra_name, extra_value, ttl=ttl)
        self.notify_value(name)
        return True

    def compare_and_delete(self, name: str, value: Any) -> bool:
        """Delete ``name`` if it holds ``value`` (not atomic in this generic form)."""
        if self.get_or_none(name) != value:
            return False
        self.delete(name, missing_ok=True)
        return True

    def compare_and_expire(self, name: str, value: Any, ttl: int) -> bool:
        """Reset the ttl of ``name`` if it holds ``value`` (not atomic here)."""
        if self.get_or_none(name) != value:
            return False
        self.set(name, value, ttl=ttl)
        return True

    # -- result descendants ---------------------------------------------------------

    def add_descendant(self, progenitor: str, uuid: str, ttl: int | None = None) -> None:
        """Record that the message ``uuid`` descends from ``progenitor`` (idempotent),
        for ``ttl`` ms (None: until forgotten).

        Generic form: one marker name per descendant, listed by a scan of
        ``descendants:{progenitor}:*`` (on DiskCache an index range over its
        keys). A backend whose scan walks the whole keyspace (Redis) keeps one
        set per progenitor instead; it must answer ``descendants`` with every
        uuid added and not yet expired or forgotten.
        """
        self.set(descendant_marker_name(progenitor, uuid), 1, ttl=ttl)

    def descendants(self, progenitor: str) -> list[str]:
        """The uuids recorded by ``add_descendant`` for ``progenitor`` (direct ones only)."""
        return [uuid_from_descendant_marker(m) for m in self.scan(descendants_pattern(progenitor))]

    def forget_descendants(self, progenitor: str) -> None:
        """Drop every descendant link of ``progenitor``."""
        for marker in list(self.scan(descendants_pattern(progenitor))):
            self.delete(marker, missing_ok=True)
