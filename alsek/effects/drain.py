"""Test mode: run what is queued, here and now, the way a worker would.

``run_until_idle(broker)`` claims ready messages and runs each through the
worker's own path (``Executor``: pre-checks, the task and its hooks, the
pure decision, the interpreter), so results, retries, callbacks and dead
letters behave as on a worker pool. The differences, all on purpose:

- everything runs in the caller's thread, whatever the task's mechanism, and
  timeouts are not enforced on functions (a task runs to its end); an
  ``async def`` task runs on the thread's event loop (a helper thread's when
  the caller is itself inside a running loop) and is cancelled at its
  timeout, as on a worker;
- with ``skip_delays`` (the default) nothing waits: when no message is ready,
  the drain moves its notion of "now" to the next ready time, so delayed
  messages and retry backoffs run at once, in the order they would have.

``eager(broker)`` drains after every submission, so ``task.delay(...)``
returns with the work (and its callbacks) done. ``fire(trigger_task)``
submits one tick of a triggered task, as its scheduler would, without
starting the scheduler.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from alsek import defaults
from alsek.effects.backends.base import ClaimBatch
from alsek.effects.broker import Broker
from alsek.effects.clock import new_token
from alsek.effects.consumer import Consumer
from alsek.effects.execution import Executor
from alsek.effects.message import Message
from alsek.effects.registry import lookup
from alsek.effects.scheduler import TriggerTask
from alsek.effects.task import Task
from alsek.exceptions import StillBusyError, TaskFailedError, TaskNotFoundError
from alsek.pure.decisions import DeadLetter, Effect, Reschedule
from alsek.pure.message import SLOT_KINDS
from alsek.pure.outcome import Failed, Outcome, Succeeded

#: How many runs one drain may make before it gives up (a task that keeps
#: submitting itself would otherwise never let the queues become idle).
DEFAULT_MAX_RUNS = 10_000


@attrs.frozen
class Run:
    """One delivery that the drain handled: what ran, how it went, what followed.

    ``outcome`` is None when the message was refused before running (unknown
    task, crash loop) and went to the dead letters.
    """

    message: Message
    outcome: Outcome | None
    effects: tuple[Effect, ...]

    @property
    def dead_letter(self) -> DeadLetter | None:
        """The dead letter this run ended in, if any."""
        return next((e for e in self.effects if isinstance(e, DeadLetter)), None)


@attrs.frozen
class Drained:
    """What ``run_until_idle`` did, in order."""

    runs: tuple[Run, ...]

    @property
    def succeeded(self) -> list[Message]:
        """Messages whose task returned (their results are stored, callbacks submitted)."""
        return [r.message for r in self.runs if isinstance(r.outcome, Succeeded)]

    @property
    def retried(self) -> list[Message]:
        """Messages that failed and were rescheduled for a retry."""
        return [
            r.message
            for r in self.runs
            if any(isinstance(e, Reschedule) and e.kind == "retry" for e in r.effects)
        ]

    @property
    def dead_lettered(self) -> list[DeadLetter]:
        """Dead letters written (message, reason), in order."""
        return [r.dead_letter for r in self.runs if r.dead_letter is not None]

    def check(self) -> Drained:
        """Raise ``TaskFailedError`` if any message ended in the dead letters; else self.

        The error names each message and reason, and carries the traceback of
        the last failure, so a test fails with what went wrong.
        """
        dead = self.dead_lettered
        if not dead:
            return self
        lines = [f"{d.message.summary}: {d.reason}" for d in dead]
        failures = [r.outcome for r in self.runs if isinstance(r.outcome, Failed)]
        last = failures[-1].error if failures else None
        raise TaskFailedError(
            dead[-1].message.uuid,
            last.type_name if last is not None else "DeadLettered",
            "dead-lettered:\n" + "\n".join(lines),
            traceback=last.traceback if last is not None else "",
            attempts=dead[-1].message.retries + 1,
        )


def _claim(broker: Broker, consumer: Consumer, now: int, skip_delays: bool) -> ClaimBatch:
    token = [new_token()]
    if not skip_delays:
        return broker.claim(consumer.subset, SLOT_KINDS, consumer.lease_ms, token)
    # The drain's own "now" (possibly ahead of the clock), taken as given by
    # every backend, Redis included: delays and backoffs are skipped.
    return broker.backend.claim(
        consumer.subset, SLOT_KINDS, now, consumer.lease_ms, token, virtual=True
    )


def _task_or_none(name: str) -> Task[Any, Any] | None:
    try:
        return lookup(name)
    except TaskNotFoundError:
        return None


def _run_one(executor: Executor, message: Message) -> Run:
    task = _task_or_none(message.task_name)
    if executor.precheck(task, message) is not None:
        reason = (
            f"unknown task {message.task_name!r}"
            if task is None
            else f"delivered {message.deliveries} times without an outcome"
        )
        return Run(message, None, (DeadLetter(message, reason, executor.broker.clock.now()),))
    assert task is not None  # precheck refuses unknown tasks
    outcome = task.run(message)
    effects = executor.decide(task, message, outcome)
    executor.carry_out(task, message, effects)
    return Run(message, outcome, effects)


def run_until_idle(
    broker: Broker,
    queues: Sequence[str] | None = None,
    skip_delays: bool = True,
    max_runs: int = DEFAULT_MAX_RUNS,
) -> Drained:
    """Run every message of ``broker`` (in ``queues``, default all) until none is left.

    Messages submitted meanwhile (callbacks, retries, tasks submitting tasks)
    run too. With ``skip_delays=False`` only what is ready now runs, and
    delayed messages stay queued.

    Raises:
        StillBusyError: more than ``max_runs`` runs were needed.
    """
    consumer = Consumer(broker, subset=queues, lease_ms=defaults.DEFAULT_LEASE_MS)
    executor = Executor(broker, consumer.lease_ms)
    horizon = broker.clock.now()
    runs: list[Run] = []
    while True:
        horizon = max(horizon, broker.clock.now())
        batch = _claim(broker, consumer, horizon, skip_delays)
        messages = [m for m in (consumer.decode(c) for c in batch.claims) if m is not None]
        if batch.claims and not messages:
            continue  # an undecodable payload was dead-lettered; look again
        if not messages:
            if not skip_delays or batch.next_wake is None:
                return Drained(tuple(runs))
            horizon = max(horizon, batch.next_wake)
            continue
        if len(runs) >= max_runs:
            raise StillBusyError(
                f"still busy after {max_runs} runs (last: {messages[0].summary}); "
                "a task may keep submitting itself"
            )
        runs.extend(_run_one(executor, m) for m in messages)


@contextmanager
def eager(broker: Broker, skip_delays: bool = True, check: bool = False) -> Iterator[Broker]:
    """Within the block, every submission to ``broker`` runs at once (with
    whatever it submits in turn) before ``generate()`` / ``delay()`` return.

    With ``check``, a submission whose work ends in the dead letters raises
    ``TaskFailedError`` from the ``generate()`` / ``delay()`` that caused it.
    """
    original = broker.__dict__.get("submit")
    submit_now = broker.submit
    draining = False

    def submit(message: Any) -> Any:
        nonlocal draining
        submitted = submit_now(message)
        if not draining:  # a task submitting a task: the running drain picks it up
            draining = True
            try:
                drained = run_until_idle(broker, skip_delays=skip_delays)
            finally:
                draining = False
            if check:
                drained.check()
        return submitted

    setattr(broker, "submit", submit)  # noqa: B010 - an instance attribute shadows the method
    try:
        yield broker
    finally:
        if original is None:
            del broker.__dict__["submit"]
        else:
            setattr(broker, "submit", original)  # noqa: B010


_fired: weakref.WeakKeyDictionary[TriggerTask[Any, Any], tuple[Message, int]] = (
    weakref.WeakKeyDictionary()
)


def fire(task: TriggerTask[Any, Any], root: Message | None = None) -> Message:
    """Submit one tick of a triggered task now, as its scheduler would (without
    starting it); returns the submitted message.

    Ticks share a root message, so ``ResultStore.get(root, descendants=True)``
    collects their results: ``root`` if given, else the one ``generate()``
    scheduled, else one made at the first ``fire`` (``fired_root(task)``).
    """
    known = _fired.get(task)
    if root is None:
        scheduled = task.job.kwargs.get("root") if task.job is not None else None
        root = scheduled or (known[0] if known else task.generate(submit=False))
    fire_ms = max(task.broker.clock.now(), known[1] + 1 if known else 0)
    _fired[task] = (root, fire_ms)
    message = task.tick(root, fire_ms)
    task.broker.submit(message)
    return message


def fired_root(task: TriggerTask[Any, Any]) -> Message | None:
    """The root of the ticks ``fire`` submitted for ``task`` (None before the first)."""
    known = _fired.get(task)
    return None if known is None else known[0]
