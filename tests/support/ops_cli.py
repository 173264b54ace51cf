"""A small app for command-line tests: tasks on Redis or DiskCache (from the environment),
a worker pool subprocess, and a way to run ``python -m alsek ...``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from tests.support.harness import Worker, base_env

APP = '''
"""Tasks for command-line tests (the broker comes from the environment)."""
import os
import time

from alsek.core import Broker, task
from alsek.core.backoff import ConstantBackoff
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

if os.environ.get("ALSEK_REDIS_URL"):
    backend = RedisBackend()
else:
    backend = DiskCacheBackend()
broker = Broker(backend)
results = ResultStore(backend)
NO_WAIT = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)


@task(broker, mechanism="thread", result_store=results, queue="fast")
def add(a: int, b: int) -> int:
    return a + b


@task(broker, mechanism="process", result_store=results, queue="fast")
def square(x: int) -> int:
    return x * x


@task(broker, mechanism="thread", result_store=results, max_retries=1, backoff=NO_WAIT)
def boom(x: int) -> None:
    raise ValueError(f"boom {x}")


@task(broker, mechanism="thread", result_store=results, timeout=120_000, max_retries=2)
def spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))
    return "spun"


@task(broker, mechanism="process", result_store=results, timeout=120_000, max_retries=2)
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"
'''


def write_app(root: Path, name: str = "ops_app", body: str = APP) -> str:
    """Write the app module under ``root``; returns its name."""
    (root / f"{name}.py").write_text(textwrap.dedent(body))
    return name


@attrs.frozen
class System:
    """Where a test's system lives: the environment the app reads, and the
    ``--redis URL`` / ``--disk DIR`` arguments naming the same store."""

    kind: str
    env: dict[str, str]
    store_args: tuple[str, ...]
    root: Path

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``python -m alsek ARGS`` in the app's directory."""
        return subprocess.run(
            [sys.executable, "-m", "alsek", *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            env=self.env,
            timeout=timeout,
        )

    def worker(self, *args: str) -> Worker:
        """A worker pool subprocess for the app."""
        log = self.root / f"worker-{time.monotonic_ns()}.log"
        return Worker(self.root, "ops_app", list(args), self.env, log)


def make_system(kind: str, root: Path, redis_url: str | None) -> System:
    """A system on Redis (``redis_url``) or on DiskCache under ``root``."""
    if kind == "redis":
        assert redis_url is not None
        env = base_env({"ALSEK_REDIS_URL": redis_url})
        return System(kind, env, ("--redis", redis_url), root)
    directory = root / "store"
    env = base_env({"ALSEK_DISKCACHE_DIR": str(directory)})
    return System(kind, env, ("--disk", str(directory)), root)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded) for ``condition``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def app_broker(system: System) -> object:
    """The app's broker, in this process (for submitting and checking)."""
    from alsek.core import Broker
    from alsek.storage.backends.disk import DiskCacheBackend
    from alsek.storage.backends.redis import RedisBackend

    if system.kind == "redis":
        return Broker(RedisBackend(system.store_args[1]))
    return Broker(DiskCacheBackend(os.fspath(system.store_args[1])))
