"""Stopping a pool: signals, and handing unfinished jobs back to the queue."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, Protocol

from alsek.effects.consumer import Consumer
from alsek.effects.events import Observers, released_event
from alsek.effects.interpreter import persist
from alsek.effects.pool.children import Child
from alsek.effects.pool.slots import Slots, kind_of
from alsek.effects.runners.job import Job
from alsek.effects.runners.loop import HandedBack, LoopRunner
from alsek.pure.lifecycle import JobEvent

log = logging.getLogger("alsek.worker")


class Stoppable(Protocol):
    """What the signal handler needs of a pool."""

    grace_ms: int
    stopping: threading.Event

    def stop(
        self, grace_ms: int | None = None, wait: bool = True, timeout: float | None = 30
    ) -> None: ...


def install_signals(pool: Stoppable) -> Callable[[], None]:
    """Make SIGINT/SIGTERM stop ``pool`` (a second one cuts the grace); returns the undo.

    Only the main thread can set signal handlers: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if pool.stopping.is_set():
            log.warning("second %s: stopping now", name)
            pool.grace_ms = 0
        else:
            log.info("%s received: stopping (grace %d ms)", name, pool.grace_ms)
        pool.stop(wait=False)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def hand_back(slots: Slots, consumer: Consumer, observers: Observers, job: Job) -> None:
    """Return ``job``'s message to its queue at once (its delivery does not count)."""
    if not slots.step(job, JobEvent.HAND_BACK, worker_lost=kind_of(job) == "thread"):
        return
    observers.emit(released_event(job.claim, "handed_back"))
    try:
        if isinstance(job.worker, Child):
            job.worker.kill()  # it may be running the task: stop it before handing back
        elif isinstance(job.worker, LoopRunner):
            job.worker.interrupt(job, HandedBack)  # a coroutine: cancel it
        message = job.message or consumer.fetch(job.claim)
        if message is not None:
            persist(
                lambda: consumer.broker.hand_back(message),
                f"handing back {message.summary}",
                patience_ms=10_000,
            )
            log.info("handed back %s", message.summary)
    except Exception as error:
        log.warning(
            "could not hand back %s (%s); it returns when its lease expires", job.label, error
        )
