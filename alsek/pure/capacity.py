"""Worker-pool slot arithmetic.

A pool runs at most ``max_threads`` thread tasks, ``max_processes`` process
tasks and ``max_async`` coroutines (thread-mechanism ``async def`` tasks, on
the pool's event loop): three slot kinds (``alsek.pure.message.SlotKind``).
It claims only what it can start at once: the kinds with a free slot, each
capped at its free slots (the backend takes no more of a kind than its
cap), up to the batch in all, so whatever comes back fits. At capacity it
claims nothing, leaving messages to other pools. Workers that sit idle
longer than ``idle_ms`` are retired; new ones start on demand.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.message import SlotKind
from alsek.pure.validate import check_int


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    check_int(attribute.name, value, 0)


@attrs.frozen
class Capacity:
    """Slot limits of one pool."""

    max_threads: int = attrs.field(validator=_non_negative)
    max_processes: int = attrs.field(validator=_non_negative)
    max_async: int = attrs.field(default=0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.max_threads + self.max_processes + self.max_async == 0:
            raise ValidationError(
                "a worker pool needs max_threads + max_processes + max_async >= 1"
            )

    def limit(self, kind: SlotKind) -> int:
        """Slots of ``kind``."""
        if kind == "thread":
            return self.max_threads
        return self.max_async if kind == "async" else self.max_processes


#: The order in which a claim plan lists the kinds it asks for.
CLAIM_ORDER: tuple[SlotKind, ...] = ("thread", "process", "async")


@attrs.frozen
class Load:
    """Tasks running (or handed to a worker) per slot kind."""

    threads: int = 0
    processes: int = 0
    coroutines: int = 0

    def running(self, kind: SlotKind) -> int:
        """Tasks of ``kind`` in flight."""
        if kind == "thread":
            return self.threads
        return self.coroutines if kind == "async" else self.processes


def free(capacity: Capacity, load: Load, kind: SlotKind) -> int:
    """Free slots of ``kind``."""
    return max(capacity.limit(kind) - load.running(kind), 0)


def _moved(load: Load, kind: SlotKind, by: int) -> Load:
    if kind == "thread":
        return attrs.evolve(load, threads=max(load.threads + by, 0))
    if kind == "async":
        return attrs.evolve(load, coroutines=max(load.coroutines + by, 0))
    return attrs.evolve(load, processes=max(load.processes + by, 0))


def admit(load: Load, kind: SlotKind) -> Load:
    """The load after a task of slot ``kind`` starts."""
    return _moved(load, kind, 1)


def finish(load: Load, kind: SlotKind) -> Load:
    """The load after a task of slot ``kind`` ends."""
    return _moved(load, kind, -1)


@attrs.frozen
class ClaimPlan:
    """What to ask the backend for: which slot kinds, how many messages in all, and
    at most how many of each kind (``caps``, in the order of ``mechanisms``)."""

    mechanisms: tuple[SlotKind, ...]
    limit: int
    caps: tuple[int, ...] = ()

    @property
    def limits(self) -> dict[str, int]:
        """The most messages of each kind, by kind."""
        return dict(zip(self.mechanisms, self.caps, strict=True))


def plan_claim(capacity: Capacity, load: Load, batch: int = defaults.DEFAULT_BATCH) -> ClaimPlan:
    """How much to claim now without holding anything the pool cannot start.

    ``limit == 0`` means "at capacity: pause the stream until a slot frees".
    """
    check_int("batch", batch, 1)
    frees = {kind: free(capacity, load, kind) for kind in CLAIM_ORDER}
    kinds = tuple(kind for kind in CLAIM_ORDER if frees[kind])
    if not kinds:
        return ClaimPlan((), 0)
    caps = tuple(min(frees[kind], batch) for kind in kinds)
    return ClaimPlan(kinds, min(batch, sum(caps)), caps)


def workers_to_start(idle: int, queued: int, alive: int, limit: int) -> int:
    """New workers needed so every queued job has one, within ``limit`` alive."""
    return max(min(queued - idle, limit - alive), 0)


def to_retire(idle_since: Mapping[int, int], now: int, idle_ms: int) -> tuple[int, ...]:
    """Workers (by id) idle for at least ``idle_ms`` at ``now``."""
    return tuple(sorted(wid for wid, since in idle_since.items() if now - since >= idle_ms))
