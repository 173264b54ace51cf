"""Running the triggers of a set of tasks in a long-lived process (``alsek scheduler``).

Each ``TriggerTask`` found is scheduled (``generate()``) unless importing it
already did. Several processes may run the same triggers: each tick is
submitted once (``alsek.effects.scheduler``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from alsek.effects.scheduler import TriggerTask

log = logging.getLogger("alsek.scheduler")


def trigger_tasks(tasks: Iterable[object]) -> list[TriggerTask[Any, Any]]:
    """The triggered tasks among ``tasks``."""
    return [task for task in tasks if isinstance(task, TriggerTask)]


def start_triggers(triggers: Iterable[TriggerTask[Any, Any]]) -> list[TriggerTask[Any, Any]]:
    """Schedule every trigger not scheduled yet; returns them all."""
    started = []
    for task in triggers:
        if task.job is None:
            task.generate()
        log.info("scheduled %s (%s)", task.name, task.trigger)
        started.append(task)
    return started


def stop_triggers(triggers: Iterable[TriggerTask[Any, Any]]) -> None:
    """Stop firing and stop the schedulers' threads."""
    for task in triggers:
        try:
            task.clear()
            task.shutdown()
        except Exception as error:  # stopping the others matters more
            log.warning("could not stop the trigger of %s cleanly: %s", task.name, error)
