"""Task processes and the thread that supervises them.

Task processes claim, run and record their own messages
(``alsek.effects.runners.child``); one supervisor thread per pool watches
all of them at once (their pipes and their sentinels) and:

* mirrors each process's current claim as a ``Job`` in the pool's slots
  (so its lease is renewed and its slot counted), from the process's
  reports (``reports``);
* starts processes on demand and retires idle ones
  (``alsek.pure.pool.children_to_start`` / ``children_to_retire``);
* kills a process whose task passed its deadline, and finishes recording
  the job of a process that died (``reports.Mirror``);
* stops them: ``stop`` lets each finish its task, ``kill_all`` ends them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from multiprocessing.connection import wait as wait_for
from typing import Any

from alsek.effects.clock import monotonic_ms
from alsek.effects.pool.reports import Mirror
from alsek.effects.runners.child import ChildSetup, child_main, new_wake_key
from alsek.effects.runners.job import Job
from alsek.effects.runners.process import describe_exit
from alsek.pure import pool as policy

log = logging.getLogger("alsek.worker")

KILL_GRACE_S = 1.0
#: Longest wait of the supervisor without looking at deadlines and idle processes.
MAX_NAP_S = 0.5
#: After a process failed to start, wait this long before trying again.
RESPAWN_PAUSE_MS = 1_000


class Child:
    """One task process, as its supervisor sees it."""

    def __init__(self, number: int, process: Any, conn: Any, wake_key: str) -> None:
        self.number = number
        self.process = process
        self.conn = conn
        self.wake_key = wake_key
        self.ready = False
        self.job: Job | None = None
        self.idle_since = monotonic_ms()
        self.leaving = False  # told to stop or retire

    @property
    def pid(self) -> int | None:
        """The process id."""
        return None if self.process is None else int(self.process.pid)

    def send(self, command: tuple[str, ...]) -> None:
        """A command for the process (never raises: a dead process cannot listen)."""
        try:
            self.conn.send(command)
        except (OSError, ValueError, BrokenPipeError):
            pass

    def kill(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after a grace)."""
        process = self.process
        if process.is_alive():
            process.terminate()
            process.join(KILL_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join(KILL_GRACE_S)


class Children(threading.Thread):
    """The supervisor of one pool's task processes (at most ``max_processes``).

    Args:
        mirror: turns reports into job steps and finishes the jobs of dead processes.
        setup: what each process is sent when it starts.
        context: the multiprocessing context to start processes with.
        max_processes: the most processes alive at once.
        idle_ms: how long an idle process lives (one always stays).
        wake: wakes a process blocked on the backend (by its wake key).
    """

    def __init__(
        self,
        mirror: Mirror,
        setup: Callable[[str], ChildSetup],
        context: Callable[[], Any],
        max_processes: int,
        idle_ms: int,
        wake: Callable[[str], None],
    ) -> None:
        super().__init__(daemon=True, name="alsek-children")
        self.mirror = mirror
        self.setup = setup
        self.context = context
        self.max_processes = max_processes
        self.idle_ms = idle_ms
        self.wake = wake
        self.children: list[Child] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self._numbers = 0
        self._no_spawn_until = 0

    # -- the loop ------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not (self.stopping.is_set() and not self._alive()):
                try:
                    self._step()
                except Exception:  # never die: the pool's process tasks depend on us
                    log.exception("supervising task processes failed; carrying on")
                    self.stopping.wait(0.1)
        finally:
            self.finished.set()

    def _step(self) -> None:
        if not self.stopping.is_set():
            self._scale(monotonic_ms())
        with self.lock:
            children = list(self.children)
        waitables = [c.conn for c in children] + [c.process.sentinel for c in children]
        ready = wait_for(waitables, timeout=self._nap(children)) if waitables else []
        if not waitables:
            self.stopping.wait(MAX_NAP_S)
        for child in children:
            if child.conn in ready:
                self._read(child)
            if child.process.sentinel in ready:
                self._exited(child)
        now = monotonic_ms()
        for child in children:
            job = child.job
            if job is not None and self.mirror.overdue(job, now):
                self._read(child)  # it may have finished just now: its reports say so
                job = child.job
                if job is None or not self.mirror.overdue(job, now):
                    continue
                log.warning("%s timed out; terminating task process %s", job.label, child.pid)
                child.kill()
                self._exited(child, timed_out=True)

    def _nap(self, children: list[Child]) -> float:
        now = monotonic_ms()
        deadlines = [c.job.deadline for c in children if c.job is not None and c.job.deadline]
        nap = min([d - now for d in deadlines], default=int(MAX_NAP_S * 1000))
        return max(min(nap / 1000, MAX_NAP_S), 0.001)

    def _read(self, child: Child) -> None:
        while True:
            try:
                if not child.conn.poll():
                    return
                report = child.conn.recv()
            except (EOFError, OSError):
                return  # it died: the sentinel tells
            if report[0] == "ready":
                child.ready = True
                child.idle_since = monotonic_ms()
            else:
                self.mirror.report(child, report)

    def _exited(self, child: Child, timed_out: bool = False) -> None:
        with self.lock:
            if child not in self.children:
                return
            self.children.remove(child)
        child.process.join(KILL_GRACE_S)
        self._read(child)  # reports written before it died
        if child.job is not None:
            how = "timed out" if timed_out else describe_exit(child.process.exitcode)
            self.mirror.lost(child, child.job, how, timed_out)
        elif not child.leaving:
            log.warning(
                "task process %s exited (%s)", child.pid, describe_exit(child.process.exitcode)
            )
            if not child.ready:
                self._no_spawn_until = monotonic_ms() + RESPAWN_PAUSE_MS
        try:
            child.conn.close()
        except OSError:
            pass

    # -- how many --------------------------------------------------------------------

    def _alive(self) -> bool:
        with self.lock:
            return bool(self.children)

    def _scale(self, now: int) -> None:
        with self.lock:
            ready = [c for c in self.children if c.ready and not c.leaving]
            starting = sum(1 for c in self.children if not c.ready)
        busy = sum(1 for c in ready if c.job is not None)
        if now >= self._no_spawn_until:
            for _ in range(
                policy.children_to_start(len(ready), busy, starting, self.max_processes)
            ):
                self._spawn()
        idle = {c.number: c.idle_since for c in ready if c.job is None}
        for number in policy.children_to_retire(idle, now, self.idle_ms, len(ready)):
            child = next(c for c in ready if c.number == number)
            log.debug("retiring idle task process %s", child.pid)
            child.leaving = True
            child.send(("retire",))
            self.wake(child.wake_key)

    def _spawn(self) -> None:
        context = self.context()
        parent, child_end = context.Pipe(duplex=True)
        wake_key = new_wake_key()
        process = context.Process(
            target=child_main,
            args=(child_end, self.setup(wake_key)),
            daemon=True,
            name="alsek-task-process",
        )
        self._numbers += 1
        try:
            process.start()
        except Exception:
            log.exception("could not start a task process")
            self._no_spawn_until = monotonic_ms() + RESPAWN_PAUSE_MS
            parent.close()
            return
        finally:
            child_end.close()
        child = Child(self._numbers, process, parent, wake_key)
        with self.lock:
            # The pool may have stopped while the process started: ``stop`` and
            # ``kill_all`` only reach the processes in the list, and one left out
            # would claim messages with nobody renewing their leases.
            if not self.stopping.is_set():
                self.children.append(child)
                log.debug("started task process %s", process.pid)
                return
        child.kill()
        parent.close()

    # -- stopping --------------------------------------------------------------------

    def stop(self) -> None:
        """Claim nothing more: each process finishes its task, sends its ack, exits."""
        self.stopping.set()
        with self.lock:
            children = list(self.children)
        for child in children:
            child.leaving = True
            child.send(("stop",))
            self.wake(child.wake_key)

    def kill_all(self) -> None:
        """End every process now (after the grace period); start none any more (the pool
        can get here before ``stop``)."""
        self.stopping.set()
        with self.lock:
            children = list(self.children)
        for child in children:
            child.leaving = True
            child.kill()
