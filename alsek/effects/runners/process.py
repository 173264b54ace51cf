"""Process runner: long-lived child processes, one job at a time each.

A parent-side thread owns each child: it sends the job down a pipe and waits
for the outcome, the child's death, or the task's deadline, whichever comes
first. A timed-out child is terminated (SIGKILL if it lingers) and replaced
on the next job; a dead child is noticed at once through its sentinel, so
its message is redelivered without waiting for the lease. Children are
never forked per task.

Children start with the ``forkserver`` method where available (a clean,
single-threaded parent to fork from) and ``spawn`` elsewhere;
``ALSEK_MULTIPROCESS_BACKEND=pytorch`` uses ``torch.multiprocessing``.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import wait as wait_for
from typing import Any

from alsek.effects.clock import monotonic_ms
from alsek.effects.runners.base import Hooks, Runner
from alsek.effects.runners.job import Job
from alsek.effects.runners.thread import timed_out
from alsek.exceptions import ValidationError
from alsek.pure.outcome import Crashed, ErrorInfo, Failed, Outcome

log = logging.getLogger("alsek.worker")

KILL_GRACE_S = 1.0
START_TIMEOUT_S = 60.0


def multiprocessing_module() -> Any:
    """The multiprocessing implementation chosen by ``ALSEK_MULTIPROCESS_BACKEND``."""
    choice = os.environ.get("ALSEK_MULTIPROCESS_BACKEND", "standard").strip().lower()
    if choice in ("", "standard", "stdlib", "multiprocessing"):
        import multiprocessing

        return multiprocessing
    if choice in ("pytorch", "torch"):
        try:
            import torch.multiprocessing as torch_mp
        except ImportError as error:
            raise ValidationError(
                "ALSEK_MULTIPROCESS_BACKEND=pytorch needs PyTorch, which is not installed "
                f"({error}); install torch or unset the variable"
            ) from error
        return torch_mp
    raise ValidationError(
        f"ALSEK_MULTIPROCESS_BACKEND must be 'standard' or 'pytorch', got {choice!r}"
    )


def start_method(mp: Any) -> str:
    """``$ALSEK_START_METHOD``, else forkserver where available, else spawn."""
    explicit = os.environ.get("ALSEK_START_METHOD")
    methods = mp.get_all_start_methods()
    if explicit:
        if explicit not in methods:
            raise ValidationError(f"ALSEK_START_METHOD={explicit!r}: available are {methods}")
        return explicit
    return "forkserver" if "forkserver" in methods else "spawn"


def child_main(conn: Any, modules: Sequence[str]) -> None:
    """Entry point of a child: import the task modules, then run jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when children stop
    for module in modules:
        importlib.import_module(module)
    conn.send("ready")
    from alsek.effects.errors import error_info
    from alsek.effects.message import Message
    from alsek.effects.registry import lookup
    from alsek.pure.codec import message_from_data
    from alsek.pure.transitions import claimed

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        task_name, data, token, deliveries = request
        try:
            message = claimed(message_from_data(data, Message), token, deliveries)
            outcome: Outcome = lookup(task_name).run(message)
        except BaseException as error:
            outcome = Failed(error_info(error), retry_approved=False)
        try:
            conn.send(outcome)
        except Exception as error:  # the result cannot be pickled back
            info = ErrorInfo(
                type(error).__qualname__, f"result could not be sent to the pool: {error}"
            )
            conn.send(Failed(info, retry_approved=False))


class ProcessSlot(Runner):
    """One process slot: a parent thread and the long-lived child it drives."""

    def __init__(self, hooks: Hooks, context: Any, modules: Sequence[str]) -> None:
        super().__init__(hooks, "alsek-process-slot")
        self.context = context
        self.modules = list(modules)
        self.process: Any = None
        self.conn: Any = None

    @property
    def pid(self) -> int | None:
        """The current child's pid."""
        return None if self.process is None else self.process.pid

    def _spawn(self) -> None:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=child_main, args=(child, self.modules), daemon=True, name="alsek-task-process"
        )
        process.start()
        child.close()
        self.process, self.conn = process, parent
        # Wait for the child to import the task modules, so that start-up
        # time never counts against a task's timeout.
        if not wait_for([parent, process.sentinel], timeout=START_TIMEOUT_S) or not parent.poll():
            self.kill_child()
            raise OSError(f"task process did not start within {START_TIMEOUT_S:.0f} s")
        try:
            parent.recv()
        except EOFError as error:
            self.kill_child()
            raise OSError(
                f"task process exited during start-up (exit code {process.exitcode})"
            ) from error
        log.debug("started task process %s", process.pid)

    def kill_child(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after a grace)."""
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(KILL_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join(KILL_GRACE_S)
        try:
            conn.close()
        except OSError:
            pass

    def _stop_child(self) -> None:
        if self.process is not None and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(KILL_GRACE_S)
            except (OSError, ValueError):
                pass
        self.kill_child()

    def cleanup(self) -> None:
        self._stop_child()

    def reset(self) -> None:
        """After an internal error: a child that may hold a half-run job is replaced."""
        self.kill_child()

    def step(self, job: Job) -> Job | None:
        """Run one job; returns the next one (claimed on completion) or None."""
        if not self.hooks.prepare(job):
            return None
        with self.lock:
            self.job = job
            job.worker = self
        outcome = self._execute(job)
        with self.lock:
            self.job = None
        if outcome is None:
            return None  # handed back before it started
        return self.hooks.complete(job, outcome)  # maybe our next job

    def _ensure_child(self) -> None:
        if self.process is None or not self.process.is_alive():
            self.kill_child()
            self._spawn()

    def _send(self, job: Job) -> None:
        assert job.message is not None
        request = (job.message.task_name, job.message.data, job.token, job.message.deliveries)
        for attempt in (1, 2):
            self._ensure_child()
            try:
                self.conn.send(request)
                return
            except (OSError, ValueError):
                if attempt == 2:
                    raise
                self.kill_child()

    def _execute(self, job: Job) -> Outcome | None:
        try:
            # Start-up time of a new child never counts against the task's timeout.
            self._ensure_child()
        except (OSError, ValueError) as error:
            return Crashed(f"could not start a task process: {error}")
        if not self.hooks.started(job):
            return None
        try:
            self._send(job)
        except (OSError, ValueError) as error:
            return Crashed(f"could not hand the job to a task process: {error}")
        # Locals: the pool may kill the child from another thread while we wait.
        conn, process = self.conn, self.process
        while True:
            deadline = job.deadline if job.deadline is not None else monotonic_ms() + 3_600_000
            remaining = max((deadline - monotonic_ms()) / 1000, 0)
            try:
                ready = wait_for([conn, process.sentinel], timeout=remaining)
            except (OSError, ValueError):
                ready = [process.sentinel]
            if conn in ready:
                try:
                    outcome: Outcome = conn.recv()
                    return outcome
                except (EOFError, OSError, ValueError):
                    pass  # the child died mid-answer: report below
            if ready:
                process.join(KILL_GRACE_S)
                code = process.exitcode
                if self.process is process:
                    self.kill_child()
                return Crashed(f"task process {process.pid} died ({_describe_exit(code)})")
            if monotonic_ms() >= deadline:
                log.warning("%s timed out; terminating task process %s", job.label, process.pid)
                if self.process is process:
                    self.kill_child()
                return timed_out(job)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def preload(mp: Any, method: str, modules: Sequence[str]) -> Any:
    """A multiprocessing context for ``method``, preloading ``modules`` in a forkserver."""
    context = mp.get_context(method)
    if method == "forkserver":
        wanted = ["alsek.effects.runners.process", *[m for m in modules if m != "__main__"]]
        if hasattr(context, "set_forkserver_preload"):
            context.set_forkserver_preload(wanted)
    return context


def task_modules(functions_modules: Sequence[str]) -> list[str]:
    """Modules a child must import to know the pool's tasks (``__main__`` is handled by
    multiprocessing itself)."""
    seen: list[str] = []
    for module in functions_modules:
        if module and module not in seen and module not in ("__main__", "__mp_main__"):
            seen.append(module)
    return seen
