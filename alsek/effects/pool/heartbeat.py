"""The worker registry's writer: one pool's heartbeat record, kept current.

``Heartbeat`` is a pool observer that tallies claims, starts and outcomes
(``alsek.pure.workers``), also minute by minute over the last hour
(``alsek.pure.activity``), and, on its own thread, writes the pool's
``WorkerRecord`` to the backend every ``HEARTBEAT_MS`` with a TTL of
``HEARTBEAT_TTL_MS``: a pool that dies drops out of the registry when its
record expires, and a clean stop removes it at once. A failed write is
logged and retried on the next beat; it never disturbs the pool.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence

from alsek import defaults
from alsek.effects.backends.operations import Operations
from alsek.effects.clock import monotonic_ms, utcnow_ms
from alsek.effects.events import Claimed, Finished, Observer, Released, Started
from alsek.exceptions import ValidationError
from alsek.pure import activity, codec
from alsek.pure import workers as stats
from alsek.pure.keys import parse_message_name
from alsek.pure.outcome import Succeeded

log = logging.getLogger("alsek.worker")


class Minute:
    """One task's counts in one minute (mutable, under the lock)."""

    __slots__ = ("buckets", "counts")

    def __init__(self) -> None:
        #: arrived, succeeded, failed, run_ms_sum
        self.counts = [0, 0, 0, 0]
        self.buckets: dict[int, int] = {}

    def freeze(self, minute: int) -> activity.MinuteRow:
        arrived, succeeded, failed, run_ms = self.counts
        return activity.minute_row(minute, arrived, succeeded, failed, run_ms, self.buckets)


class Tally:
    """One task's running counts (mutable: updated on every event, under the lock)."""

    __slots__ = ("buckets", "counts", "mechanism", "minutes", "queue")

    def __init__(self) -> None:
        #: claimed, started, succeeded, failed, run_ms_sum, wait_ms_sum
        self.counts = [0, 0, 0, 0, 0, 0]
        self.buckets = [0] * (len(stats.RUN_BUCKETS_MS) + 1)
        self.minutes: dict[int, Minute] = {}
        self.queue: str | None = None
        self.mechanism = "thread"

    def minute(self, at: int, now: int) -> Minute | None:
        """The counts of the minute holding ``at`` (None: older than the history at
        ``now``)."""
        minute = activity.minute_of(at)
        row = self.minutes.get(minute)
        if row is None:
            if minute < activity.first_kept(now):
                return None
            row = self.minutes[minute] = Minute()
        return row

    def arrived(self, ready_at: int, started_at: int) -> None:
        row = self.minute(min(ready_at, started_at), started_at)
        if row is not None:
            row.counts[0] += 1

    def finished(self, succeeded: bool, run_ms: int | None, at: int) -> None:
        self.counts[2 if succeeded else 3] += 1
        row = self.minute(at, at)
        if row is not None:
            row.counts[1 if succeeded else 2] += 1
        if run_ms is not None:
            bucket = stats.bucket_of(run_ms)
            self.counts[4] += max(run_ms, 0)
            self.buckets[bucket] += 1
            if row is not None:
                row.counts[3] += max(run_ms, 0)
                row.buckets[bucket] = row.buckets.get(bucket, 0) + 1

    def freeze(self) -> stats.TaskStats:
        claimed, started, succeeded, failed, run_ms, wait_ms = self.counts
        buckets = tuple(self.buckets)
        return stats.task_stats(claimed, started, succeeded, failed, run_ms, wait_ms, buckets)

    def recent(self, now: int) -> activity.TaskActivity | None:
        """The task's minutes still inside the history at ``now`` (older ones are
        dropped); None before it first started here."""
        first = activity.first_kept(now)
        for minute in [m for m in self.minutes if m < first]:
            del self.minutes[minute]
        if self.queue is None:
            return None
        rows = activity.trim((row.freeze(m) for m, row in self.minutes.items()), now)
        return activity.TaskActivity(self.queue, self.mechanism, rows)


def new_worker_id(token: str) -> str:
    """A pool's id in the registry: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{token[:6]}"


class Heartbeat(Observer):
    """Tallies one pool's work and keeps its record in the registry.

    Args:
        operations: the backend's operations (``put_worker``/``drop_worker``).
        worker_id: the pool's id.
        queues: the queues it consumes.
        slots: its slots per mechanism.
        busy: returns its slots in use per mechanism (read at each beat).
        every_ms: how often the record is written.
        ttl_ms: how long a record outlives its last write.
    """

    def __init__(
        self,
        operations: Operations,
        worker_id: str,
        queues: Sequence[str],
        slots: dict[str, int],
        busy: Callable[[], dict[str, int]],
        every_ms: int = defaults.HEARTBEAT_MS,
        ttl_ms: int = defaults.HEARTBEAT_TTL_MS,
    ) -> None:
        self.operations = operations
        self.worker_id = worker_id
        self.queues = tuple(queues)
        self.slots = dict(slots)
        self.busy = busy
        self.every_ms = every_ms
        self.ttl_ms = ttl_ms
        self.started_at = utcnow_ms()
        self.lock = threading.Lock()
        self.tasks: dict[str, Tally] = {}
        self.running: dict[str, stats.RunningTask] = {}
        self.processed = 0
        self.failed = 0
        self.throughput = stats.Throughput()
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    # -- observing -----------------------------------------------------------------

    def _tally(self, task: str) -> Tally:
        tally = self.tasks.get(task)
        if tally is None:
            tally = self.tasks[task] = Tally()
        return tally

    def on_claimed(self, event: Claimed) -> None:
        try:
            task = parse_message_name(event.name)[1]
        except ValidationError:
            return  # poison under a foreign key: it is dead-lettered, not run
        with self.lock:
            self._tally(task).counts[0] += 1

    def on_started(self, event: Started) -> None:
        message = event.message
        running = stats.RunningTask(
            message.uuid, message.task_name, message.queue, event.mechanism, event.at
        )
        wait = event.at - message.ready_at
        with self.lock:
            self.running[message.lock or message.uuid] = running
            tally = self._tally(message.task_name)
            tally.queue, tally.mechanism = message.queue, event.mechanism
            tally.counts[1] += 1
            tally.counts[5] += max(wait, 0)
            tally.arrived(message.ready_at, event.at)

    def on_outcome(self, event: Finished) -> None:
        ok = isinstance(event.outcome, Succeeded)
        with self.lock:
            self.running.pop(event.token, None)
            self._tally(event.message.task_name).finished(ok, event.duration_ms, event.at)
            self.processed += 1
            self.failed += 0 if ok else 1

    def on_released(self, event: Released) -> None:
        with self.lock:
            self.running.pop(event.token, None)

    # -- the record ----------------------------------------------------------------

    def record(self, now: int | None = None) -> stats.WorkerRecord:
        """The pool's record as of ``now`` (UTC ms)."""
        now = utcnow_ms() if now is None else now
        busy = self.busy()
        with self.lock:
            self.throughput = stats.sample(self.throughput, now, self.processed)
            return stats.WorkerRecord(
                id=self.worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=self.started_at,
                heartbeat_at=now,
                queues=self.queues,
                slots=dict(self.slots),
                busy=busy,
                running=tuple(sorted(self.running.values(), key=lambda r: r.started_at)),
                processed=self.processed,
                failed=self.failed,
                tasks_per_s=round(stats.per_second(self.throughput), 3),
                tasks={task: tally.freeze() for task, tally in self.tasks.items()},
                activity=self._activity(now),
            )

    def _activity(self, now: int) -> dict[str, activity.TaskActivity]:
        recent = {task: tally.recent(now) for task, tally in self.tasks.items()}
        return {task: rows for task, rows in recent.items() if rows is not None}

    def beat(self) -> None:
        """Write the record now; a failure is logged (once per outage), never raised."""
        try:
            self.operations.put_worker(
                self.worker_id, codec.unstructure(self.record()), self.ttl_ms
            )
        except Exception as error:
            if not self._failing:
                log.warning("could not write the worker registry record (%s); retrying", error)
            self._failing = True
            return
        if self._failing:
            log.info("worker registry record written again")
        self._failing = False

    def _run(self) -> None:
        due = monotonic_ms()
        while not self.stop_event.is_set():
            self.beat()
            due += self.every_ms
            self.stop_event.wait(max(due - monotonic_ms(), 0) / 1000)

    def start(self) -> None:
        """Write the first record and keep writing on a daemon thread."""
        self._thread = threading.Thread(target=self._run, daemon=True, name="alsek-heartbeat")
        self._thread.start()

    def stop(self) -> None:
        """Stop writing and remove the record (a clean stop)."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.operations.drop_worker(self.worker_id)
        except Exception as error:  # it expires on its own
            log.warning("could not remove the worker registry record (%s)", error)
