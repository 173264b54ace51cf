"""The storage interface: five primitives, plus queue operations built on them.

A backend stores serialized values under names inside a namespace. Any
subclass that implements ``exists``, ``set``, ``get``, ``delete`` and
``scan`` powers a Broker and a ResultStore through the generic queue
operations below (correct, but every claim scans the queue). Redis and
DiskCache override the queue operations with server-side, indexed versions
whose claim cost does not grow with the queue. The semantics of every queue
operation are those of ``alsek.pure.queue_model``; the integration state
machine holds each backend to that model.

Generic layout, besides the messages themselves::

    leases:{message name}:{n}    the n-th delivery's lease: {token, deadline, state}

The number of lease keys of a message is its delivery count; claiming
creates lease ``n + 1`` with ``nx``, so two consumers can never both win
the same delivery. Renew, ack and release here check the lease and then
act, in two steps: a custom backend gets exclusive claims, but only Redis
and DiskCache fence those later steps atomically.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from alsek import defaults
from alsek.effects.serialization import JsonSerializer, Serializer
from alsek.exceptions import (
    DeserializationError,
    SerializationError,
    ValidationError,
)
from alsek.pure.keys import (
    check_namespace,
    descendant_marker_name,
    descendants_pattern,
    parse_message_name,
    subnamespace_pattern,
    uuid_from_descendant_marker,
)
from alsek.pure.message import SLOT_KINDS, slot_kind_of
from alsek.pure.queue_model import Claim, DeliveryChange, IndexEntry, open_kinds

_MISSING: Any = object()
_wakers: dict[str, threading.Event] = {}
_wakers_lock = threading.Lock()
_GLOB = set("*?[")


@attrs.frozen
class CorruptPayload:
    """Stands in for a stored message that could not be decoded."""

    raw: Any
    error: str


@attrs.frozen
class Encoded:
    """A claimed payload left encoded (``claim(..., decode=False)``): the
    runner decodes it, off the dispatcher's path."""

    raw: Any


@attrs.frozen
class ClaimBatch:
    """What a claim returned: the claims, when to look again if short, and
    whether each ack that rode along was accepted."""

    claims: tuple[Claim, ...]
    next_wake: int | None
    acked: tuple[bool, ...] = ()


@attrs.frozen
class ResultWrite:
    """A result to write once (``nx``), with extra names written alongside (same ttl)."""

    name: str
    value: Any
    ttl: int | None
    extra: tuple[tuple[str, Any], ...] = ()


@attrs.frozen
class Submission:
    """A message to enqueue unless its name exists (a callback)."""

    entry: IndexEntry
    value: Any


def is_glob(pattern: str) -> bool:
    """Whether ``pattern`` contains glob wildcards."""
    return any(c in _GLOB for c in pattern)


def name_matches(name: str, pattern: str | None) -> bool:
    """The built-in backends' scan semantics: a glob matches as a glob; a plain
    prefix matches itself and every name below it (``queues:a`` matches
    ``queues:a:tasks:...``). See ``Backend.scan`` for the contract."""
    if pattern is None:
        return True
    if is_glob(pattern):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.startswith(pattern + ":")


class Backend(ABC):
    """Base class of every backend.

    A custom backend implements the five primitives ``exists``, ``set``,
    ``get``, ``delete`` and ``scan``; ``scan(pattern)`` matches ``pattern`` as
    a plain glob over full names (see ``scan``). Everything else has a
    generic version built on those five.

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

    # -- queue operations (generic: scans; overridden by indexed backends) ------

    def known_queues(self) -> list[str]:
        """Queues that hold, or held, messages (alphabetical)."""
        queues = set()
        for name in self.scan("queues:*"):
            try:
                queues.add(parse_message_name(name)[0])
            except ValidationError:
                continue
        return sorted(queues)

    def _lease_names(self) -> dict[str, list[tuple[int, str]]]:
        leases: dict[str, list[tuple[int, str]]] = {}
        for lease_name in self.scan("leases:*"):
            message_name, _, number = lease_name[len("leases:") :].rpartition(":")
            if number.isdigit():
                leases.setdefault(message_name, []).append((int(number), lease_name))
        for entries in leases.values():
            entries.sort()
        return leases

    def _current_lease(self, message_name: str) -> tuple[int, str, dict[str, Any] | None]:
        entries = self._lease_names().get(message_name, [])
        if not entries:
            return 0, "", None
        number, lease_name = entries[-1]
        return number, lease_name, self.get_or_none(lease_name)

    def _holds(self, name: str, token: str | None) -> bool:
        if not self.exists(name):
            return False
        if token is None:
            return True
        _, _, lease = self._current_lease(name)
        return lease is not None and lease.get("state") == "held" and lease.get("token") == token

    @staticmethod
    def _entry_of(queue: str, name: str, payload: Any) -> IndexEntry:
        if isinstance(payload, CorruptPayload):
            return IndexEntry(queue, name, "*", 0, 0, 0)
        try:
            ready_at = int(payload["updated_at"]) + int(payload["delay"])
            return IndexEntry(
                queue,
                name,
                slot_kind_of(str(payload.get("mechanism")), payload.get("is_async") is True),
                int(payload.get("priority", 0)),
                ready_at,
                int(payload["created_at"]),
            )
        except (TypeError, KeyError, ValueError, AttributeError):
            # An undecodable message is claimable at once, so that the
            # consumer can dead-letter it.
            return IndexEntry(queue, name, "*", 0, 0, 0)

    def enqueue(
        self, entry: IndexEntry, value: Any, now: int, nx: bool = True, virtual: bool = False
    ) -> bool:
        """Store a message and make it claimable at ``entry.ready_at``.

        With ``nx``, answer False (writing nothing) if the name exists.

        Times: ``now`` is the caller's clock. A backend with a clock of its own
        (Redis) reads ``entry.ready_at - now`` as a delay from its own now and
        takes every lease deadline from its own clock, so a client's clock
        skew cannot shorten a lease; with ``virtual`` (a test's manual clock)
        every backend takes the caller's times as given.
        """
        if nx:
            return self.set_if_absent(entry.name, value)
        self.set(entry.name, value)
        return True

    def claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        now: int,
        lease_ms: int,
        tokens: Sequence[str],
        acks: Sequence[tuple[str, str, str]] = (),
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """Ack ``acks`` (queue, name, token), then claim up to ``len(tokens)``
        ready messages, and with ``caps`` no more of a kind than its cap (see
        ``queue_model.claim``). With ``decode=False``, payloads may come back
        ``Encoded`` (this generic version decodes anyway: it needs them to
        order the queue)."""
        acked = tuple(self.ack(queue, name, token) for queue, name, token in acks)
        order = list(queues) if queues is not None else self.known_queues()
        claims: list[Claim] = []
        taken: dict[str, int] = {}
        for token in tokens:
            claim = None
            kinds = open_kinds(mechanisms, caps, taken)
            for queue in order if kinds else ():
                claim = self._claim_one(queue, kinds, now, lease_ms, token)
                if claim is not None:
                    break
            if claim is None:
                break
            taken[claim.mechanism] = taken.get(claim.mechanism, 0) + 1
            claims.append(claim)
        next_wake = None if len(claims) == len(tokens) else self._next_wake(order, now)
        return ClaimBatch(tuple(claims), next_wake, acked)

    def _waiting(self, queue: str, now: int) -> list[tuple[IndexEntry, Any, int, str, Any]]:
        leases = self._lease_names()
        found = []
        for name in self.scan(subnamespace_pattern(queue)):
            try:
                payload = self.get_or_none(name)
            except DeserializationError as error:
                payload = CorruptPayload(None, str(error))
            if payload is None:
                continue
            entries = leases.get(name, [])
            number, lease_name = entries[-1] if entries else (0, "")
            lease = self.get_or_none(lease_name) if lease_name else None
            found.append((self._entry_of(queue, name, payload), payload, number, lease_name, lease))
        return found

    def _claim_one(
        self, queue: str, mechanisms: Sequence[str], now: int, lease_ms: int, token: str
    ) -> Claim | None:
        candidates = []
        for entry, payload, number, lease_name, lease in self._waiting(queue, now):
            if lease is not None and lease.get("state") == "held":
                if int(lease.get("deadline", 0)) > now:
                    continue
                # Expired: it no longer holds, whether or not we take it.
                self.set(lease_name, {**lease, "state": "expired"})
            if entry.ready_at > now or (
                entry.mechanism not in mechanisms and entry.mechanism != "*"
            ):
                continue
            candidates.append((entry.sort_key, entry, payload, number))
        for _, entry, payload, number in sorted(candidates, key=lambda c: c[0]):
            lease_name = f"leases:{entry.name}:{number + 1}"
            value = {"token": token, "deadline": now + lease_ms, "state": "held"}
            if self.set_if_absent(lease_name, value):
                mechanism = entry.mechanism if entry.mechanism != "*" else mechanisms[0]
                return Claim(
                    entry.name, queue, payload, token, number + 1, now + lease_ms, mechanism
                )
        return None

    def _next_wake(self, queues: Sequence[str], now: int) -> int | None:
        times = []
        for queue in queues:
            for entry, _, _, _, lease in self._waiting(queue, now):
                if lease is not None and lease.get("state") == "held":
                    times.append(int(lease.get("deadline", now)))
                elif entry.ready_at > now:
                    times.append(entry.ready_at)
        return min(times, default=None)

    def wait_and_claim(
        self,
        queues: Sequence[str] | None,
        mechanisms: Sequence[str],
        clock: Callable[[], int],
        lease_ms: int,
        tokens: Sequence[str],
        block_ms: int,
        wake_key: str | None = None,
        decode: bool = True,
        virtual: bool = False,
        caps: Mapping[str, int] | None = None,
    ) -> ClaimBatch:
        """Wait (up to ``block_ms``, or until work or ``wake(wake_key)``), then claim.

        Redis does both in one round trip: the claim is queued behind a
        blocking pop and runs the moment the pop returns.
        """
        self.wait_for_work(queues, block_ms, wake_key)
        return self.claim(
            queues, mechanisms, clock(), lease_ms, tokens, decode=decode, virtual=virtual, caps=caps
        )

    def renew(
        self, queue: str, name: str, token: str, now: int, lease_ms: int, virtual: bool = False
    ) -> bool:
        """Extend the lease held with ``token``; False when it no longer holds."""
        _, lease_name, lease = self._current_lease(name)
        if lease is None or lease.get("state") != "held" or lease.get("token") != token:
            return False
        self.set(lease_name, {**lease, "deadline": now + lease_ms})
        return True

    def renew_many(
        self,
        leases: Sequence[tuple[str, str, str]],
        now: int,
        lease_ms: int,
        virtual: bool = False,
    ) -> list[bool]:
        """Renew several ``(queue, name, token)`` leases at once."""
        return [self.renew(queue, name, token, now, lease_ms) for queue, name, token in leases]

    def _drop_leases(self, name: str) -> None:
        for _, lease_name in self._lease_names().get(name, []):
            self.delete(lease_name, missing_ok=True)

    def ack(self, queue: str, name: str, token: str | None) -> bool:
        """Remove a finished message; False when the lease no longer holds."""
        if not self._holds(name, token):
            return False
        self.delete(name, missing_ok=True)
        self._drop_leases(name)
        return True

    def release(
        self,
        queue: str,
        name: str,
        token: str | None,
        entry: IndexEntry,
        value: Any,
        deliveries: DeliveryChange = "keep",
        now: int = 0,
        virtual: bool = False,
    ) -> bool:
        """Store ``value`` and make the message claimable at ``entry.ready_at``."""
        if not self._holds(name, token):
            return False
        self.set(name, value)
        _, lease_name, lease = self._current_lease(name)
        if deliveries == "reset":
            self._drop_leases(name)
        elif deliveries == "uncount" and lease_name:
            self.delete(lease_name, missing_ok=True)
        elif lease is not None:
            self.set(lease_name, {**lease, "state": "released"})
        return True

    def dead_letter(
        self,
        queue: str,
        name: str,
        token: str | None,
        dlq_name: str | None,
        dlq_value: Any,
        dlq_ttl: int | None,
    ) -> bool:
        """Move a message to ``dlq_name`` (or just drop it when None)."""
        if not self._holds(name, token):
            return False
        if dlq_name is not None:
            self.set(dlq_name, dlq_value, ttl=dlq_ttl)
        self.delete(name, missing_ok=True)
        self._drop_leases(name)
        return True

    def settle(
        self,
        queue: str,
        name: str,
        token: str | None,
        result: ResultWrite | None,
        callback: Submission | None,
        now: int,
        virtual: bool = False,
    ) -> bool:
        """Record a success: write ``result`` (once), submit ``callback`` (unless its
        name exists) and ack the message, fenced by ``token``.

        Returns False, writing nothing, when the lease no longer holds. Redis and
        DiskCache do it in one atomic step, so a worker that dies mid-outcome
        did all of it or none. This generic version checks the lease, then
        writes in that order: a worker that dies between the steps leaves the
        message to be redelivered, and a callback that already finished (and
        left the queue) can then be submitted again.
        """
        if not self._holds(name, token):
            return False
        if result is not None:
            self.set_and_notify(result.name, result.value, True, result.ttl, result.extra)
        if callback is not None:
            self.enqueue(callback.entry, callback.value, now, nx=True)
        return self.ack(queue, name, token)

    def queue_counts(self, queue: str, now: int, virtual: bool = False) -> dict[str, int]:
        """How many messages of ``queue`` are ready, delayed and leased."""
        tally = {"ready": 0, "delayed": 0, "leased": 0}
        for entry, _, _, _, lease in self._waiting(queue, now):
            if lease is not None and lease.get("state") == "held":
                tally["leased"] += 1
            elif entry.ready_at <= now:
                tally["ready"] += 1
            else:
                tally["delayed"] += 1
        return tally


def check_mechanisms(mechanisms: Sequence[str]) -> None:
    """Reject a claim filter naming anything but a slot kind ('process', 'thread',
    'async')."""
    for mechanism in mechanisms:
        if mechanism not in SLOT_KINDS:
            raise ValidationError(
                f"unknown mechanism {mechanism!r} (expected 'process', 'thread' or 'async')"
            )
