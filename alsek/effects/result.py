"""Result storage: write-once results under the message uuid, with descendants.

A result is stored as ``{"result": value, "timestamp": ms, "uuid": uuid}``
(plus ``"order"``, the write time in ns, which orders results written in the
same millisecond and is not returned) at ``results:{uuid}``. Results are
written with ``nx``: a duplicate run can never overwrite the result another
run already recorded.

A message with a progenitor (a callback, a triggered run) is linked to it
before its result is written (``Backend.add_descendant``), so that
``get(..., descendants=True)`` can follow the chain without knowing it
ahead and without scanning the keyspace on Redis (one set per progenitor).
A link whose result never arrives (the run was lost) is simply skipped.

Every result has a time to live: the message's ``result_ttl`` (set by
``generate`` or the task's ``result_ttl`` option), else the store's ``ttl``,
else none (kept until read or deleted).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from alsek.effects.backends.base import Backend, ResultWrite
from alsek.effects.clock import Clock, system_clock
from alsek.effects.failures import failed_error, read_failure
from alsek.exceptions import NotFoundError, ResultTimeoutError, ValidationError
from alsek.pure.durations import Duration, to_ms
from alsek.pure.keys import result_name
from alsek.pure.message import Message
from alsek.pure.validate import check_duration

#: A message, or the uuid of one: what the read methods accept.
MessageOrUuid = Message | str

#: While waiting for a result, how often to look for a recorded failure (ms);
#: recording one also wakes the wait where the backend can signal it.
FAILURE_CHECK_MS = 250
#: ``get_async``'s first pause between looks (ms), and its longest.
ASYNC_POLL_FIRST_MS = 5
ASYNC_POLL_MAX_MS = 50


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as users see it: result, timestamp and uuid."""
    return {key: value for key, value in record.items() if key != "order"}


def _uuid_of(target: MessageOrUuid) -> str:
    if isinstance(target, Message):
        return target.uuid
    if isinstance(target, str) and target:
        return target
    raise ValidationError(f"expected a Message or a message uuid (str), got {target!r}")


def _describe(target: MessageOrUuid) -> str:
    return target.summary if isinstance(target, Message) else f"message {target!r}"


class ResultStore:
    """Stores and fetches task results.

    Args:
        backend: where results live (may differ from the broker's backend).
        ttl: how long (ms or a ``timedelta``) a result is kept when neither its
            message nor its task sets ``result_ttl``; None keeps it until read.
    """

    def __init__(
        self, backend: Backend, ttl: Duration | None = None, clock: Clock = system_clock
    ) -> None:
        if not isinstance(backend, Backend):
            raise ValidationError(f"ResultStore needs a Backend, got {backend!r}")
        ttl = to_ms("ResultStore ttl", ttl)
        self.ttl = None if ttl is None else check_duration("ResultStore ttl", ttl, 1)
        self.backend = backend
        self.clock = clock

    def __repr__(self) -> str:
        return f"ResultStore({self.backend!r}, ttl={self.ttl!r})"

    @staticmethod
    def get_storage_name(message: MessageOrUuid) -> str:
        """Where the result of ``message`` (or of the message with that uuid) is stored."""
        return result_name(_uuid_of(message))

    def ttl_for(self, message: Message) -> int | None:
        """How long the result of ``message`` is kept (ms; None: until read)."""
        return self.ttl if message.result_ttl is None else message.result_ttl

    # -- writing -----------------------------------------------------------------

    def write_for(self, message: Message, result: Any) -> ResultWrite:
        """What ``set`` writes for ``message`` (also written inside a broker's settle)."""
        value = {
            "result": result,
            "timestamp": self.clock.now(),
            "uuid": message.uuid,
            "order": time.time_ns(),
        }
        return ResultWrite(self.get_storage_name(message), value, self.ttl_for(message))

    def link(self, message: Message) -> None:
        """Record ``message`` as a descendant of its progenitor (if any), before its
        result is written: idempotent, and harmless if the result never comes."""
        if message.progenitor:
            self.backend.add_descendant(message.progenitor, message.uuid, self.ttl_for(message))

    def set(self, message: Message, result: Any, nx: bool = True) -> bool:
        """Store ``result`` for ``message`` (kept ``ttl_for(message)`` ms).

        Returns False when a result already exists (``nx``): results are
        write-once. Raises ``SerializationError`` (writing nothing) if the
        backend's serializer cannot encode ``result``.
        """
        write = self.write_for(message, result)
        self.backend.encode(write.name, write.value)  # fail before linking
        self.link(message)
        return self.backend.set_and_notify(write.name, write.value, nx=nx, ttl=write.ttl)

    # -- reading -----------------------------------------------------------------

    def exists(self, message: MessageOrUuid, descendants: bool = False) -> bool:
        """Whether a result is stored for ``message`` (a Message or its uuid), or,
        with ``descendants``, for any message descending from it."""
        uuid = _uuid_of(message)
        if self.backend.exists(result_name(uuid)):
            return True
        return descendants and any(
            self.backend.exists(result_name(child)) for child in self._descendant_uuids(uuid)
        )

    def _descendant_uuids(self, uuid: str) -> list[str]:
        found: list[str] = []
        frontier = [uuid]
        seen = {uuid}
        while frontier:
            for child in self.backend.descendants(frontier.pop()):
                if child not in seen:
                    seen.add(child)
                    found.append(child)
                    frontier.append(child)
        return found

    def _collect(self, uuid: str) -> list[dict[str, Any]]:
        records = []
        for each in [uuid, *self._descendant_uuids(uuid)]:
            record = self.backend.get_or_none(result_name(each))
            if isinstance(record, dict) and "result" in record:
                records.append(record)
        records.sort(key=lambda r: (r.get("timestamp", 0), r.get("order", 0), r.get("uuid", "")))
        return [_public(record) for record in records]

    def get(
        self,
        message: MessageOrUuid,
        timeout: Duration = 0,
        keep: bool = False,
        with_metadata: bool = False,
        descendants: bool = False,
        with_timestamp: bool | None = None,
    ) -> Any:
        """Fetch the result of ``message``.

        Args:
            message: the message whose result to fetch, or its uuid (a str:
                a result can be read from any process that knows the id).
            timeout: how long to wait for it, in ms or as a ``timedelta``
                (0: answer at once).
            keep: leave the result in the backend. With ``keep=False`` (the
                default) a result is deleted as it is read: the read and the
                delete are one step, so of several readers exactly one gets
                it, and a second ``get`` raises ``NotFoundError`` (or waits).
                With ``descendants=True`` every result returned is deleted,
                with the links to them.
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
        timeout = to_ms("timeout", timeout)
        uuid = _uuid_of(message)
        if with_timestamp is not None:
            with_metadata = with_timestamp
        if descendants:
            records = self._collect(uuid)
            if not records and timeout > 0:
                self._wait_any(uuid, timeout)
                records = self._collect(uuid)
            if not records:
                self._missing(message, timeout)
            if not keep:
                self.delete(uuid, descendants=True, missing_ok=True)
            return records if with_metadata else [r["result"] for r in records]
        record = self._wait_for_result(message, uuid, timeout, delete=not keep)
        return _public(record) if with_metadata else record["result"]

    def _wait_for_result(
        self, message: MessageOrUuid, uuid: str, timeout: int, delete: bool
    ) -> Any:
        """The stored record of ``uuid``'s result, waiting up to ``timeout`` ms; a
        final failure recorded meanwhile ends the wait with ``TaskFailedError``."""
        name = result_name(uuid)
        deadline = time.monotonic() + timeout / 1000
        while True:
            remaining = max(int((deadline - time.monotonic()) * 1000), 0)
            record = self.backend.wait_for_value(
                name, min(remaining, FAILURE_CHECK_MS), delete=delete
            )
            if record is not None:
                return record
            failure = read_failure(self.backend, uuid)
            if failure is not None and failure.final:
                raise failed_error(failure)
            if time.monotonic() >= deadline:
                self._missing(message, timeout)

    def _wait_any(self, uuid: str, timeout: int) -> None:
        deadline = self.clock.now() + timeout
        name = result_name(uuid)
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0 or self._collect(uuid):
                return
            self.backend.wait_for_value(name, min(remaining, 50))

    async def get_async(
        self,
        message: MessageOrUuid,
        timeout: Duration = 0,
        keep: bool = False,
        with_metadata: bool = False,
        descendants: bool = False,
        with_timestamp: bool | None = None,
    ) -> Any:
        """``get``, awaited, for asyncio apps: the same arguments, answers and errors,
        without blocking the event loop.

        Each look is ``get(timeout=0)`` in a worker thread (``asyncio.to_thread``,
        one short round trip); between looks it sleeps on the event loop, first
        for ``ASYNC_POLL_FIRST_MS``, doubling up to ``ASYNC_POLL_MAX_MS``. So no
        thread is held while waiting, and a result is seen at most
        ``ASYNC_POLL_MAX_MS`` after it is written.
        """
        timeout_ms = to_ms("timeout", timeout)
        _uuid_of(message)  # a bad argument fails at once
        deadline = time.monotonic() + timeout_ms / 1000
        pause = ASYNC_POLL_FIRST_MS / 1000
        while True:
            try:
                return await asyncio.to_thread(
                    self.get, message, 0, keep, with_metadata, descendants, with_timestamp
                )
            except NotFoundError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._missing(message, timeout_ms)
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, ASYNC_POLL_MAX_MS / 1000)

    @staticmethod
    def _missing(message: MessageOrUuid, timeout: int) -> None:
        if timeout > 0:
            raise ResultTimeoutError(f"no result for {_describe(message)} within {timeout} ms")
        raise NotFoundError(f"no result stored for {_describe(message)}")

    # -- deleting ----------------------------------------------------------------

    def delete(
        self, message: MessageOrUuid, descendants: bool = False, missing_ok: bool = False
    ) -> int:
        """Delete the result of ``message`` (a Message or its uuid) and, with
        ``descendants``, those of its descendants and the links to them.
        Returns how many results were deleted."""
        uuid = _uuid_of(message)
        uuids = [uuid]
        if descendants:
            uuids += self._descendant_uuids(uuid)
        deleted = 0
        for each in uuids:
            if self.backend.exists(result_name(each)):
                self.backend.delete(result_name(each), missing_ok=True)
                deleted += 1
        if descendants:
            for each in uuids:
                self.backend.forget_descendants(each)
        if not deleted and not missing_ok:
            raise NotFoundError(f"no result stored for {_describe(message)}")
        return deleted
