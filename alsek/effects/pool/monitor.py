"""The monitor thread: renews the leases of running jobs and enforces thread timeouts.

(And watches the event loop: a coroutine that outlives its own timeout
(``alsek.pure.watchdog.coroutine_timeout``) is recorded as timed out here,
and a loop kept from running by blocking code is named in a warning.)

It never dies: any error is logged and retried with jitter. A failed
renewal is retried soon, not a whole interval later
(``alsek.pure.pool.retry_renewal_after``), so a lease outlives an outage
shorter than itself. When the monitor itself wakes more than half a lease
late, a thread task holding the GIL starved it: the running thread tasks
are named in a warning. Process tasks time out in their own runner (it
kills the child); thread tasks here: raise, then abandon (``thread_timeout``).
"""

from __future__ import annotations

import functools
import logging
import random
import threading

from alsek.effects.broker import Broker
from alsek.effects.clock import monotonic_ms
from alsek.effects.events import Observers
from alsek.effects.execution import Executor
from alsek.effects.pool.cancels import Canceller, finish_abandoned
from alsek.effects.pool.slots import Slots
from alsek.effects.runners.job import Job
from alsek.effects.runners.thread import timed_out
from alsek.exceptions import BackendUnavailableError
from alsek.pure import pool as policy
from alsek.pure import watchdog
from alsek.pure.lifecycle import JobState
from alsek.pure.queue_model import LeaseRef
from alsek.pure.timing import renew_interval

log = logging.getLogger("alsek.worker")

#: After raising TimeoutError in a thread, how long to wait before giving up on it.
THREAD_KILL_GRACE_MS = 2_000
#: The longest the monitor sleeps without looking.
MAX_NAP_MS = 100
#: After a coroutine's timeout, how long its own cancellation may take before the
#: monitor records the timeout without it.
COROUTINE_GRACE_MS = 2_000
#: An event loop that has not run for this long is blocked (ms).
LOOP_STALL_MS = 1_000


class Monitor:
    """Renewals and thread timeouts for one pool (run ``run`` in a thread)."""

    def __init__(
        self,
        slots: Slots,
        broker: Broker,
        executor: Executor,
        lease_ms: int,
        canceller: Canceller | None = None,
        observers: Observers | None = None,
    ) -> None:
        self.slots = slots
        self.observers = observers
        self.canceller = canceller
        self.broker = broker
        self.executor = executor
        self.lease_ms = lease_ms
        self.wake = threading.Event()
        self.due = monotonic_ms()
        self.finished = threading.Event()
        self._loop_blocked = False

    def alarm(self, deadline: int) -> None:
        """A thread task starts with ``deadline``: wake up if that is before the next look."""
        if deadline < self.due:
            self.wake.set()

    def run(self, done: threading.Event) -> None:
        """Loop until ``done`` is set and no job holds a slot."""
        every = renew_interval(self.lease_ms)
        next_renew = monotonic_ms() + every
        failures = 0
        while not (done.is_set() and not self.slots.live()):
            now = monotonic_ms()
            try:
                self._warn_if_starved(now - self.due)
                if now >= next_renew:
                    self._renew(now)
                    next_renew, failures = now + every, 0
                due = min(self._enforce_thread_timeouts(now), self._enforce_coroutine_timeouts(now))
                self._warn_if_loop_blocked(now)
                nap = min(next_renew, due, now + MAX_NAP_MS) - now
                if self.canceller is not None:
                    nap = min(nap, self.canceller.check(now) - now)
            except Exception as error:  # outages, server refusals, bugs of ours: never die
                failures += 1
                nap = int(policy.retry_renewal_after(failures, self.lease_ms) * _jitter())
                if isinstance(error, BackendUnavailableError):
                    log.warning("could not renew leases (%s); retrying in %d ms", error, nap)
                else:
                    log.exception("the lease monitor failed; retrying in %d ms", nap)
                next_renew = min(next_renew, now + nap)
            nap = max(nap, 1)
            self.due = monotonic_ms() + nap
            self.wake.wait(nap / 1000)
            self.wake.clear()
        self.finished.set()

    def _renew(self, now: int) -> None:
        jobs = self.slots.live()
        if not jobs:
            return
        leases = [LeaseRef(job.claim.queue, job.claim.name, job.token) for job in jobs]
        held = self.broker.renew_leases(leases, self.lease_ms)
        still = set(self.slots.live())
        for job, ok in zip(jobs, held, strict=True):
            if ok:
                job.lease_expires = now + self.lease_ms
            elif not job.lease_lost and job in still:
                # (A job that finished meanwhile was simply acked: nothing lost.)
                job.lease_lost = True
                if job.state is JobState.RECORDING:
                    # Its outcome is on its way, and may just have been acked (a task
                    # process's ack rides on its next claim, reported after it): whoever
                    # records it says if the lease was lost.
                    log.debug("the lease on %s no longer holds while it is recorded", job.label)
                else:
                    log.warning("lost the lease on %s; its outcome will not be recorded", job.label)

    def check_starved(self, job: Job) -> None:
        """A thread task ends: if the monitor has been kept from running for more than
        half a lease (the task held the GIL), say so now, naming it."""
        self._warn_if_starved(monotonic_ms() - self.due, [job])

    def _warn_if_starved(self, late_ms: int, jobs: list[Job] | None = None) -> None:
        if not watchdog.starved(late_ms, self.lease_ms):
            return
        # (A task that held the GIL until it ended may be recording its outcome by now.)
        for job in self.slots.running("thread", recording=True) if jobs is None else jobs:
            if job.slow_renewal_logged:
                continue
            job.slow_renewal_logged = True
            log.warning(
                "leases were renewed %d ms late (lease %d ms) while %s ran in a thread: a thread "
                "task that holds the GIL starves the pool, and past its lease the message is "
                "redelivered while it still runs; use mechanism='process' for CPU-bound tasks",
                late_ms,
                self.lease_ms,
                job.label,
            )

    def _enforce_thread_timeouts(self, now: int) -> int:
        """Raise in or abandon overdue thread tasks; returns when to look again."""
        earliest = now + MAX_NAP_MS
        for job in self.slots.running("thread"):
            if job.deadline is None:
                continue
            action, due = watchdog.thread_timeout(
                now, job.deadline, job.interrupted_at, THREAD_KILL_GRACE_MS
            )
            if action is watchdog.TimeoutAction.RAISE:
                log.warning("%s timed out; raising TimeoutError in its thread", job.label)
                job.interrupted_at = now
                if job.worker is not None:
                    job.worker.interrupt(job)
            elif action is watchdog.TimeoutAction.ABANDON:
                # The thread ignores the exception (stuck in C code): record the
                # timeout ourselves and abandon the thread.
                log.error("%s did not stop; abandoning its thread", job.label)
                self._abandon_thread(job)
                continue
            earliest = min(earliest, due)
        return earliest

    def _enforce_coroutine_timeouts(self, now: int) -> int:
        """Record the timeout of coroutines that outlived theirs; returns when to look
        again."""
        earliest = now + MAX_NAP_MS
        for job in self.slots.running("async"):
            if job.deadline is None:
                continue
            action, due = watchdog.coroutine_timeout(now, job.deadline, COROUTINE_GRACE_MS)
            if action is watchdog.TimeoutAction.ABANDON:
                log.error(
                    "%s did not stop at its timeout (it blocks the event loop or ignores "
                    "its cancellation); recording the timeout without it",
                    job.label,
                )
                if job.worker is not None:
                    job.worker.interrupt(job)  # should it ever yield again
                observers = self.observers if self.observers is not None else Observers()
                finish_abandoned(
                    self.slots,
                    self.executor,
                    observers,
                    job,
                    functools.partial(timed_out, job),
                    worker_lost=False,
                )
                continue
            earliest = min(earliest, due)
        return earliest

    def _warn_if_loop_blocked(self, now: int) -> None:
        """Name the coroutines running while the pool's event loop is blocked (once per
        stall): blocking code in an ``async def`` task stalls every coroutine."""
        for loop in self.slots.event_loops():
            if not watchdog.loop_stalled(now, loop.beat, LOOP_STALL_MS):
                self._loop_blocked = False
                continue
            if self._loop_blocked:
                continue
            self._loop_blocked = True
            names = ", ".join(job.label for job in self.slots.running("async")) or "none"
            log.warning(
                "the pool's event loop has not run for %d ms: a coroutine calls blocking code "
                "(use await, or asyncio.to_thread); running coroutines: %s",
                now - loop.beat,
                names,
            )

    def _abandon_thread(self, job: Job) -> None:
        observers = self.observers if self.observers is not None else Observers()
        finish_abandoned(self.slots, self.executor, observers, job, lambda: timed_out(job))


def _jitter() -> float:
    """Spread retries of many pools apart, never later than the policy says."""
    return random.uniform(0.75, 1.0)
