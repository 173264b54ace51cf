"""Tasks of the calibration workload, importable by the pool's child processes.

``benchmarks/calibrate.py`` runs a simulator workload for real. Process
tasks run in child processes that import their module by name, so the tasks
live here, built at import time from the environment:

* ``ALSEK_CALIBRATION_WORKLOAD``: the workload file; one task per task kind,
  with its queue, priority, mechanism, timeout, retries and backoff;
* ``ALSEK_REDIS_URL`` (Redis) or ``ALSEK_DISKCACHE_DIR`` (DiskCache): the backend;
* ``ALSEK_CALIBRATION_LEDGER``: a file each attempt appends one line to.

Every task runs ``planned``: the message carries its plan, one
``[duration_ms, fail]`` pair per attempt, taken from the simulator's trace.
The attempt sleeps its duration and fails if told to, so the real run sees
the same durations and failures as the simulated one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from alsek.core import Broker, Message, task
from alsek.pure.backoff import backoff_from_settings
from alsek.sim import TaskKind, load_workload
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend

DEFAULT_WORKLOAD = Path(__file__).with_name("workload.toml")


class PlannedFailure(Exception):
    """The failure the simulator's trace scheduled for this attempt."""


class _Ledger:
    """Appends one line per attempt; one ``O_APPEND`` descriptor per process.

    Lines are short single ``write`` calls, so lines from concurrent
    threads and processes never interleave.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.pid = -1

    def write(self, line: str) -> None:
        """Append ``line`` (opening the file in this process on first use)."""
        path = os.environ.get("ALSEK_CALIBRATION_LEDGER")
        if not path:
            return
        if self.fd is None or self.pid != os.getpid():
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.pid = os.getpid()
        os.write(self.fd, line.encode())


_ledger = _Ledger()


def planned(key: str, plan: list[list[Any]], message: Message) -> None:
    """Run attempt ``message.retries`` of ``plan``: sleep, then fail if told to.

    Start and end (``time.monotonic``, system-wide on Linux, so comparable
    across processes, and the clock of the pool's events) go to the ledger for
    the overhead break-down.
    """
    attempt = message.retries
    duration_ms, fail = plan[min(attempt, len(plan) - 1)]
    start = time.monotonic()
    if duration_ms > 0:
        time.sleep(duration_ms / 1000)
    end = time.monotonic()
    _ledger.write(f"{key} {attempt} {start:.6f} {end:.6f}\n")
    if fail:
        raise PlannedFailure(f"{key}: attempt {attempt} fails as planned")


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
    )(planned)


WORKLOAD = load_workload(os.environ.get("ALSEK_CALIBRATION_WORKLOAD") or DEFAULT_WORKLOAD)
broker = Broker(_backend())
TASKS: dict[str, Any] = {kind.name: _task(kind, broker) for kind in WORKLOAD.tasks}
