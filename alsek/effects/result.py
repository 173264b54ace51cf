"""Result storage: write-once results under the message uuid, with descendants.

A result is stored as ``{"result": value, "timestamp": ms, "uuid": uuid}``
(plus ``"order"``, the write time in ns, which orders results written in the
same millisecond and is not returned)
at ``results:{uuid}``; a message with a progenitor also leaves a marker at
``descendants:{progenitor}:{uuid}`` so that ``get(..., descendants=True)``
can follow the chain (callbacks, triggered runs) without knowing it ahead.
Results are written with ``nx``: a duplicate run can never overwrite the
result another run already recorded.
"""

from __future__ import annotations

import time
from typing import Any

from alsek.effects.backends.base import Backend
from alsek.effects.clock import Clock, system_clock
from alsek.effects.failures import failed_error, read_failure
from alsek.exceptions import NotFoundError, ResultTimeoutError
from alsek.pure.keys import (
    descendant_marker_name,
    descendants_pattern,
    result_name,
    uuid_from_descendant_marker,
)
from alsek.pure.message import Message

#: While waiting for a result, how often to look for a recorded failure (ms);
#: recording one also wakes the wait where the backend can signal it.
FAILURE_CHECK_MS = 250


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as users see it: result, timestamp and uuid."""
    return {key: value for key, value in record.items() if key != "order"}


class ResultStore:
    """Stores and fetches task results.

    Args:
        backend: where results live (may differ from the broker's backend).
    """

    def __init__(self, backend: Backend, clock: Clock = system_clock) -> None:
        self.backend = backend
        self.clock = clock

    def __repr__(self) -> str:
        return f"ResultStore({self.backend!r})"

    @staticmethod
    def get_storage_name(message: Message) -> str:
        """Where the result of ``message`` is stored."""
        return result_name(message.uuid)

    def record(
        self, message: Message, result: Any
    ) -> tuple[str, dict[str, Any], list[tuple[str, Any]]]:
        """Where and what ``set`` writes: (name, value, extra names and values)."""
        now = self.clock.now()
        value = {"result": result, "timestamp": now, "uuid": message.uuid, "order": time.time_ns()}
        extra: list[tuple[str, Any]] = []
        if message.progenitor:
            extra.append((descendant_marker_name(message.progenitor, message.uuid), now))
        return self.get_storage_name(message), value, extra

    def set(self, message: Message, result: Any, nx: bool = True) -> bool:
        """Store ``result`` for ``message`` (ttl ``message.result_ttl``).

        Returns False when a result already exists (``nx``): results are
        write-once. Raises ``SerializationError`` (writing nothing) if the
        backend's serializer cannot encode ``result``.
        """
        name, value, extra = self.record(message, result)
        return self.backend.set_and_notify(name, value, nx=nx, ttl=message.result_ttl, extra=extra)

    def exists(self, message: Message, descendants: bool = False) -> bool:
        """Whether a result is stored for ``message`` (or, optionally, a descendant)."""
        if self.backend.exists(self.get_storage_name(message)):
            return True
        return descendants and any(True for _ in self._descendant_uuids(message.uuid))

    def _descendant_uuids(self, uuid: str) -> list[str]:
        found: list[str] = []
        frontier = [uuid]
        seen = {uuid}
        while frontier:
            parent = frontier.pop()
            for marker in self.backend.scan(descendants_pattern(parent)):
                child = uuid_from_descendant_marker(marker)
                if child not in seen:
                    seen.add(child)
                    found.append(child)
                    frontier.append(child)
        return found

    def _collect(self, message: Message) -> list[dict[str, Any]]:
        uuids = [message.uuid, *self._descendant_uuids(message.uuid)]
        records = []
        for uuid in uuids:
            record = self.backend.get_or_none(result_name(uuid))
            if isinstance(record, dict) and "result" in record:
                records.append(record)
        records.sort(key=lambda r: (r.get("timestamp", 0), r.get("order", 0), r.get("uuid", "")))
        return [_public(record) for record in records]

    def get(
        self,
        message: Message,
        timeout: int = 0,
        keep: bool = False,
        with_metadata: bool = False,
        descendants: bool = False,
        with_timestamp: bool | None = None,
    ) -> Any:
        """Fetch the result of ``message``.

        Args:
            message: the message whose result to fetch.
            timeout: milliseconds to wait for it (0: answer at once).
            keep: leave the result in the backend (False deletes it once read).
            with_metadata: return ``{"result", "timestamp", "uuid"}`` dicts.
            descendants: return a list with the results of ``message`` and of
                every message descending from it, ordered by the time they
                were written.
            with_timestamp: alias of ``with_metadata``.

        Raises:
            TaskFailedError: (without ``descendants``) the task ended for good
                without a result (failed, timed out, crashed or was
                cancelled, with no retry to come); it carries the error's
                type, message and traceback and the number of attempts.
            ResultTimeoutError: nothing arrived within ``timeout``.
            NotFoundError: ``timeout`` is 0 and there is no result.
        """
        if with_timestamp is not None:
            with_metadata = with_timestamp
        if descendants:
            records = self._collect(message)
            if not records and timeout > 0:
                self._wait_any(message, timeout)
                records = self._collect(message)
            if not records:
                self._missing(message, timeout)
            if not keep:
                self.delete(message, descendants=True, missing_ok=True)
            return records if with_metadata else [r["result"] for r in records]
        record = self._wait_for_result(message, timeout, delete=not keep)
        return _public(record) if with_metadata else record["result"]

    def _wait_for_result(self, message: Message, timeout: int, delete: bool) -> Any:
        """The stored record of ``message``'s result, waiting up to ``timeout`` ms; a
        final failure recorded meanwhile ends the wait with ``TaskFailedError``."""
        name = self.get_storage_name(message)
        deadline = time.monotonic() + timeout / 1000
        while True:
            remaining = max(int((deadline - time.monotonic()) * 1000), 0)
            record = self.backend.wait_for_value(
                name, min(remaining, FAILURE_CHECK_MS), delete=delete
            )
            if record is not None:
                return record
            failure = read_failure(self.backend, message.uuid)
            if failure is not None and failure.final:
                raise failed_error(failure)
            if time.monotonic() >= deadline:
                self._missing(message, timeout)

    def _wait_any(self, message: Message, timeout: int) -> None:
        deadline = self.clock.now() + timeout
        name = self.get_storage_name(message)
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0 or self._collect(message):
                return
            self.backend.wait_for_value(name, min(remaining, 50))

    @staticmethod
    def _missing(message: Message, timeout: int) -> None:
        if timeout > 0:
            raise ResultTimeoutError(f"no result for {message.summary} within {timeout} ms")
        raise NotFoundError(f"no result stored for {message.summary}")

    def delete(self, message: Message, descendants: bool = False, missing_ok: bool = False) -> int:
        """Delete the result of ``message`` (and its descendants'); returns how many."""
        uuids = [message.uuid]
        if descendants:
            uuids += self._descendant_uuids(message.uuid)
        deleted = 0
        for uuid in uuids:
            if self.backend.exists(result_name(uuid)):
                self.backend.delete(result_name(uuid), missing_ok=True)
                deleted += 1
        if descendants:
            for uuid in uuids:
                for marker in list(self.backend.scan(descendants_pattern(uuid))):
                    self.backend.delete(marker, missing_ok=True)
        if not deleted and not missing_ok:
            raise NotFoundError(f"no result stored for {message.summary}")
        return deleted
