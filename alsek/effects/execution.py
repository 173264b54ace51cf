"""Running one message the way a worker does: hooks, function, decision, effects.

``Executor.finish`` is shared by every runner (inline, thread, process,
watchdog): it asks ``alsek.pure.decisions.decide`` what follows an outcome,
logs it, and hands the effects to the interpreter.
"""

from __future__ import annotations

import logging
from typing import Any

from alsek import defaults
from alsek.effects.broker import Broker
from alsek.effects.interpreter import Interpreter, Report
from alsek.effects.message import Message
from alsek.effects.registry import lookup
from alsek.effects.task import Task
from alsek.effects.task_log import log_outcome
from alsek.pure.decisions import DeadLetter, Effect, decide, decide_on_claim, reject
from alsek.pure.outcome import Outcome

log = logging.getLogger("alsek.worker")


class Executor:
    """Decides and carries out what follows a run, for messages of one broker."""

    def __init__(self, broker: Broker, lease_ms: int = defaults.DEFAULT_LEASE_MS) -> None:
        self.broker = broker
        self.lease_ms = lease_ms
        self.interpreter = Interpreter(broker, lease_ms)

    def finish(
        self,
        task: Task[Any, Any],
        message: Message,
        outcome: Outcome,
        duration_ms: int | None = None,
        lease_deadline: int | None = None,
    ) -> Report:
        """Decide what follows ``outcome`` and do it."""
        effects = self.decide(task, message, outcome, duration_ms)
        return self.carry_out(task, message, effects, lease_deadline)

    def decide(
        self,
        task: Task[Any, Any],
        message: Message,
        outcome: Outcome,
        duration_ms: int | None = None,
    ) -> tuple[Effect, ...]:
        """What follows ``outcome`` (logged), without doing it yet."""
        effects = decide(message, task.policy, outcome, self.broker.clock.now())
        self._log(message, outcome, effects, duration_ms)
        return effects

    def carry_out(
        self,
        task: Task[Any, Any],
        message: Message,
        effects: tuple[Effect, ...],
        lease_deadline: int | None = None,
    ) -> Report:
        """Do ``effects`` for ``message``."""
        return self.interpreter.carry_out(
            effects, message.lock, task.result_store, lease_deadline=lease_deadline
        )

    def precheck(
        self, task: Task[Any, Any] | None, message: Message, name_hint: str = ""
    ) -> Report | None:
        """Before running: refuse unknown tasks and crash loops (None: go ahead)."""
        now = self.broker.clock.now()
        if task is None:
            reason = f"unknown task {message.task_name!r}: no such task is defined in this worker"
            effects: tuple[Effect, ...] = reject(message, reason, now)
        else:
            effects = decide_on_claim(message, task.policy, now)
        if not effects:
            return None
        for effect in effects:
            if isinstance(effect, DeadLetter):
                log.error("not running %s: %s", message.summary, effect.reason)
        return self.interpreter.carry_out(effects, message.lock)

    def run_inline(self, message: Message, task: Task[Any, Any] | None = None) -> Report:
        """Run ``message`` here and now, then carry out the decision."""
        task = task or lookup(message.task_name)
        refused = self.precheck(task, message)
        if refused is not None:
            return refused
        start = self.broker.clock.now()
        outcome = task.run(message)
        return self.finish(task, message, outcome, self.broker.clock.now() - start)

    @staticmethod
    def _log(
        message: Message, outcome: Outcome, effects: tuple[Effect, ...], duration_ms: int | None
    ) -> None:
        log_outcome(message, outcome, effects, duration_ms)


def run_message(message: Message, broker: Broker | None = None) -> Report:
    """Run one message as a worker would, in this thread (for tests and scripts)."""
    task = lookup(message.task_name)
    return Executor(broker or task.broker).run_inline(message, task)
