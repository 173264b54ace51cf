"""Fault plans: which backend calls fail, with which error, and what each fault hit.

A ``FaultInjector`` holds the plan (a list of ``Rule``) and the record of
every fault injected. The backend-specific hooks (``fault_redis``,
``fault_disk``) sit where a real server reports an error: they describe each
command or SQL statement as a ``Command`` and ask ``choose`` whether to fail
it. Rules target backend *operations* (the backend's public methods:
``claim``, ``renew_many``, ``ack``...), so one plan means the same thing on
Redis and on DiskCache; ``instrument`` wraps a backend's methods so the hooks
know which operation a command belongs to.

Each injected fault is recorded with the message uuids named in its
operation's arguments (and, for a write that was applied before its reply
was lost, in the reply): ``hits(uuid)`` bounds how many extra runs a message
may legitimately have.
"""

from __future__ import annotations

import collections
import functools
import inspect
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

#: Errors a Redis server (or redis-py, for the last two) gives.
REDIS_KINDS = ("oom", "noreplicas", "readonly", "misconf", "busy", "timeout", "connection")
#: Errors SQLite gives under DiskCache.
DISK_KINDS = ("locked", "full", "ioerr")
#: Faults after which the command may have been carried out (its reply was lost).
LOSABLE = ("timeout", "connection")

#: Operation groups a plan can target (None in a rule: every operation).
GROUPS: dict[str, frozenset[str] | None] = {
    "claim": frozenset({"claim", "wait_and_claim"}),
    "renew": frozenset({"renew", "renew_many"}),
    "outcome": frozenset(
        {"ack", "release", "dead_letter", "settle", "set_and_notify", "enqueue", "set"}
    ),
    "wait": frozenset({"wait_for_work", "wake", "wait_for_value", "known_queues"}),
    "any": None,
}

#: Backend methods that do no I/O (never wrapped).
_PURE = frozenset(
    {"full_name", "short_name", "encode", "decode", "identity", "describe", "is_glob"}
)
_UUID = re.compile(r"(?:messages|results):([0-9A-Za-z][0-9A-Za-z_-]{7,63})")


@attrs.frozen
class Command:
    """One command (Redis) or statement (SQLite) about to reach the server."""

    name: str
    write: bool = False  # changes data: refused by READONLY, NOREPLICAS, MISCONF, full disk
    grows: bool = False  # may use memory: refused by OOM
    begin: bool = False  # takes SQLite's write lock (BEGIN)
    autocommit: bool = False  # a SQLite statement outside any transaction
    rows: bool = False  # a SQLite statement that reads or writes rows (not BEGIN/COMMIT...)
    setup: bool = False  # connection set-up: never failed


def applies(kind: str, command: Command) -> bool:
    """Whether a real server could answer ``command`` with a fault of ``kind``."""
    if command.setup:
        return False
    if kind == "oom":
        return command.grows
    if kind in ("noreplicas", "readonly", "misconf", "full"):
        return command.write
    if kind == "locked":
        return command.begin or (command.write and command.autocommit)
    if kind == "ioerr":
        return command.rows
    return True  # busy, timeout, connection: anything


@attrs.define(eq=False)
class Rule:
    """Fail the ``calls``-th matching operations (1-based, counted from when the rule was
    added), or every matching operation until ``until`` (a ``time.monotonic()``)."""

    kind: str
    group: str = "any"
    calls: tuple[int, ...] = ()
    until: float | None = None
    applied: bool = False  # the server carried the command out; only its reply was lost
    seen: int = 0

    def __attrs_post_init__(self) -> None:
        if self.kind not in REDIS_KINDS + DISK_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.group not in GROUPS:
            raise ValueError(f"unknown operation group {self.group!r}; one of {sorted(GROUPS)}")
        if self.applied and self.kind not in LOSABLE:
            raise ValueError(f"a {self.kind!r} fault refuses the command: it cannot be applied")
        if bool(self.calls) == (self.until is not None):
            raise ValueError("a rule needs either calls or a time window (until), not both")

    def targets(self, operation: str) -> bool:
        ops = GROUPS[self.group]
        return ops is None or operation in ops

    def describe(self) -> str:
        when = f"calls {list(self.calls)}" if self.calls else "a window"
        return f"{self.kind}{' (applied)' if self.applied else ''} on {self.group} {when}"


@attrs.frozen
class FaultEvent:
    """One injected fault."""

    at: float
    scope: int  # one backend operation call (its retries and statements share it)
    operation: str
    command: str
    kind: str
    applied: bool
    uuids: tuple[str, ...]


@attrs.define
class _Scope:
    operation: str
    args: Any
    armed: list[Rule]
    number: int
    _uuids: tuple[str, ...] | None = None

    @property
    def uuids(self) -> tuple[str, ...]:
        if self._uuids is None:
            self._uuids = uuids_in(self.args)
        return self._uuids


def uuids_in(value: Any) -> tuple[str, ...]:
    """Message uuids named (``...:messages:UUID``, ``results:UUID``) anywhere in ``value``."""
    return tuple(dict.fromkeys(_UUID.findall(repr(value))))


class FaultInjector:
    """The plan and the record of injected faults (thread-safe)."""

    def __init__(self, kinds: tuple[str, ...] = REDIS_KINDS + DISK_KINDS) -> None:
        self.kinds = kinds
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._local = threading.local()
        self._scopes = 0
        self.events: list[FaultEvent] = []

    # -- the plan ----------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        """Add ``rule`` to the plan (its call count starts now)."""
        if rule.kind not in self.kinds:
            raise ValueError(f"this backend gives no {rule.kind!r} faults; it gives {self.kinds}")
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_calls(
        self, kind: str, group: str, calls: Iterable[int], applied: bool = False
    ) -> Rule:
        """Fail the given matching calls, e.g. ``fail_calls("oom", "claim", [3, 4])``."""
        return self.add(Rule(kind, group, calls=tuple(sorted(set(calls))), applied=applied))

    def fail_for(
        self, seconds: float, kind: str, group: str = "any", applied: bool = False
    ) -> Rule:
        """Fail every matching call for the next ``seconds``."""
        return self.add(Rule(kind, group, until=time.monotonic() + seconds, applied=applied))

    def clear(self) -> None:
        """Drop every rule: nothing fails from now on."""
        with self._lock:
            self._rules.clear()

    # -- what was injected -----------------------------------------------------------------

    def hits(self, uuid: str) -> int:
        """How many operations on the message ``uuid`` faults hit (an operation that
        failed several times, e.g. retried through a window, counts once)."""
        return self.hit_counts()[uuid]

    def hit_counts(self) -> collections.Counter[str]:
        """``hits`` of every message."""
        with self._lock:
            pairs = {(event.scope, u) for event in self.events for u in event.uuids}
        return collections.Counter(uuid for _, uuid in pairs)

    def by_kind(self) -> dict[str, int]:
        with self._lock:
            return dict(collections.Counter(event.kind for event in self.events))

    # -- used by the hooks -------------------------------------------------------------------

    @contextmanager
    def operation(self, name: str, args: Any) -> Iterator[None]:
        """Mark this thread as running backend operation ``name`` (the outermost wins)."""
        local = self._local
        if getattr(local, "scope", None) is not None:
            yield
            return
        with self._lock:
            armed = []
            for rule in self._rules:
                if rule.calls and rule.targets(name):
                    rule.seen += 1
                    if rule.seen in rule.calls:
                        armed.append(rule)
            self._scopes += 1
            number = self._scopes
        local.scope = _Scope(name, args, armed, number)
        try:
            yield
        finally:
            local.scope = None

    def choose(self, command: Command) -> Rule | None:
        """The rule that makes ``command`` fail, if any (an armed call fails once)."""
        scope: _Scope | None = getattr(self._local, "scope", None)
        operation = scope.operation if scope is not None else "other"
        if scope is not None:
            for rule in scope.armed:
                if applies(rule.kind, command):
                    scope.armed.remove(rule)
                    return rule
        now = time.monotonic()
        with self._lock:
            for rule in self._rules:
                due = rule.until is not None and now < rule.until
                if due and rule.targets(operation) and applies(rule.kind, command):
                    return rule
        return None

    def record(self, rule: Rule, command: Command, reply: Any = None) -> FaultEvent:
        """Note that ``rule`` failed ``command`` (``reply``: what the server answered)."""
        scope: _Scope | None = getattr(self._local, "scope", None)
        uuids = scope.uuids if scope is not None else ()
        if reply is not None:
            uuids = tuple(dict.fromkeys(uuids + uuids_in(reply)))
        if scope is not None:
            number = scope.number
        else:
            with self._lock:
                self._scopes += 1
                number = self._scopes
        event = FaultEvent(
            time.monotonic(),
            number,
            scope.operation if scope is not None else "other",
            command.name,
            rule.kind,
            rule.applied,
            uuids,
        )
        with self._lock:
            self.events.append(event)
        return event


def instrument(backend: Any, injector: FaultInjector) -> None:
    """Wrap ``backend``'s public methods so that its commands know their operation."""
    for name in dir(type(backend)):
        if name.startswith("_") or name in _PURE:
            continue
        static = inspect.getattr_static(type(backend), name)
        if not inspect.isfunction(static):
            continue  # properties, static and class methods, attributes
        setattr(backend, name, _scoped(injector, name, getattr(backend, name)))


def _scoped(injector: FaultInjector, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with injector.operation(name, (args, kwargs)):
            return method(*args, **kwargs)

    return wrapper
