"""Triggered tasks: an APScheduler 3 background scheduler submits them.

Each fire submits a copy of the root message whose uuid is derived from
(task name, tick time) and is submitted with ``nx``: several processes
running the same trigger produce one message per tick, the others are
refused by the backend. Every process computes the same tick times
(``alsek.effects.triggers``): interval ticks lie on a shared grid, and a
jittered fire still names the tick it belongs to.
"""

from __future__ import annotations

import inspect
import logging
import sys
import uuid as _uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from alsek.effects.clock import utcnow_ms
from alsek.effects.message import Message
from alsek.effects.task import P, R, Task
from alsek.effects.triggers import SharedSchedule
from alsek.exceptions import MessageExistsError, SchedulingError, ValidationError

log = logging.getLogger(__name__)
EXECUTOR = "alsek"
TICK_NAMESPACE = _uuid.UUID("6f1d2c53-8a7e-4f0b-9a51-2a7d3c0e4b11")


def tick_uuid(task_name: str, fire_ms: int) -> str:
    """The id of the message a trigger submits for the tick at ``fire_ms``."""
    return str(_uuid.uuid5(TICK_NAMESPACE, f"{task_name}:{fire_ms}"))


class _FireTimeExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs a job inline, passing it the scheduled fire time (submission is quick)."""

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        events = []
        for run_time in run_times:
            try:
                job.func(*job.args, fire_time=run_time, **job.kwargs)
            except BaseException:
                exc = sys.exc_info()[1]
                log.exception("triggered submission of job %s failed", job.id)
                events.append(
                    JobExecutionEvent(EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exc)
                )
            else:
                events.append(
                    JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time)
                )
        self._run_job_success(job.id, events)


def _check_no_parameters(function: Callable[..., Any], name: str) -> None:
    parameters = [p for p in inspect.signature(function).parameters if p != "message"]
    if parameters:
        raise ValidationError(
            f"task {name!r} has a trigger, so its function may not take parameters "
            f"(found: {', '.join(parameters)})"
        )


class TriggerTask(Task[P, R]):
    """A task submitted on a schedule (cron, date or interval trigger).

    ``generate()`` returns the root message and schedules a submission on
    every fire; each submitted message has the root as its progenitor, so
    ``ResultStore.get(root, descendants=True)`` collects their results.

    Any number of processes may run the same trigger: each tick is submitted
    once. An interval trigger without a ``start_date`` ticks on a grid
    anchored at the Unix epoch (UTC) rather than at each process's start;
    ``jitter`` must be shorter than the time between ticks.
    """

    def __init__(
        self,
        function: Callable[P, R],
        *args: Any,
        trigger: BaseTrigger,
        scheduler: BackgroundScheduler | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(trigger, BaseTrigger):
            raise ValidationError(f"trigger must be an APScheduler trigger, got {trigger!r}")
        _check_no_parameters(function, kwargs.get("name") or function.__name__)
        super().__init__(function, *args, **kwargs)
        self.trigger = trigger
        self.schedule = SharedSchedule(trigger, utcnow_ms())
        self.scheduler = scheduler or BackgroundScheduler(timezone="UTC")
        self._job: Job | None = None

    @property
    def job(self) -> Job | None:
        """The scheduled job, if any."""
        return self._job

    def generate(self, *args: Any, **kwargs: Any) -> Message:
        """Build the root message and start submitting it on every fire."""
        if kwargs.get("args") or kwargs.get("kwargs") or args:
            raise ValidationError(f"task {self.name!r} has a trigger: it takes no arguments")
        return super().generate(**kwargs)

    def _submit(self, message: Message) -> None:
        if self._job is not None:
            raise SchedulingError(
                f"task {self.name!r} is already scheduled; call clear() before generating again"
            )
        try:
            self.scheduler._lookup_executor(EXECUTOR)
        except KeyError:
            self.scheduler.add_executor(_FireTimeExecutor(), alias=EXECUTOR)
        if not self.scheduler.running:
            self.scheduler.start()
        self._job = self.scheduler.add_job(
            self._fire,
            trigger=self.schedule.trigger,
            kwargs={"root": message},
            id=message.uuid,
            executor=EXECUTOR,
        )

    def tick(self, root: Message, fire_ms: int) -> Message:
        """The message this trigger submits for the tick at ``fire_ms`` (UTC ms):
        a copy of ``root`` with an id derived from (task, tick) and ``root`` as
        its progenitor."""
        return attrs.evolve(
            root,
            uuid=tick_uuid(self.name, fire_ms),
            progenitor=root.uuid,
            created_at=fire_ms,
            updated_at=fire_ms,
            delay=0,
        )

    def _fire(self, root: Message, fire_time: datetime | None = None) -> None:
        fire_ms = self.schedule.tick_ms(fire_time) if fire_time else self.broker.clock.now()
        message = self.tick(root, fire_ms)
        try:
            self.broker.submit(message)
        except MessageExistsError:
            log.debug("tick %s of %s was already submitted elsewhere", fire_ms, self.name)

    def pause(self) -> None:
        """Stop firing until ``resume()``."""
        if self._job is not None:
            self._job.pause()

    def resume(self) -> None:
        """Fire again after ``pause()``."""
        if self._job is not None:
            self._job.resume()

    def clear(self) -> None:
        """Remove the scheduled job (``generate()`` may schedule anew)."""
        if self._job is not None:
            try:
                self._job.remove()
            finally:
                self._job = None

    def shutdown(self) -> None:
        """Stop the scheduler and its thread."""
        self._job = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
