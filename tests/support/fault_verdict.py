"""What a fault-injection run must show once its faults stop, computed from plain data.

Inputs: what was submitted (``Sent``), the task ledger (``read_ledger``),
the dead letters, which results exist, and how many faults hit each
message. ``judge`` returns a ``FaultVerdict``: every figure the invariants
need, and ``problems()`` naming each broken one with its evidence.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from tests.support.fault_tasks import MAX_REDELIVERIES, MAX_RETRIES


@attrs.frozen
class Spec:
    """One message to submit: its mechanism and behaviour."""

    mechanism: str  # "thread" or "process"
    sleep_ms: int = 0
    fail_times: int = 0  # fails while retries < fail_times (> MAX_RETRIES: dead letter)
    result: bool = False  # stores its result
    callback: bool = False  # a thread callback follows its success


@attrs.frozen
class Sent:
    """A submitted message (or the callback a submitted message carries)."""

    uuid: str
    spec: Spec
    parent: str | None = None  # the message whose success submits this callback

    @property
    def attempts(self) -> int:
        """Runs it needs without faults: its planned failures (while retries remain) + 1."""
        return min(self.spec.fail_times, MAX_RETRIES) + 1

    @property
    def succeeds(self) -> bool:
        return self.spec.fail_times <= MAX_RETRIES


@attrs.frozen
class Runs:
    """What the ledger says about one message."""

    starts: tuple[tuple[int, int], ...] = ()  # (start ms, end ms or -1) per run
    ended: int = 0


def read_ledger(path: Path) -> dict[str, Runs]:
    """Runs per message uuid (a torn last line is ignored)."""
    starts: dict[str, list[int]] = collections.defaultdict(list)
    finished: dict[str, list[int]] = collections.defaultdict(list)
    ended: collections.Counter[str] = collections.Counter()
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "start":
            starts[parts[1]].append(int(parts[4]))
        elif len(parts) >= 4 and parts[0] in ("end", "fail"):
            finished[parts[1]].append(int(parts[3]))
            ended[parts[1]] += parts[0] == "end"
    runs = {}
    for uuid, times in starts.items():
        ends = sorted(finished.get(uuid, []))
        pairs = tuple((t, ends[i] if i < len(ends) else -1) for i, t in enumerate(sorted(times)))
        runs[uuid] = Runs(pairs, ended[uuid])
    return runs


def concurrency(intervals: Iterable[tuple[int, int]]) -> int:
    """Most intervals (start, end) open at one instant (an end of -1 never closes)."""
    points = []
    for start, end in intervals:
        points.append((start, 1))
        if end >= 0:
            points.append((end, -1))
    best = current = 0
    for _, step in sorted(points, key=lambda p: (p[0], p[1])):
        current += step
        best = max(best, current)
    return best


@attrs.frozen
class FaultVerdict:
    """The figures of one run after its faults stopped."""

    messages: int
    faults: int
    real_faults: int
    lost: tuple[str, ...] = ()  # no outcome at all
    doubled: tuple[str, ...] = ()  # a success and a dead letter
    wrongly_dead: tuple[str, ...] = ()  # dead-lettered though it would have succeeded
    excess: tuple[tuple[str, int, int], ...] = ()  # (uuid, runs, allowed)
    missing_results: tuple[str, ...] = ()
    orphan_callbacks: tuple[str, ...] = ()  # ran though their parent failed
    leftover: Mapping[str, int] = attrs.field(factory=dict)
    leaked_slots: int = 0
    dead_threads: tuple[str, ...] = ()
    stop_s: float = 0.0
    stop_limit_s: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def duplicated(self) -> int:
        """Runs beyond what faults allow, summed."""
        return sum(runs - allowed for _, runs, allowed in self.excess)

    def problems(self) -> list[str]:
        """Each broken invariant, with its evidence."""
        found = []
        if self.lost:
            found.append(f"{len(self.lost)} messages reached no outcome: {list(self.lost)[:5]}")
        if self.doubled:
            found.append(f"succeeded and dead-lettered: {list(self.doubled)[:5]}")
        if self.wrongly_dead:
            found.append(f"dead-lettered though they succeed: {list(self.wrongly_dead)[:5]}")
        if self.excess:
            shown = [f"{u} ran {r}x, allowed {a}" for u, r, a in self.excess[:5]]
            found.append(f"{len(self.excess)} messages ran more than 1 + faults: {shown}")
        if self.missing_results:
            found.append(f"succeeded without a stored result: {list(self.missing_results)[:5]}")
        if self.orphan_callbacks:
            found.append(f"callbacks of failed parents ran: {list(self.orphan_callbacks)[:5]}")
        if any(self.leftover.values()):
            found.append(f"left in the queue: {dict(self.leftover)}")
        if self.leaked_slots:
            found.append(f"{self.leaked_slots} slots leaked (a new batch ran below full width)")
        if self.dead_threads:
            found.append(f"pool threads died: {list(self.dead_threads)}")
        if self.stop_s > self.stop_limit_s:
            found.append(f"stop() took {self.stop_s:.1f}s (limit {self.stop_limit_s:.1f}s)")
        return found

    def summary(self) -> str:
        return (
            f"faults={self.faults} real={self.real_faults} tasks={self.messages} "
            f"lost={len(self.lost)} duplicated={self.duplicated} doubled={len(self.doubled)} "
            f"wrongly_dead={len(self.wrongly_dead)} leaked_slots={self.leaked_slots} "
            f"dead_threads={len(self.dead_threads)} stop={self.stop_s:.1f}s"
        )


def judge(
    sent: Mapping[str, Sent],
    runs: Mapping[str, Runs],
    dead: Mapping[str, str],
    results: set[str],
    hits: Mapping[str, int],
    pending: Iterable[str] = (),
) -> dict[str, tuple[str, ...] | tuple[tuple[str, int, int], ...]]:
    """Outcome figures: lost, doubled, wrongly dead, excess runs, missing results, orphans.

    ``pending`` are messages still in the queue: whatever ran, their outcome
    is not recorded (lost, if the run is over).

    ``hits`` counts the faults (injected and real) that hit each message's own
    operations; a message may run ``attempts + hits`` times. Crash-loop
    protection may dead-letter a message that faults kept from recording its
    outcome ``MAX_REDELIVERIES`` times; short of that, a dead letter of a message
    that succeeds is wrong.
    """
    lost, doubled, wrong, excess, missing, orphans = [], [], [], [], [], []
    waiting = set(pending)
    for uuid, message in sent.items():
        mine = runs.get(uuid, Runs())
        allowed = message.attempts + hits.get(uuid, 0)
        if len(mine.starts) > allowed:
            excess.append((uuid, len(mine.starts), allowed))
        if message.parent is not None and not runs.get(message.parent, Runs()).ended:
            if mine.starts:
                orphans.append(uuid)
            continue  # its parent never succeeded: it was never due
        loops = hits.get(uuid, 0) >= MAX_REDELIVERIES
        if (not mine.ended and uuid not in dead) or uuid in waiting:
            lost.append(uuid)
        elif mine.ended and uuid in dead and not loops:
            doubled.append(uuid)
        elif uuid in dead and message.succeeds and not mine.ended and not loops:
            wrong.append(uuid)
        settled = mine.ended and uuid not in dead and uuid not in waiting
        if settled and message.spec.result and uuid not in results:
            missing.append(uuid)
    return {
        "lost": tuple(lost),
        "doubled": tuple(doubled),
        "wrongly_dead": tuple(wrong),
        "excess": tuple(excess),
        "missing_results": tuple(missing),
        "orphan_callbacks": tuple(orphans),
    }
