"""Worker-pool slot arithmetic.

A pool runs at most ``max_threads`` thread tasks and ``max_processes``
process tasks. It claims only what it can start at once: with both kinds
free it claims ``min(free threads, free processes)`` messages of either
kind (any mix fits); with one kind free it claims only that kind. At
capacity it claims nothing, leaving messages to other pools. Workers that
sit idle longer than ``idle_ms`` are retired; new ones start on demand.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.message import Mechanism
from alsek.pure.validate import check_int


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    check_int(attribute.name, value, 0)


@attrs.frozen
class Capacity:
    """Slot limits of one pool."""

    max_threads: int = attrs.field(validator=_non_negative)
    max_processes: int = attrs.field(validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.max_threads + self.max_processes == 0:
            raise ValidationError("a worker pool needs max_threads + max_processes >= 1")

    def limit(self, mechanism: Mechanism) -> int:
        """Slots for ``mechanism``."""
        return self.max_threads if mechanism == "thread" else self.max_processes


@attrs.frozen
class Load:
    """Tasks running (or handed to a worker) per mechanism."""

    threads: int = 0
    processes: int = 0

    def running(self, mechanism: Mechanism) -> int:
        """Tasks of ``mechanism`` in flight."""
        return self.threads if mechanism == "thread" else self.processes


def free(capacity: Capacity, load: Load, mechanism: Mechanism) -> int:
    """Free slots for ``mechanism``."""
    return max(capacity.limit(mechanism) - load.running(mechanism), 0)


def admit(load: Load, mechanism: Mechanism) -> Load:
    """The load after a ``mechanism`` task starts."""
    if mechanism == "thread":
        return attrs.evolve(load, threads=load.threads + 1)
    return attrs.evolve(load, processes=load.processes + 1)


def finish(load: Load, mechanism: Mechanism) -> Load:
    """The load after a ``mechanism`` task ends."""
    if mechanism == "thread":
        return attrs.evolve(load, threads=max(load.threads - 1, 0))
    return attrs.evolve(load, processes=max(load.processes - 1, 0))


@attrs.frozen
class ClaimPlan:
    """What to ask the backend for: which mechanisms, how many messages."""

    mechanisms: tuple[Mechanism, ...]
    limit: int


def plan_claim(capacity: Capacity, load: Load, batch: int = defaults.DEFAULT_BATCH) -> ClaimPlan:
    """How much to claim now without holding anything the pool cannot start.

    ``limit == 0`` means "at capacity: pause the stream until a slot frees".
    """
    check_int("batch", batch, 1)
    threads, processes = free(capacity, load, "thread"), free(capacity, load, "process")
    if threads and processes:
        return ClaimPlan(("thread", "process"), max(min(threads, processes, batch), 1))
    if threads:
        return ClaimPlan(("thread",), min(threads, batch))
    if processes:
        return ClaimPlan(("process",), min(processes, batch))
    return ClaimPlan((), 0)


def workers_to_start(idle: int, queued: int, alive: int, limit: int) -> int:
    """New workers needed so every queued job has one, within ``limit`` alive."""
    return max(min(queued - idle, limit - alive), 0)


def to_retire(idle_since: Mapping[int, int], now: int, idle_ms: int) -> tuple[int, ...]:
    """Workers (by id) idle for at least ``idle_ms`` at ``now``."""
    return tuple(sorted(wid for wid, since in idle_since.items() if now - since >= idle_ms))
