"""The worker pool's event loop: one thread running the coroutines of ``async def`` tasks.

A pool with thread-mechanism ``async def`` tasks starts one ``LoopRunner``
(on demand). The dispatcher hands it claimed jobs (``mailbox.put``, from
any thread). A job is prepared (decoded, checked) on one of a few helper
threads, its coroutine runs on the loop as an asyncio task, within what is
left of its timeout (``asyncio.timeout``), and its outcome is recorded on a
helper thread again: the helpers talk to the backend, so the loop never
blocks on it.

The pool's slots bound how many run at once (``max_async``): the dispatcher
claims no more than that. ``interrupt`` cancels one job's coroutine (a
cancel request, the watchdog, a hand-back at shutdown) and says why, so the
cancellation is read as that. The loop beats every ``BEAT_MS``: the monitor
reads ``beat`` to tell when a coroutine blocks the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alsek.effects.clock import monotonic_ms
from alsek.effects.coroutines import run_async
from alsek.effects.errors import error_info
from alsek.effects.outcomes import failed
from alsek.effects.runners.base import Hooks
from alsek.effects.runners.job import Job
from alsek.effects.runners.thread import timed_out
from alsek.exceptions import TaskTimeoutError
from alsek.pure.outcome import Cancelled, Failed, Outcome

log = logging.getLogger("alsek.worker")

#: Helper threads that prepare jobs and record outcomes (backend round trips).
RECORDERS = 4
#: How often the loop beats (ms).
BEAT_MS = 100
#: At shutdown, how long the loop lets its last jobs end (s).
CLOSE_WAIT_S = 5.0


class HandedBack(Exception):
    """Why a coroutine is cancelled at shutdown: its message went back to its queue."""


class _Mailbox:
    """``put(job)`` from any thread (the job is prepared on a helper thread, then started
    on the loop); ``put(None)`` stops the loop."""

    def __init__(self, runner: LoopRunner) -> None:
        self.runner = runner

    def put(self, job: Job | None) -> None:
        if job is None:
            try:
                self.runner.loop.call_soon_threadsafe(self.runner.loop.stop)
            except RuntimeError:  # already closed
                pass
            return
        try:
            self.runner.helpers.submit(self.runner.prepare, job)
        except RuntimeError as error:  # the pool is stopping: the job is let go
            self.runner.hooks.broken(job, error)


class LoopRunner(threading.Thread):
    """One pool's event loop, in its own thread."""

    def __init__(self, hooks: Hooks, recorders: int = RECORDERS) -> None:
        super().__init__(daemon=True, name="alsek-event-loop")
        self.hooks = hooks
        self.loop = asyncio.new_event_loop()
        self.helpers = ThreadPoolExecutor(recorders, thread_name_prefix="alsek-loop-io")
        self.mailbox = _Mailbox(self)
        #: Monotonic ms of the loop's last beat.
        self.beat = monotonic_ms()
        #: Jobs whose coroutine runs, by lease token (touched on the loop only).
        self.running: dict[str, asyncio.Task[None]] = {}
        #: Why a running coroutine was cancelled, by lease token.
        self.reasons: dict[str, type[BaseException]] = {}
        #: Jobs whose asyncio task has begun (only those can take a ``cancel()``).
        self.begun: set[str] = set()

    # -- the thread -------------------------------------------------------------------

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._beat)
        try:
            self.loop.run_forever()
            self._close()
        except Exception:  # never raise out of the thread: log it
            log.exception("the pool's event loop failed")
        finally:
            self.helpers.shutdown(wait=False)
            if not self.loop.is_closed():
                self.loop.close()

    def _close(self) -> None:
        """The pool stopped us: whatever still runs was handed back; end it."""
        for token in list(self.running):
            self._cancel(token, HandedBack)
        if self.running:
            running = set(self.running.values())
            self.loop.run_until_complete(asyncio.wait(running, timeout=CLOSE_WAIT_S))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def _beat(self) -> None:
        self.beat = monotonic_ms()
        self.loop.call_later(BEAT_MS / 1000, self._beat)

    # -- from other threads -------------------------------------------------------------

    def interrupt(self, job: Job, error: type[BaseException] = TaskTimeoutError) -> bool:
        """Cancel ``job``'s coroutine, to be read as ``error`` (``TaskTimeoutError``,
        ``TaskCancelledError``, ``HandedBack``)."""
        try:
            self.loop.call_soon_threadsafe(self._cancel, job.token, error)
        except RuntimeError:  # the loop is closed
            return False
        return True

    # -- on a helper thread -----------------------------------------------------------

    def prepare(self, job: Job) -> None:
        """Decode and check ``job`` (talking to the backend if it must be refused), then
        start it on the loop."""
        try:
            if self.hooks.prepare(job):
                self.loop.call_soon_threadsafe(self._start, job)
        except Exception as error:  # a bug of ours, or the loop closed: let the job go
            self.hooks.broken(job, error)

    def _record(self, job: Job, outcome: Outcome) -> None:
        try:
            self.hooks.complete(job, outcome)
        except Exception as error:  # a bug of ours must not lose the helper
            self.hooks.broken(job, error)

    # -- on the loop --------------------------------------------------------------------

    def _start(self, job: Job) -> None:
        try:
            if not self.hooks.started(job):
                return  # handed back before it started
            running = self.loop.create_task(self._run(job))
        except Exception as error:
            self.hooks.broken(job, error)
            return
        self.running[job.token] = running
        running.add_done_callback(lambda _: self.running.pop(job.token, None))

    def _cancel(self, token: str, error: type[BaseException]) -> None:
        running = self.running.get(token)
        if running is None or running.done():
            return
        self.reasons.setdefault(token, error)
        if token in self.begun:  # (else it reads the reason as it begins)
            running.cancel()

    async def _run(self, job: Job) -> None:
        """Run the coroutine; its outcome is recorded on a helper thread."""
        self.begun.add(job.token)
        try:
            outcome = await self._outcome(job)
        finally:
            self.reasons.pop(job.token, None)
            self.begun.discard(job.token)
        try:
            self.helpers.submit(self._record, job, outcome)
        except RuntimeError as error:  # the pool is stopping
            self.hooks.broken(job, error)

    async def _outcome(self, job: Job) -> Outcome:
        task, message = job.task, job.message
        assert task is not None and message is not None and job.deadline is not None
        left_s = max(job.deadline - monotonic_ms(), 0) / 1000
        try:
            if job.token in self.reasons:  # stopped before it began
                raise asyncio.CancelledError
            if task.is_async:
                return await _guarded(run_async(task, message, left_s))
            # Indexed as a coroutine, but this worker's function is synchronous (the
            # producer's definition differs): run it off the loop.
            log.warning("%s is not async def here; running it in a thread", message.summary)
            return await self.loop.run_in_executor(self.helpers, task.run, message)
        except asyncio.CancelledError as error:
            why = self.reasons.get(job.token)
            if why is TaskTimeoutError:
                return timed_out(job, error)
            if why is not None:  # a cancel request (or a hand-back: not recorded)
                return Cancelled("cancelled while running")
            return failed(task, message, error)  # cancelled from within the task itself


async def _guarded(running: Coroutine[Any, Any, Outcome]) -> Outcome:
    """``running``'s outcome; a task's ``SystemExit`` (or ``KeyboardInterrupt``) is its
    failure, and must not escape: asyncio would re-raise it out of the loop."""
    try:
        return await running
    except (SystemExit, KeyboardInterrupt) as error:
        return Failed(error_info(error), retry_approved=False)
