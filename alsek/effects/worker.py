"""The worker pool: claims what it can run, runs it, records the outcome.

Threads:

* the **dispatcher** (the thread calling ``run()``) claims messages only
  when a slot of their mechanism is free (``alsek.pure.capacity``), hands
  them to runners, and at capacity sleeps until a slot frees - no timers,
  no fixed sleeps after a poll;
* **runners** (long-lived threads, and threads each driving one long-lived
  child process) run jobs and carry out the decision themselves, then free
  their slot;
* the **monitor** renews the leases of running jobs and enforces thread
  timeouts.

Stopping (``stop()``, SIGINT, SIGTERM): stop claiming, let running jobs
finish for ``grace_ms``, then hand the rest back to the queue at once.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from alsek import defaults
from alsek.effects.broker import Broker
from alsek.effects.clock import monotonic_ms, new_token
from alsek.effects.consumer import Consumer
from alsek.effects.execution import Executor
from alsek.effects.interpreter import persist
from alsek.effects.message import Message
from alsek.effects.runners.base import Hooks
from alsek.effects.runners.job import Job
from alsek.effects.runners.process import (
    ProcessSlot,
    multiprocessing_module,
    preload,
    start_method,
    task_modules,
)
from alsek.effects.runners.thread import ThreadWorker, timed_out
from alsek.effects.task import Task
from alsek.exceptions import BackendUnavailableError, ValidationError
from alsek.pure import capacity as cap
from alsek.pure.backoff import Backoff
from alsek.pure.decisions import Ack
from alsek.pure.lifecycle import JobEvent, JobState, holds_slot
from alsek.pure.lifecycle import step as lifecycle_step
from alsek.pure.ordering import queue_order
from alsek.pure.outcome import Outcome
from alsek.pure.queue_model import Claim
from alsek.pure.timing import renew_interval

log = logging.getLogger("alsek.worker")

#: After raising TimeoutError in a thread, how long to wait before giving up on it.
THREAD_KILL_GRACE_MS = 2_000


def backoff_pause(previous: float, ceiling: float = 5.0) -> float:
    """The next pause of a loop that keeps failing: doubled, capped, with jitter."""
    return min(previous * 2, ceiling) * random.uniform(0.75, 1.25)


def _broker_of(tasks: Sequence[Task]) -> Broker:
    """The broker every task uses (brokers on the same store and namespace count as one)."""
    brokers: dict[Any, Broker] = {}
    for task in tasks:
        brokers.setdefault(task.broker.backend.identity(), task.broker)
    if len(brokers) > 1:
        names = ", ".join(f"{t.name} -> {t.broker!r}" for t in tasks)
        raise ValidationError(f"a worker pool's tasks must share one broker; got {names}")
    return next(iter(brokers.values()))


class WorkerPool:
    """Runs tasks from a broker's queues with threads and processes.

    Args:
        tasks: the tasks this pool can run (all on one broker).
        queues: queues to consume, in priority order (default: the tasks'
            queues, alphabetically).
        max_threads: thread-mechanism tasks running at once.
        max_processes: process-mechanism tasks running at once (default:
            the CPU count).
        backoff: consumer backoff after empty passes.
        lease_ms: lease length; renewed every third of it while a task runs.
        grace_ms: how long a stopping pool lets running tasks finish.
        idle_ms: how long an idle worker thread or process lives.
        batch: most messages claimed in one round trip.
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        queues: Sequence[str] | None = None,
        max_threads: int = 8,
        max_processes: int | None = None,
        backoff: Backoff | None = None,
        lease_ms: int = defaults.DEFAULT_LEASE_MS,
        grace_ms: int = defaults.DEFAULT_GRACE_MS,
        idle_ms: int = defaults.DEFAULT_IDLE_MS,
        batch: int = 16,
    ) -> None:
        self.tasks = {task.name: task for task in tasks}
        if not self.tasks:
            raise ValidationError("a worker pool needs at least one task")
        self.broker = _broker_of(list(self.tasks.values()))
        if max_processes is None:
            max_processes = os.cpu_count() or 1
        self.capacity = cap.Capacity(max_threads=max_threads, max_processes=max_processes)
        known = {task.queue for task in self.tasks.values()}
        self.queues = queue_order(queues, known)
        self.consumer = Consumer(
            self.broker, subset=self.queues, backoff=backoff, lease_ms=lease_ms
        )
        self.executor = Executor(self.broker, lease_ms)
        self.lease_ms = lease_ms
        self.grace_ms = grace_ms
        self.idle_s = idle_ms / 1000
        self.batch = batch
        self.load = cap.Load()
        self.slots = threading.Condition()
        self.jobs: dict[str, Job] = {}
        # Successes whose only effect is an ack ride along with the next claim.
        self.pending_acks: list[Message] = []
        self.dispatcher_idle = False
        # Bumped whenever a slot frees; a dispatcher that saw it change since it
        # planned its claim must look again instead of going to sleep.
        self.slot_epoch = 0
        self.wake_key = f"pool-{new_token()}"
        # Alive workers per mechanism, and those of them waiting for a job.
        # Invariant (under ``slots``): busy workers == running jobs, so a free
        # slot always has an idle worker or room to start one.
        self.workers: dict[str, list[Any]] = {"thread": [], "process": []}
        self.idle: dict[str, list[Any]] = {"thread": [], "process": []}
        self.stopping = threading.Event()
        self.stopped = threading.Event()
        self._monitor_wake = threading.Event()
        self._monitor_due = monotonic_ms()
        self._thread: threading.Thread | None = None
        self._context: Any = None
        self.completed = 0

    def __repr__(self) -> str:
        return (
            f"WorkerPool(tasks={sorted(self.tasks)}, queues={list(self.queues)}, "
            f"max_threads={self.capacity.max_threads}, max_processes={self.capacity.max_processes})"
        )

    # -- lifecycle -----------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped (``stop()``, SIGINT or SIGTERM). Blocks."""
        restore = self._install_signals()
        try:
            self._check_backend()
            monitor = threading.Thread(target=self._monitor, daemon=True, name="alsek-monitor")
            monitor.start()
            log.info("started %r on %r", self, self.broker.backend)
            self._dispatch_loop()
            self._drain()
            monitor.join(5)
        finally:
            restore()
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
        self.consumer.stop()
        self._wake_dispatcher()
        self._monitor_wake.set()
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _install_signals(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            if self.stopping.is_set():
                log.warning("second %s: stopping now", signal.Signals(signum).name)
                self.grace_ms = 0
            else:
                log.info(
                    "%s received: stopping (grace %d ms)",
                    signal.Signals(signum).name,
                    self.grace_ms,
                )
            self.stop(wait=False)

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    def _check_backend(self) -> None:
        warnings = getattr(self.broker.backend, "server_warnings", None)
        if warnings is None:
            return
        try:
            for warning in warnings():
                log.warning("backend: %s", warning)
        except BackendUnavailableError as error:
            log.warning("backend unavailable at start-up (%s); will keep retrying", error)

    # -- dispatching -----------------------------------------------------------------

    def _wake_dispatcher(self) -> None:
        with self.slots:
            self.slots.notify_all()
        try:
            self.broker.backend.wake(self.wake_key)
        except BackendUnavailableError:
            pass  # it wakes by itself within a second

    def _dispatch_loop(self) -> None:
        pause = 0.05
        exhausted, last_epoch = False, -1
        next_wake: int | None = None
        while not self.stopping.is_set():
            acks: list[Message] = []
            try:
                with self.slots:
                    plan = cap.plan_claim(self.capacity, self.load, self.batch)
                    epoch = self.slot_epoch
                    acks, self.pending_acks = self.pending_acks, []
                    if plan.limit == 0 and not acks:
                        exhausted = False
                        self.slots.wait(1.0)
                        continue
                    # The last claim found the queues empty and nothing changed
                    # since: wait for work (and claim it the moment it arrives).
                    blocking = exhausted and not acks and epoch == last_epoch and plan.limit > 0
                    self.dispatcher_idle = blocking
                try:
                    if blocking:
                        found = self.consumer.wait_and_claim_raw(
                            plan.mechanisms, plan.limit, next_wake, self.wake_key
                        )
                    else:
                        found = self.consumer.claim_raw(plan.mechanisms, plan.limit, acks)
                    acks_sent = acks
                    acks = []
                finally:
                    if blocking:
                        with self.slots:
                            self.dispatcher_idle = False
                if blocking or found.claims:
                    pause = 0.05  # (an empty claim may succeed where the wait fails)
                self._report_acks(acks_sent, found.acked)
                for claim in found.claims:
                    self._dispatch(claim)
                exhausted = len(found.claims) < plan.limit
                last_epoch, next_wake = epoch, found.next_wake
            except Exception as error:  # outages, server refusals, bugs of ours: never die
                if acks:
                    with self.slots:
                        self.pending_acks[:0] = acks
                if isinstance(error, BackendUnavailableError):
                    log.warning("backend unavailable (%s); retrying in %.2fs", error, pause)
                else:
                    log.exception("claiming failed; retrying in %.2fs", pause)
                self.stopping.wait(pause)
                pause = backoff_pause(pause)
                exhausted = False

    @staticmethod
    def _report_acks(acks: Sequence[Message], accepted: Sequence[bool]) -> None:
        for message, ok in zip(acks, accepted, strict=False):
            if not ok:
                log.warning(
                    "lease on %s no longer holds: another consumer took it over; this "
                    "run's outcome is discarded",
                    message.summary,
                )

    def _flush_acks(self) -> None:
        with self.slots:
            acks, self.pending_acks = self.pending_acks, []
        if not acks:
            return
        try:
            found = persist(
                lambda: self.consumer.claim((), 0, acks),
                "acking finished tasks",
                patience_ms=10_000,
            )
            self._report_acks(acks, found.acked)
        except Exception as error:
            log.warning(
                "could not ack %d finished tasks (%s); they will be redelivered", len(acks), error
            )

    def _dispatch(self, claim: Claim) -> None:
        """Hand a raw claim to a worker of its mechanism (starting one if needed)."""
        job = Job(claim=claim, lease_expires=monotonic_ms() + self.lease_ms)
        kind = claim.mechanism if claim.mechanism in ("thread", "process") else "process"
        with self.slots:
            self.load = cap.admit(self.load, kind)  # type: ignore[arg-type]
            self.jobs[job.token] = job
        try:
            with self.slots:
                idle = self.idle[kind]
                worker = idle.pop() if idle else None
                if worker is None:
                    worker = (
                        self._new_thread_worker() if kind == "thread" else self._new_process_slot()
                    )
                    self.workers[kind].append(worker)
                    worker.start()
                job.worker = worker
                worker.mailbox.put(job)
        except Exception:  # no worker for it: let it go (redelivered after its lease)
            log.exception("could not hand %s to a worker", claim.name)
            self.step(job, JobEvent.ABANDON)

    # -- the job lifecycle -----------------------------------------------------------

    def step(self, job: Job, event: JobEvent, worker_lost: bool = False) -> bool:
        """Apply ``event`` to ``job`` (``alsek.pure.lifecycle``); give its slot back when
        the step says so. Returns whether the job's state changed."""
        with self.slots:
            result = lifecycle_step(job.state, event)
            job.state = result.state
            wake = result.frees_slot and self._free_locked(job, worker_lost)
        if wake:
            # The dispatcher sleeps on the backend, having found nothing it could
            # run then; now it can run this mechanism again.
            self._wake_dispatcher()
        return result.changed

    def _free_locked(self, job: Job, worker_lost: bool) -> bool:
        """Give ``job``'s slot back (the pool's lock is held). True: wake the dispatcher."""
        self.jobs.pop(job.token, None)
        mechanism = job.mechanism if job.mechanism in ("thread", "process") else "process"
        was_full = cap.free(self.capacity, self.load, mechanism) == 0  # type: ignore[arg-type]
        self.load = cap.finish(self.load, mechanism)  # type: ignore[arg-type]
        self.slot_epoch += 1
        if job.state is JobState.DONE:
            self.completed += 1
        worker = job.worker
        if worker is not None and worker in self.workers[mechanism]:
            if worker_lost:
                self.workers[mechanism].remove(worker)
                if worker in self.idle[mechanism]:
                    self.idle[mechanism].remove(worker)
            elif worker not in self.idle[mechanism]:
                self.idle[mechanism].append(worker)
        self.slots.notify_all()
        return was_full and self.dispatcher_idle and not self.stopping.is_set()

    def _prepare(self, job: Job) -> bool:
        """In the runner: decode the message, find its task, refuse what must not run."""
        if job.state is not JobState.CLAIMED:
            return False
        message = self.consumer.decode(job.claim)  # dead-letters poison itself
        task = None if message is None else self.tasks.get(message.task_name)
        if message is not None:
            job.message = message
            if self.executor.precheck(task, message) is None and task is not None:
                job.task = task
                return True
        self.step(job, JobEvent.REFUSE)
        return False

    def _hooks(self) -> Hooks:
        return Hooks(
            prepare=self._prepare,
            started=self._started,
            complete=self.complete,
            retire=self._retire,
            broken=self._broken,
            idle_s=self.idle_s,
        )

    def _new_thread_worker(self) -> ThreadWorker:
        return ThreadWorker(self._hooks())

    def _new_process_slot(self) -> ProcessSlot:
        if self._context is None:
            mp = multiprocessing_module()
            self._modules = task_modules([t.function.__module__ for t in self.tasks.values()])
            self._context = preload(mp, start_method(mp), self._modules)
        return ProcessSlot(self._hooks(), self._context, self._modules)

    def _broken(self, job: Job, error: BaseException) -> None:
        """A runner hit an unexpected error with ``job``: log it, let the job go (its
        lease expires and it is redelivered, counted as a crash), keep the runner."""
        log.error(
            "internal error while running %s; it will be redelivered when its lease expires",
            job.label,
            exc_info=error,
        )
        self.step(job, JobEvent.ABANDON)

    def _retire(self, worker: Any) -> bool:
        """An idle worker asks to exit; refused if a job was just handed to it."""
        with self.slots:
            for kind in ("thread", "process"):
                if worker in self.idle[kind]:
                    self.idle[kind].remove(worker)
                    self.workers[kind].remove(worker)
                    log.debug("retiring an idle %s worker", kind)
                    return True
            # A worker the pool gave up on (a thread stuck past its timeout) leaves too.
            return not any(worker in self.workers[kind] for kind in ("thread", "process"))

    # -- completion ----------------------------------------------------------------------

    def _started(self, job: Job) -> bool:
        """The runner is about to run ``job``'s task; False: it must not (handed back)."""
        now = monotonic_ms()
        job.started_at = now
        assert job.message is not None
        job.deadline = now + job.message.timeout
        if not self.step(job, JobEvent.START):
            return False
        if job.mechanism == "thread" and job.deadline < self._monitor_due:
            self._monitor_wake.set()  # due before the monitor would look again
        return True

    def complete(self, job: Job, outcome: Outcome, duration_ms: int | None = None) -> Job | None:
        """Record ``outcome`` of ``job`` (once), then give its slot back.

        A success whose only effect is an ack does not pay a round trip of its
        own: a process runner claims its next message in the same round trip
        and keeps its slot (returning that job); a thread runner's ack rides
        along with the dispatcher's next (batched) claim. Otherwise the slot
        is freed and None returned."""
        if not self.step(job, JobEvent.FINISH):
            return None  # the watchdog finished it, or it was let go: not ours to record
        follow: Job | None = None
        try:
            ack = self._record(job, outcome, duration_ms)
            if job.mechanism == "process":
                follow = self._next_job(job, ack)
            elif ack is not None:
                with self.slots:
                    if not self.dispatcher_idle and not self.stopping.is_set():
                        self.pending_acks.append(ack)  # the dispatcher is busy claiming
                        ack = None
                if ack is not None:
                    self._ack_now(job, ack)
        finally:
            if follow is None:
                self.step(job, JobEvent.RECORDED)
        return follow

    def _record(self, job: Job, outcome: Outcome, duration_ms: int | None) -> Message | None:
        """Carry out the decision; an ack-only success is returned to ride along instead."""
        try:
            assert job.task is not None and job.message is not None
            if duration_ms is None and job.started_at is not None:
                duration_ms = monotonic_ms() - job.started_at
            effects = self.executor.decide(job.task, job.message, outcome, duration_ms)
            if len(effects) == 1 and isinstance(effects[0], Ack) and job.message.lock:
                return job.message  # rides along with a claim
            self.executor.carry_out(job.task, job.message, effects, job.lease_expires)
        except Exception:
            log.exception(
                "could not record the outcome of %s; its lease will expire and it "
                "will be redelivered",
                job.label,
            )
        return None

    def _ack_now(self, job: Job, ack: Message) -> None:
        try:
            assert job.task is not None
            self.executor.carry_out(job.task, ack, (Ack(ack),), job.lease_expires)
        except Exception:
            log.exception("could not ack %s; it will be redelivered", job.label)

    def _next_job(self, job: Job, ack: Message | None) -> Job | None:
        """Claim the runner's next message of its mechanism, acking ``ack`` on the way.

        Returns the follow-up job, which inherits ``job``'s slot, or None."""
        acks = [ack] if ack is not None else []
        if self.stopping.is_set():
            with self.slots:
                self.pending_acks.extend(acks)
            return None
        try:
            requested = monotonic_ms()
            batch = self.consumer.claim_raw((job.mechanism,), 1, acks)  # type: ignore[arg-type]
        except Exception as error:
            with self.slots:
                self.pending_acks.extend(acks)
            if not isinstance(error, BackendUnavailableError):
                log.exception("claiming after %s failed", job.label)
            return None
        self._report_acks(acks, batch.acked)
        if not batch.claims:
            return None
        follow = Job(batch.claims[0], requested + self.lease_ms, worker=job.worker)
        with self.slots:
            self.jobs[follow.token] = follow
            # The slot passes from ``job`` to ``follow``: no free, no admit.
            result = lifecycle_step(job.state, JobEvent.FOLLOW)
            job.state = result.state
            self.jobs.pop(job.token, None)
            self.completed += 1
        return follow

    # -- monitoring ------------------------------------------------------------------------

    def _monitor(self) -> None:
        every = renew_interval(self.lease_ms)
        next_renew = monotonic_ms() + every
        pause = 0.05
        while not (self.stopped.is_set() or (self.stopping.is_set() and not self.jobs)):
            try:
                now = monotonic_ms()
                self._warn_if_starved(now - self._monitor_due)
                if now >= next_renew:
                    self._renew(now)
                    next_renew = now + every
                wake = self._enforce_thread_timeouts(now)
                wait_ms = max(min(next_renew, wake or next_renew, now + 100) - now, 1)
                pause = 0.05
            except Exception as error:  # outages, server refusals, bugs of ours: never die
                # Renewals are retried soon (not a whole interval later): a lease
                # must outlive an outage shorter than itself.
                if isinstance(error, BackendUnavailableError):
                    log.warning("could not renew leases (%s); retrying in %.2fs", error, pause)
                else:
                    log.exception("the lease monitor failed; retrying in %.2fs", pause)
                wait_ms = int(pause * 1000)
                pause = backoff_pause(pause, ceiling=min(every / 1000, 5.0))
            self._monitor_due = monotonic_ms() + wait_ms
            self._monitor_wake.wait(wait_ms / 1000)
            self._monitor_wake.clear()

    def _renew(self, now: int) -> None:
        with self.slots:
            jobs = [job for job in self.jobs.values() if holds_slot(job.state)]
        if not jobs:
            return
        leases = [(job.claim.queue, job.claim.name, job.token) for job in jobs]
        results = self.broker.renew_leases(leases, self.lease_ms)
        for job, held in zip(jobs, results, strict=True):
            if held:
                job.lease_expires = now + self.lease_ms
            elif not job.lease_lost and holds_slot(job.state):
                # (A job that finished meanwhile was simply acked: nothing lost.)
                job.lease_lost = True
                log.warning("lost the lease on %s; its outcome will not be recorded", job.label)

    def _warn_if_starved(self, late_ms: int) -> None:
        """A thread task that holds the GIL starves the monitor (and its renewals): when
        the monitor wakes more than half a lease late, name the thread tasks running."""
        if late_ms <= self.lease_ms // 2:
            return
        with self.slots:
            suspects = [
                job
                for job in self.jobs.values()
                if job.mechanism == "thread"
                and job.state is JobState.RUNNING
                and not job.slow_renewal_logged
            ]
        for job in suspects:
            job.slow_renewal_logged = True
            log.warning(
                "leases were renewed %d ms late (lease %d ms) while %s ran in a thread: a thread "
                "task that holds the GIL starves the pool, and past its lease the message is "
                "redelivered while it still runs; use mechanism='process' for CPU-bound tasks",
                late_ms,
                self.lease_ms,
                job.label,
            )

    def _enforce_thread_timeouts(self, now: int) -> int | None:
        earliest = None
        with self.slots:
            running = [
                j
                for j in self.jobs.values()
                if j.mechanism == "thread" and j.deadline and j.state is JobState.RUNNING
            ]
        for job in running:
            if job.deadline is None:
                continue
            if job.interrupted_at is None:
                if now >= job.deadline:
                    log.warning("%s timed out; raising TimeoutError in its thread", job.label)
                    job.interrupted_at = now
                    if job.worker is not None:
                        job.worker.interrupt(job)
                    due = now + THREAD_KILL_GRACE_MS
                else:
                    due = job.deadline
            elif now >= job.interrupted_at + THREAD_KILL_GRACE_MS:
                # The thread ignores the exception (stuck in C code): record the
                # timeout ourselves and abandon the thread.
                log.error("%s did not stop; abandoning its thread", job.label)
                self._abandon_thread(job)
                continue
            else:
                due = job.interrupted_at + THREAD_KILL_GRACE_MS
            earliest = due if earliest is None else min(earliest, due)
        return earliest

    def _abandon_thread(self, job: Job) -> None:
        if not self.step(job, JobEvent.FINISH):
            return  # it finished after all
        try:
            assert job.task is not None and job.message is not None
            self.executor.finish(job.task, job.message, timed_out(job), None, job.lease_expires)
        except Exception:
            log.exception("could not record the timeout of %s", job.label)
        finally:
            self.step(job, JobEvent.RECORDED, worker_lost=True)

    # -- stopping --------------------------------------------------------------------------

    def _drain(self) -> None:
        started = time.monotonic()
        self._flush_acks()
        with self.slots:
            # Re-read the grace each time: a second signal cuts it to zero.
            while self.jobs and time.monotonic() < started + self.grace_ms / 1000:
                self.slots.wait(min(started + self.grace_ms / 1000 - time.monotonic(), 0.5))
            remaining = list(self.jobs.values())
        self._flush_acks()
        for job in remaining:
            self._hand_back(job)
        with self.slots:
            workers = [w for kind in ("thread", "process") for w in self.workers[kind]]
        for worker in workers:
            worker.mailbox.put(None)
            if isinstance(worker, ProcessSlot):
                worker.join(5)
        self._flush_acks()

    def _hand_back(self, job: Job) -> None:
        running_child = isinstance(job.worker, ProcessSlot) and job.worker.job is job
        if not self.step(job, JobEvent.HAND_BACK, worker_lost=job.mechanism == "thread"):
            return
        try:
            if running_child:
                job.worker.kill_child()
            message = job.message or self.consumer.decode(job.claim)
            if message is not None:
                persist(
                    lambda: self.broker.hand_back(message),
                    f"handing back {message.summary}",
                    patience_ms=10_000,
                )
                log.info("handed back %s", message.summary)
        except Exception as error:
            log.warning(
                "could not hand back %s (%s); it returns when its lease expires", job.label, error
            )
