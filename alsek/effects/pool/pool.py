"""The worker pool: claims what it can run, runs it, records the outcome.

Threads, each owning one part (``alsek.effects.pool``):

* the **dispatcher** (the thread calling ``run()``) claims messages only
  when a slot of their mechanism is free and hands them to runners;
* **runners** (long-lived threads, and threads each driving one long-lived
  child process) run jobs and record their outcomes (``completion``);
* the **event loop** (one thread, started with the first coroutine) runs the
  coroutines of ``async def`` thread-mechanism tasks, up to ``max_async``
  at once (``alsek.effects.runners.loop``);
* the **monitor** renews the leases of running jobs and enforces thread
  timeouts.

What each of them decides is ``alsek.pure.pool``'s and
``alsek.pure.lifecycle``'s; this module only starts, stops and wires them.
Stopping (``stop()``, SIGINT, SIGTERM): stop claiming, let running jobs
finish for ``grace_ms``, then hand the rest back to the queue at once; a
second signal cuts the grace.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from alsek import defaults
from alsek.effects.backends.operations_for import operations_for
from alsek.effects.backends.transfer import check_transferable
from alsek.effects.clock import monotonic_ms, new_token
from alsek.effects.consumer import Consumer
from alsek.effects.events import Observer, Observers
from alsek.effects.execution import Executor
from alsek.effects.pool import acks as ack_batches
from alsek.effects.pool.cancels import Canceller
from alsek.effects.pool.children import Children
from alsek.effects.pool.completion import Completion
from alsek.effects.pool.dispatcher import Dispatcher
from alsek.effects.pool.heartbeat import Heartbeat, new_worker_id
from alsek.effects.pool.monitor import Monitor
from alsek.effects.pool.reports import Mirror
from alsek.effects.pool.runners import RunnerFactory
from alsek.effects.pool.shutdown import hand_back, install_signals
from alsek.effects.pool.sizing import async_slots, broker_of, slot_limits
from alsek.effects.pool.slots import Slots, kind_of
from alsek.effects.runners.child import ChildSetup
from alsek.effects.task import Task
from alsek.exceptions import BackendUnavailableError, ValidationError
from alsek.pure import capacity as cap
from alsek.pure import pool as policy
from alsek.pure.backoff import Backoff
from alsek.pure.ordering import queue_order

log = logging.getLogger("alsek.worker")


class WorkerPool:
    """Runs tasks from a broker's queues with threads and processes.

    Args:
        tasks: the tasks this pool can run (all on one broker).
        queues: queues to consume, in priority order (default: the tasks'
            queues, alphabetically).
        max_threads: thread-mechanism tasks running at once.
        max_processes: process-mechanism tasks running at once (default:
            the CPU count).
        max_async: coroutines of ``async def`` thread-mechanism tasks running at
            once on the pool's event loop (they hold no thread).
        backoff: consumer backoff after empty passes.
        lease_ms: lease length; renewed every third of it while a task runs.
        grace_ms: how long a stopping pool lets running tasks finish.
        idle_ms: how long an idle worker thread or process lives.
        batch: most messages claimed in one round trip.
        observers: told about claims, starts, outcomes and releases
            (``alsek.effects.events.Observer``).
    """

    def __init__(
        self,
        tasks: Iterable[Task[Any, Any]],
        queues: Sequence[str] | None = None,
        max_threads: int = defaults.DEFAULT_MAX_THREADS,
        max_processes: int | None = None,
        max_async: int = defaults.DEFAULT_MAX_ASYNC,
        backoff: Backoff | None = None,
        lease_ms: int = defaults.DEFAULT_LEASE_MS,
        grace_ms: int = defaults.DEFAULT_GRACE_MS,
        idle_ms: int = defaults.DEFAULT_IDLE_MS,
        batch: int = defaults.DEFAULT_BATCH,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.tasks = {task.name: task for task in tasks}
        if not self.tasks:
            raise ValidationError("a worker pool needs at least one task")
        self.broker = broker_of(list(self.tasks.values()))
        if max_processes is None:
            max_processes = os.cpu_count() or 1
        coroutines = async_slots(self.tasks.values(), max_async)
        capacity = cap.Capacity(
            max_threads=max_threads, max_processes=max_processes, max_async=coroutines
        )
        cap.plan_claim(capacity, cap.Load(), batch)  # validates batch
        task_queues = {task.queue for task in self.tasks.values()}
        self.queues = queue_order(queues, task_queues)
        for queue in self.queues:
            if queue not in task_queues:
                log.warning(
                    "queue %r is not the queue of any task here (%s): only messages "
                    "generated with queue=%r run from it",
                    queue,
                    ", ".join(sorted(task_queues)),
                    queue,
                )
        self.consumer = Consumer(
            self.broker, subset=self.queues, backoff=backoff, lease_ms=lease_ms
        )
        self.lease_ms = lease_ms
        self.grace_ms = grace_ms
        self.stopping = threading.Event()
        self.stopped = threading.Event()
        self.observers = Observers()
        for observer in observers:
            self.observers.add(observer)
        token = new_token()
        self.operations = operations_for(self.broker.backend)
        self.heartbeat = Heartbeat(
            self.operations,
            new_worker_id(token),
            self.queues,
            slot_limits(capacity),
            self.busy,
        )
        self.observers.add(self.heartbeat)
        self.runners = RunnerFactory(self.tasks.values())
        processes = max_processes if self._has("process") else 0
        self.slots = Slots(
            capacity,
            self.runners.new,
            lambda: self.dispatcher.interrupt(),
            frozenset({"process"}) if processes else frozenset(),
        )
        executor = Executor(self.broker, lease_ms)
        self.completion = Completion(
            self.slots, self.tasks, self.consumer, executor, self.observers, lease_ms, idle_ms
        )
        self.runners.hooks = self.completion.hooks()
        self.dispatcher = Dispatcher(
            self.slots,
            self.consumer,
            self.observers,
            lease_ms,
            batch,
            f"pool-{token}",
            self.stopping,
        )
        canceller = Canceller(self.slots, self.operations, executor, self.observers)
        self.completion.review = canceller.review
        self.monitor = Monitor(
            self.slots, self.broker, executor, lease_ms, canceller, self.observers
        )
        self.completion.on_thread_deadline = self.monitor.alarm
        self.completion.on_thread_end = self.monitor.check_starved
        self.children = self._children(processes, executor, backoff, idle_ms)
        if self.children is not None:
            self.children.mirror.review = canceller.review
        self._thread: threading.Thread | None = None

    def _has(self, mechanism: str) -> bool:
        return any(task.mechanism == mechanism for task in self.tasks.values())

    def _children(
        self, processes: int, executor: Executor, backoff: Backoff | None, idle_ms: int
    ) -> Children | None:
        """The supervisor of the task processes (None when no task runs in one)."""
        if not processes:
            return None
        stores = {name: task.result_store for name, task in self.tasks.items()}
        check_transferable((self.broker, stores))
        mirror = Mirror(
            self.slots, self.tasks, self.consumer, executor, self.observers, self.lease_ms
        )

        def setup(wake_key: str) -> ChildSetup:
            return ChildSetup(
                self.broker,
                stores,
                self.runners.modules,
                self.queues,
                self.lease_ms,
                backoff,
                wake_key,
            )

        return Children(
            mirror, setup, self.runners.context, processes, idle_ms, self.broker.backend.wake
        )

    @staticmethod
    def slot_limits(capacity: cap.Capacity) -> dict[str, int]:
        """Slots per kind (thread, process, async), as the registry and metrics show them."""
        return slot_limits(capacity)

    @property
    def capacity(self) -> cap.Capacity:
        """The pool's slot limits."""
        return self.slots.capacity

    @property
    def completed(self) -> int:
        """Tasks whose outcome this pool recorded."""
        return self.slots.completed

    @property
    def worker_id(self) -> str:
        """This pool's id in the worker registry."""
        return self.heartbeat.worker_id

    def busy(self) -> dict[str, int]:
        """Slots in use per kind (as ``slot_limits``)."""
        busy = dict.fromkeys(slot_limits(self.capacity), 0)
        for job in self.slots.live():
            kind = kind_of(job)
            busy[kind] = busy.get(kind, 0) + 1
        return busy

    def __repr__(self) -> str:
        return (
            f"WorkerPool(tasks={sorted(self.tasks)}, queues={list(self.queues)}, "
            f"max_threads={self.capacity.max_threads}, "
            f"max_processes={self.capacity.max_processes}, max_async={self.capacity.max_async})"
        )

    def add_observer(self, observer: Observer) -> None:
        """Tell ``observer`` about this pool's claims, starts, outcomes and releases."""
        self.observers.add(observer)

    # -- lifecycle -----------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped (``stop()``, SIGINT or SIGTERM). Blocks."""
        restore = install_signals(self)
        try:
            self._check_backend()
            monitor = threading.Thread(
                target=self.monitor.run, args=(self.stopping,), daemon=True, name="alsek-monitor"
            )
            monitor.start()
            if self.children is not None:
                self.children.start()
            self.heartbeat.start()
            log.info(
                "started %r on %s (namespace %r) as worker %s",
                self,
                self.operations.describe(),
                self.broker.backend.namespace,
                self.worker_id,
            )
            self.dispatcher.run()
            self._drain()
            monitor.join(5)
        finally:
            restore()
            self.heartbeat.stop()
            self.stopped.set()
            log.info("pool stopped after %d tasks", self.completed)

    def start(self) -> WorkerPool:
        """Run in a background thread; returns at once."""
        self._thread = threading.Thread(target=self.run, daemon=True, name="alsek-pool")
        self._thread.start()
        return self

    def stop(
        self, grace_ms: int | None = None, wait: bool = True, timeout: float | None = 30
    ) -> None:
        """Stop claiming, let running tasks finish within ``grace_ms``, hand back the rest."""
        if grace_ms is not None:
            self.grace_ms = grace_ms
        self.stopping.set()
        self.slots.stop()
        self.consumer.stop()
        self.dispatcher.interrupt()
        self.monitor.wake.set()
        if self.children is not None:
            self.children.stop()
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _check_backend(self) -> None:
        """Fail at once on refused credentials; an outage only warns (the pool waits it
        out); settings that weaken the guarantees are logged."""
        backend = self.broker.backend
        try:
            backend.check()
            for warning in backend.server_warnings():
                log.warning("backend: %s", warning)
        except BackendUnavailableError as error:
            log.warning("backend unavailable at start-up (%s); will keep retrying", error)

    # -- stopping ------------------------------------------------------------------

    def _drain(self) -> None:
        if self.children is not None:
            self.children.stop()  # (this thread can get here before ``stop()`` tells them)
        ack_batches.flush(self.consumer, self.slots.take_acks(), self.observers)
        started = monotonic_ms()
        while True:
            with self.slots.cond:
                # Re-read the grace each time: a second signal cuts it to zero.
                now = monotonic_ms()
                action, until = policy.drain(now, started, self.grace_ms, len(self.slots.live()))
                if action is policy.DrainAction.WAIT:
                    self.slots.cond.wait(min(until - now, 500) / 1000)
                    continue
            break
        ack_batches.flush(self.consumer, self.slots.take_acks(), self.observers)
        for job in self.slots.live():
            hand_back(self.slots, self.consumer, self.observers, job)
        for runner in self.slots.runners():
            runner.mailbox.put(None)
        if self.children is not None:
            self.children.kill_all()
            self.children.finished.wait(5)
        ack_batches.flush(self.consumer, self.slots.take_acks(), self.observers)
