"""Per-run state that is not a record: task kinds ready to run, pools, held messages.

``KindRuntime`` turns a ``TaskKind`` into what the engine calls per message:
a new ``Message`` (with its callback chain nested by ``callbacks.nest``) and
one sampled attempt, an (elapsed ms, ``Outcome``) pair. The order of random
draws is fixed (duration, then crash, then failure), so a seed fixes a run.
"""

from __future__ import annotations

import random
from typing import Any

from alsek.pure import pool as policy
from alsek.pure.callbacks import nest
from alsek.pure.capacity import Capacity, Load
from alsek.pure.decisions import Effect
from alsek.pure.message import Message
from alsek.pure.outcome import Crashed, ErrorInfo, Failed, Outcome, Succeeded, TimedOut
from alsek.pure.policy import default_should_retry
from alsek.sim.workload import TaskKind

IDLE, CLAIMING, PAUSED, DEAD = range(4)
STATE_NAMES = ("idle", "claiming", "paused", "dead")
#: Digits of the serial that starts a simulated message id (10**12 submissions).
SERIAL_DIGITS = 12


class Cost:
    """A fixed cost in ms, whole or not: the clock counts whole ms, so a fraction is paid as
    one more ms with that probability (its own random stream: the run's draws of durations
    and failures stay the same), and the mean cost is exact."""

    __slots__ = ("fraction", "rnd", "whole")

    def __init__(self, ms: float, rnd: random.Random) -> None:
        self.whole = int(ms)
        self.fraction = ms - self.whole
        self.rnd = rnd

    def __call__(self) -> int:
        """One payment of the cost, in whole ms."""
        if self.fraction and self.rnd.random() < self.fraction:
            return self.whole + 1
        return self.whole


class Trip(Cost):
    """A backend round trip: a fixed cost plus ``per_item`` ms per message it claims or
    outcome it records (a bigger batch takes longer to send, run and decode)."""

    __slots__ = ("per_item",)

    def __init__(self, ms: float, per_item: float, rnd: random.Random) -> None:
        super().__init__(ms, rnd)
        self.per_item = per_item

    def __call__(self, items: int = 0) -> int:
        """One round trip carrying ``items`` messages and outcomes, in whole ms."""
        if not (self.per_item and items):
            return super().__call__()
        cost = self.whole + self.fraction + self.per_item * items
        whole = int(cost)
        return whole + (1 if self.rnd.random() < cost - whole else 0)


def message_id(serial: int, task: str) -> str:
    """The id of the ``serial``-th submission of a run, e.g. ``000000000042-resize``.

    Alsek's own ids are time-ordered (version 7 UUIDs), so messages submitted
    in the same millisecond run in the order they were submitted:
    ``ordering.priority_key`` settles such ties by id. Simulated ids keep that
    order by starting with the zero-padded serial; the task name is for reading.
    """
    return f"{serial:0{SERIAL_DIGITS}d}-{task}"


class KindRuntime:
    """A task kind with its policy, overhead and prebuilt outcomes."""

    def __init__(self, kind: TaskKind, dispatch_ms: Cost) -> None:
        self.kind = kind
        self.name = kind.name
        self.policy = kind.policy
        self.dispatch_ms = dispatch_ms
        self.chain: tuple[KindRuntime, ...] = ()
        #: This kind's counters in the run's ``Recorder`` (set by the engine).
        self.counts: dict[str, int] = {}
        self._sample = kind.duration.sample
        self._succeeded = Succeeded(None)
        self._crashed = Crashed("simulated process crash")
        error = ErrorInfo("SimulatedFailure", f"injected failure (p_fail={kind.p_fail})")
        self._failed = {flag: Failed(error, flag) for flag in (True, False)}
        self._timed_out = {flag: TimedOut(kind.timeout_ms, flag) for flag in (True, False)}

    def message(self, uuid: str, now: int) -> Message:
        """A fresh message of this kind, submitted at ``now`` (no callbacks)."""
        kind = self.kind
        return Message(
            task_name=kind.name,
            queue=kind.queue,
            uuid=uuid,
            created_at=now,
            timeout=kind.timeout_ms,
            backoff_settings=kind.backoff,
            mechanism=kind.mechanism,
            is_async=kind.is_async,
            priority=kind.priority,
        )

    def root(self, uuid: str, now: int) -> Message:
        """A fresh message carrying the kind's whole callback chain."""
        message = self.message(uuid, now)
        if not self.chain:
            return message
        followers = [rt.message(f"{uuid}.cb{i}", now) for i, rt in enumerate(self.chain, 1)]
        return nest([message, *followers])

    def attempt(self, message: Message, rnd: random.Random) -> tuple[int, Outcome]:
        """One run of ``message``: how long until its outcome, and the outcome."""
        kind = self.kind
        run = self._sample(rnd)
        if kind.p_crash and rnd.random() < kind.p_crash:
            return int(rnd.random() * min(run, kind.timeout_ms)), self._crashed
        if run > kind.timeout_ms:
            approved = default_should_retry(message, kind.max_retries)
            return kind.timeout_ms, self._timed_out[approved]
        if kind.p_fail and rnd.random() < kind.p_fail:
            return run, self._failed[default_should_retry(message, kind.max_retries)]
        return run, self._succeeded


def link_chains(runtimes: dict[str, KindRuntime]) -> None:
    """Give each runtime the runtimes of its callback chain (validated acyclic)."""
    for runtime in runtimes.values():
        chain = []
        current = runtime.kind
        while current.callback is not None:
            follower = runtimes[current.callback]
            chain.append(follower)
            current = follower.kind
        runtime.chain = tuple(chain)


class Held:
    """A message leased by a pool: claimed at ``claimed_at``, running from ``started_at``."""

    __slots__ = ("claimed_at", "message", "runtime", "started_at")

    def __init__(self, message: Message, runtime: KindRuntime, claimed_at: int) -> None:
        self.message = message
        self.runtime = runtime
        self.claimed_at = claimed_at
        self.started_at: int | None = None


class PoolState:
    """One worker pool's dispatcher: its load, leases and what it waits for."""

    __slots__ = (
        "acks",
        "alive_ms",
        "alive_since",
        "child_passes",
        "child_serial",
        "children",
        "due",
        "empty_passes",
        "epoch",
        "held",
        "index",
        "occupied",
        "policy",
        "poll_at",
        "poll_pending",
        "signalled",
        "state",
        "waiting",
        "wake_at",
        "wake_gen",
        "woken",
    )

    def __init__(self, index: int, capacity: Capacity) -> None:
        self.index = index
        #: What the pool's policy (``alsek.pure.pool``) knows: load, phase, slot epoch.
        self.policy = policy.PoolState(capacity, delegated=_delegated(capacity))
        #: Task processes with no job, waiting on the backend for process work: id ->
        #: the number of its current wait, longest waiting first (``alsek.sim.children``).
        self.children: dict[int, int] = {}
        #: Those a signal already woke (the wake-up is on its way).
        self.woken: set[int] = set()
        #: Empty claims in a row of idle task processes (their backoff grows with them).
        self.child_passes: dict[int, int] = {}
        self.child_serial = 0
        for _ in range(capacity.max_processes):
            self.child_serial += 1
            self.children[self.child_serial] = 0
        self.state = IDLE
        #: Bumped when the pool is killed: events of its former life are ignored.
        self.epoch = 0
        self.wake_at: float = float("inf")
        self.wake_gen = 0
        #: Work arrived (or a wake-up was sent) while a claim was in flight: the
        #: next wait returns at once.
        self.signalled = False
        #: The claim an idle dispatcher sent behind its wait: it runs as planned.
        self.waiting: policy.Claim | None = None
        #: Its wait fell due; the backend ends it when it next serves a request.
        self.due = False
        self.held: dict[str, Held] = {}
        self.empty_passes = 0
        self.alive_since = 0
        self.alive_ms = 0
        self.occupied: dict[str, int] = {"thread": 0, "process": 0, "async": 0}
        self.poll_at = 0
        self.poll_pending = False
        #: Effects (an ``Ack``) of finished thread tasks, riding on the next claim.
        self.acks: list[tuple[Effect, ...]] = []

    @property
    def capacity(self) -> Capacity:
        """The pool's slot limits."""
        return self.policy.capacity

    @property
    def load(self) -> Load:
        """Slots in use."""
        return self.policy.load

    def reset(self) -> None:
        """A killed pool: nothing held, nothing running, a fresh dispatcher."""
        capacity = self.policy.capacity
        self.policy = policy.PoolState(capacity, delegated=_delegated(capacity))
        self.children = {}
        self.woken = set()
        self.child_passes = {}
        self.acks = []
        self.signalled = False
        self.waiting = None
        self.due = False

    def snapshot(self) -> dict[str, Any]:
        """A readable summary (for debugging and the trace)."""
        return {
            "pool": self.index,
            "state": STATE_NAMES[self.state],
            "threads": self.load.threads,
            "processes": self.load.processes,
            "held": len(self.held),
        }


def _delegated(capacity: Capacity) -> frozenset[Any]:
    """Task processes claim for themselves, as in the real pool."""
    return frozenset({"process"}) if capacity.max_processes else frozenset()
