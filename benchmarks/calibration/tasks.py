"""Tasks of the calibration workload, importable by the pool's child processes.

``benchmarks/calibrate.py`` runs a simulator workload for real. Process
tasks run in child processes that import their module by name, so the tasks
live here, built at import time from the environment:

* ``ALSEK_CALIBRATION_WORKLOAD``: the workload file; one task per task kind,
  with its queue, priority, mechanism, timeout, retries and backoff;
* ``ALSEK_REDIS_URL`` (Redis) or ``ALSEK_DISKCACHE_DIR`` (DiskCache): the backend;
* ``ALSEK_CALIBRATION_LEDGER``: a file each attempt appends one line to.

Every task runs ``alsek.calibration.tasks.planned`` (``planned_async`` for an
``is_async`` kind, through wrappers defined here): the message carries its
plan, one ``[duration_ms, fail]`` pair per attempt, taken from the
simulator's trace. The attempt sleeps its duration and fails if told to, so
the real run sees the same durations and failures as the simulated one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alsek.calibration.tasks import planned, planned_async
from alsek.core import Broker, Message, task
from alsek.pure.backoff import backoff_from_settings
from alsek.sim import TaskKind, load_workload
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend

DEFAULT_WORKLOAD = Path(__file__).with_name("workload.toml")


def replayed(key: str, plan: list[list[Any]], message: Message) -> None:
    """``planned``, defined here: task processes import a task's module by its name."""
    planned(key, plan, message)


async def replayed_async(key: str, plan: list[list[Any]], message: Message) -> None:
    """``planned_async``, defined here (see ``replayed``)."""
    await planned_async(key, plan, message)


def _backend() -> Any:
    """The backend named by the environment (Redis if a URL is set, else DiskCache)."""
    url = os.environ.get("ALSEK_REDIS_URL")
    if url:
        return RedisBackend(url)
    return DiskCacheBackend(os.environ.get("ALSEK_DISKCACHE_DIR") or None)


def _task(kind: TaskKind, broker: Broker) -> Any:
    """The real task for a simulated task kind, with the same policy."""
    return task(
        broker,
        name=kind.name,
        queue=kind.queue,
        priority=kind.priority,
        timeout=kind.timeout_ms,
        max_retries=kind.max_retries,
        max_redeliveries=kind.max_redeliveries,
        backoff=backoff_from_settings(kind.backoff),
        mechanism=kind.mechanism,
    )(replayed_async if kind.is_async else replayed)


WORKLOAD = load_workload(os.environ.get("ALSEK_CALIBRATION_WORKLOAD") or DEFAULT_WORKLOAD)
broker = Broker(_backend())
TASKS: dict[str, Any] = {kind.name: _task(kind, broker) for kind in WORKLOAD.tasks}
