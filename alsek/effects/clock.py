"""Clocks and ids: the only sources of "now" and of new uuids."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid as _uuid
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time in integer UTC milliseconds."""

    def now(self) -> int:
        """Current UTC time in milliseconds."""
        ...


class SystemClock:
    """The wall clock.

    A real clock is not *virtual*: a backend with a clock of its own (Redis)
    takes lease deadlines and ready times from its own clock, reading this
    one only to convert relative delays.
    """

    virtual = False

    def now(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to: for tests and replays.

    It is *virtual*: every backend takes its times as given, so a test can
    move time forward and see delays end and leases expire.
    """

    virtual = True

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        """Move forward by ``ms`` and return the new time."""
        with self._lock:
            self._now += ms
            return self._now

    def set(self, ms: int) -> None:
        """Jump to ``ms``."""
        self._now = ms


system_clock = SystemClock()


def is_virtual(clock: Clock) -> bool:
    """Whether backends must use ``clock``'s times as given (a test's manual clock)."""
    return bool(getattr(clock, "virtual", False))


def monotonic_ms() -> int:
    """This host's monotonic clock in milliseconds: for local intervals and deadlines."""
    return time.monotonic_ns() // 1_000_000


def monotonic_ns() -> int:
    """This host's monotonic clock in nanoseconds: for intervals below a millisecond."""
    return time.monotonic_ns()


def utcnow_ms() -> int:
    """Current UTC time in integer milliseconds."""
    return time.time_ns() // 1_000_000


_uuid_lock = threading.Lock()
_uuid_state = [0, 0]  # last millisecond, counter within it


def new_uuid() -> str:
    """A fresh message id: a version 7 UUID (time-ordered, random tail).

    Ids made in one process sort in the order they were made (a 12-bit
    counter orders those of the same millisecond), so messages submitted
    in the same millisecond still run first-in, first-out.
    """
    ms = time.time_ns() // 1_000_000
    with _uuid_lock:
        last, counter = _uuid_state
        if ms <= last:
            ms, counter = last, counter + 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
        else:
            counter = 0
        _uuid_state[:] = [ms, counter]
    tail = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | tail
    return str(_uuid.UUID(int=value))


def new_token() -> str:
    """A fresh lease or lock token (96 random bits)."""
    return os.urandom(12).hex()


def submission_token() -> str:
    """A token telling one submission call from another of the same message: 48
    random bits, enough to know a retry of a call whose reply was lost."""
    return base64.urlsafe_b64encode(os.urandom(6)).decode()
