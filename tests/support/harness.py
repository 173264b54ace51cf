"""Real worker pools as subprocesses, task ledgers, and a checker, for CLI and chaos tests.

Every task run appends ``start``/``end`` lines to a per-process append-only
ledger; the checker counts lost, duplicated and early runs from them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parents[2]

TASKS_MODULE = '''
"""Tasks for harness-driven worker pools (broker from the environment)."""
import os
import time

from alsek.core import Broker, Message, task
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
LEDGERS = os.environ["HARNESS_LEDGERS"]
NO_WAIT = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)


def record(line):
    path = os.path.join(LEDGERS, f"ledger-{os.getpid()}")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)


def run(key, sleep_ms, message):
    record(f"start {key} {int(time.time() * 1000)} {message.deliveries} {message.ready_at}")
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    record(f"end {key} {int(time.time() * 1000)}")
    return key


@task(broker, mechanism="process", max_retries=0, backoff=NO_WAIT, result_store=results)
def work_process(key: str, sleep_ms: int = 0, message: Message = None) -> str:
    return run(key, sleep_ms, message)


@task(broker, mechanism="thread", max_retries=0, backoff=NO_WAIT, result_store=results)
def work_thread(key: str, sleep_ms: int = 0, message: Message = None) -> str:
    return run(key, sleep_ms, message)
'''


def write_tasks_package(root: Path, name: str = "harness_tasks", body: str = TASKS_MODULE) -> Path:
    """A package ``name`` under ``root`` whose module ``tasks`` defines the harness tasks."""
    package = root / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(textwrap.dedent(body))
    return package


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("ALSEK_REDIS_URL", None)
    env.pop("ALSEK_DISKCACHE_DIR", None)
    env.update(extra or {})
    return env


class Worker:
    """``python -m alsek worker TARGET ...`` (or another long-running ``command``)
    running in a subprocess."""

    def __init__(
        self,
        cwd: Path,
        target: str,
        args: Sequence[str],
        env: dict[str, str],
        log: Path,
        command: str = "worker",
    ) -> None:
        self.log = log
        self.handle = open(log, "ab")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alsek", command, target, *args],
            cwd=cwd,
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def descendants(self) -> list[int]:
        return descendants(self.pid)

    def task_processes(self) -> list[int]:
        """Pids of the pool's task processes: the children of its forkserver."""
        tree = _children_map()
        servers = [c for c in tree.get(self.pid, []) if "forkserver" in process_title(c)]
        return [pid for server in servers for pid in tree.get(server, [])]

    def wait(self, timeout: float = 30) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            self.handle.close()
        return code

    def kill_tree(self) -> None:
        for pid in [self.pid, *self.descendants()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.wait(30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    tree = _children_map()
    found, frontier = [], [pid]
    while frontier:
        for child in tree.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def process_title(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@attrs.frozen
class Run:
    key: str
    kind: str
    at: int
    deliveries: int = 0
    ready_at: int = 0


def read_ledgers(directory: Path) -> list[Run]:
    runs = []
    for path in sorted(directory.glob("ledger-*")):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue  # a line torn by a kill mid-write
            if parts[0] == "start" and len(parts) >= 5:
                runs.append(Run(parts[1], "start", int(parts[2]), int(parts[3]), int(parts[4])))
            elif parts[0] == "end":
                runs.append(Run(parts[1], "end", int(parts[2])))
    return runs


@attrs.frozen
class Verdict:
    submitted: int
    completed: int
    lost: tuple[str, ...]
    duplicated: int
    early: tuple[str, ...]

    def summary(self) -> str:
        return (
            f"submitted={self.submitted} completed={self.completed} lost={len(self.lost)} "
            f"duplicated={self.duplicated} early={len(self.early)}"
        )


def check(keys: Iterable[str], runs: Sequence[Run], dead: Iterable[str] = ()) -> Verdict:
    """Count lost keys (no run completed, not dead-lettered), duplicate completions and
    early starts."""
    keys = list(keys)
    ends = Counter(run.key for run in runs if run.kind == "end")
    dead = set(dead)
    lost = tuple(k for k in keys if ends[k] == 0 and k not in dead)
    duplicated = sum(count - 1 for key, count in ends.items() if count > 1)
    early = tuple(run.key for run in runs if run.kind == "start" and run.at < run.ready_at)
    return Verdict(len(keys), sum(1 for k in keys if ends[k]), lost, duplicated, early)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
