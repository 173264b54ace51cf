"""A real worker pool on a faulting backend, a clean producer, a task ledger, and the checks.

The pool, its broker and its result store use a backend with fault
injection installed (``faults.inject``); messages are submitted, and
outcomes read, through a second backend on the same store without faults,
so that the checks see the truth. ``finish()`` stops every fault, lets the
pool settle, and returns a ``FaultVerdict``: outcomes, extra runs, a new
batch at full width (leaked slots), live pool threads, and how long
``stop()`` took.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.exceptions import MessageExistsError
from alsek.storage.result import ResultStore
from tests.support import fault_tasks
from tests.support.fault_threads import ThreadWatch
from tests.support.fault_verdict import (
    FaultVerdict,
    Sent,
    Spec,
    concurrency,
    judge,
    read_ledger,
)
from tests.support.faults import backends, inject, patiently

QUEUE = "alsek_queue"


class Rig:
    """One pool under faults, and what it was given to do."""

    def __init__(
        self,
        kind: str,
        where: str,
        root: Path,
        max_threads: int = 3,
        max_processes: int = 1,
        lease_ms: int = 1_500,
        grace_ms: int = 1_000,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.ledger = root / "ledger"
        self.width_ledger = root / "width-ledger"
        faulty, clean = backends(kind, where)
        self.injector = inject(faulty)
        self.broker, self.store = Broker(faulty), ResultStore(faulty)
        self.producer, self.results = Broker(clean), ResultStore(clean)
        fault_tasks.bind(self.broker, self.store)
        self.max_threads, self.max_processes = max_threads, max_processes
        self.grace_ms = grace_ms
        self.pool = WorkerPool(
            fault_tasks.ALL,
            max_threads=max_threads,
            max_processes=max_processes,
            lease_ms=lease_ms,
            grace_ms=grace_ms,
            idle_ms=600_000,
        )
        self.sent: dict[str, Sent] = {}
        self.messages: dict[str, Any] = {}
        self.names: dict[str, str] = {}
        self.real_hits: collections.Counter[str] = collections.Counter()
        self.real_faults = 0
        self.watch = ThreadWatch()
        self.stop_s: float | None = None

    # -- running -----------------------------------------------------------------------

    def start(self) -> Rig:
        self.watch.install()
        self.pool.start()
        self.warm_up()
        return self

    def warm_up(self, timeout: float = 60) -> None:
        """Fill every slot once before any fault: task processes are up, and the pool works."""
        wanted = [Spec("thread")] * self.max_threads + [Spec("process")] * self.max_processes
        uuids = self.submit(wanted, ledger=self.width_ledger)
        deadline = time.monotonic() + timeout
        while not self._ended(uuids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the pool did not run its first {len(uuids)} tasks")
            time.sleep(0.05)

    def submit(self, specs: Iterable[Spec], ledger: Path | None = None) -> list[str]:
        """Submit one message per spec (with its callback, if any) through the clean broker."""
        path = str(ledger or self.ledger)
        uuids = []
        for spec in specs:
            callback = None
            if spec.callback:
                callback = fault_tasks.fx_thread.generate(args=(path,), submit=False)
            message = fault_tasks.pick(spec.mechanism, spec.result).generate(
                args=(path,),
                kwargs={"sleep_ms": spec.sleep_ms, "fail_times": spec.fail_times},
                callback=callback,
                submit=False,
            )
            try:
                patiently(lambda m=message: self.producer.submit(m))  # type: ignore[misc]
            except MessageExistsError:
                pass  # an attempt whose reply was lost went through
            uuids.append(message.uuid)
            if ledger is None:
                self.sent[message.uuid] = Sent(message.uuid, spec)
                self.messages[message.uuid] = message
                self.names[message.uuid] = self.producer.get_message_name(message)
                if callback is not None:
                    self.sent[callback.uuid] = Sent(callback.uuid, Spec("thread"), message.uuid)
                    self.names[callback.uuid] = self.producer.get_message_name(callback)
        return uuids

    def outstanding(self) -> list[str]:
        """Submitted messages not yet done: no success recorded, or still in the queue (an
        outcome not yet recorded, a callback waiting to be submitted)."""
        runs = read_ledger(self.ledger)
        backend = self.producer.backend
        return [
            u
            for u in self.sent
            if not (u in runs and runs[u].ended)
            or patiently(lambda u=u: backend.exists(self.names[u]))  # type: ignore[misc]
        ]

    def real_fault(self, apply: Callable[[], None]) -> None:
        """Apply a real-server fault (``apply`` blocks while it lasts); every message then
        outstanding counts it as a fault of its own."""
        exposed = self.outstanding()
        apply()
        self.real_faults += 1
        self.real_hits.update(exposed)

    # -- checking ------------------------------------------------------------------------

    def dead(self) -> dict[str, str]:
        records = patiently(lambda: list(self.producer.dead_letters()))
        return {record.uuid: record.reason for record in records}

    def hits(self) -> collections.Counter[str]:
        """Faults per message: injected ones on its own operations (submitting its callback
        is part of its outcome), and real ones while it was outstanding."""
        counts = self.injector.hit_counts() + self.real_hits
        parents = {u: s.parent for u, s in self.sent.items() if s.parent is not None}
        submissions = {
            (event.scope, parents[uuid])
            for event in list(self.injector.events)
            if event.operation == "enqueue"
            for uuid in event.uuids
            if uuid in parents
        }
        counts.update(parent for _, parent in submissions)
        return counts

    def settled(self) -> bool:
        """Every due message has an outcome, no run is still going, and the queue is empty."""
        runs = read_ledger(self.ledger)
        if any(end < 0 for each in runs.values() for _, end in each.starts):
            return False
        verdict = judge(self.sent, runs, self.dead(), set(), self.hits())
        counts = patiently(lambda: self.producer.counts(QUEUE))
        return not verdict["lost"] and not any(counts.values())

    def pending(self) -> set[str]:
        """Submitted messages still in the queue."""
        backend = self.producer.backend
        return {
            u
            for u, name in self.names.items()
            if patiently(lambda name=name: backend.exists(name))  # type: ignore[misc]
        }

    def progress(self) -> tuple[int, tuple[int, ...]]:
        """Changes whenever a task runs or the queue moves."""
        size = self.ledger.stat().st_size if self.ledger.exists() else 0
        return size, tuple(patiently(lambda: self.producer.counts(QUEUE)).values())

    def settle(self, timeout: float, stall_s: float = 25) -> None:
        """Wait until ``settled()``, for ``timeout`` at most, or until nothing has moved for
        ``stall_s`` (longer than any lease, retry or task here)."""
        deadline = time.monotonic() + timeout
        last, moved = self.progress(), time.monotonic()
        while time.monotonic() < deadline and not self.settled():
            time.sleep(0.2)
            now = self.progress()
            if now != last:
                last, moved = now, time.monotonic()
            elif time.monotonic() - moved > stall_s:
                break

    def width(self, sleep_ms: int = 1_500, timeout: float = 20) -> tuple[int, dict[str, int]]:
        """Run a new batch of ``max_threads`` thread tasks and ``max_processes`` process tasks
        that all sleep; returns the slots it found missing, and the concurrency per mechanism.

        Task processes start on demand (one more each time every live one is busy), so
        process tasks sleep long enough for a slow start on a loaded machine (4 s)."""
        wanted = {"thread": self.max_threads, "process": self.max_processes}
        naps = {"thread": sleep_ms, "process": max(sleep_ms, 4_000)}
        specs = [Spec(m, sleep_ms=naps[m]) for m, n in wanted.items() for _ in range(n)]
        uuids = self.submit(specs, ledger=self.width_ledger)
        mechanism = {u: s.mechanism for u, s in zip(uuids, specs, strict=True)}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._ended(uuids):
            time.sleep(0.1)
        runs = read_ledger(self.width_ledger)
        seen = {}
        for kind in wanted:
            spans = [s for u in uuids if mechanism[u] == kind and u in runs for s in runs[u].starts]
            seen[kind] = concurrency(spans)
        return sum(max(wanted[k] - seen[k], 0) for k in wanted), seen

    def _ended(self, uuids: list[str]) -> bool:
        runs = read_ledger(self.width_ledger)
        return all(u in runs and runs[u].ended for u in uuids)

    def stop(self) -> float:
        """Stop the pool; returns how long ``stop()`` took."""
        if self.stop_s is None:
            started = time.monotonic()
            self.pool.stop(timeout=self.grace_ms / 1000 + 30)
            self.stop_s = time.monotonic() - started
        return self.stop_s

    def finish(
        self, settle_s: float = 20, width_timeout_s: float = 10, stall_s: float = 10
    ) -> FaultVerdict:
        """Stop the faults, let the pool settle, and check everything."""
        self.injector.clear()
        self.settle(settle_s, stall_s)
        runs = read_ledger(self.ledger)
        dead = self.dead()
        results = {u for u in self.sent if u in self.messages and self._has_result(u)}
        outcome = judge(self.sent, runs, dead, results, self.hits(), self.pending())
        leftover = patiently(lambda: self.producer.counts(QUEUE))
        leaked, seen = self.width(timeout=width_timeout_s)
        threads = self.watch.dead()
        stop_s = self.stop()
        return FaultVerdict(
            messages=len(self.sent),
            faults=len(self.injector.events),
            real_faults=self.real_faults,
            leftover=leftover,
            leaked_slots=leaked,
            dead_threads=tuple(threads),
            stop_s=stop_s,
            stop_limit_s=self.grace_ms / 1000 + 4,
            notes=(f"width seen {seen}", f"faults by kind {self.injector.by_kind()}"),
            **outcome,  # type: ignore[arg-type]
        )

    def _has_result(self, uuid: str) -> bool:
        message = self.messages[uuid]
        return bool(message.store_result) and patiently(lambda: self.results.exists(message))

    def close(self) -> None:
        """Release everything, whatever state the run ended in."""
        self.injector.clear()
        try:
            self.stop()
        finally:
            self.watch.uninstall()
            fault_tasks.bind(fault_tasks.placeholder, None)
