"""The CLI as a user runs it: a subprocess on a temporary package, every discovery form."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.support.harness import (
    REPO,
    Worker,
    base_env,
    read_ledgers,
    wait_for,
    write_tasks_package,
)

TASK_FILE = """
import os
from alsek.core import Broker, task
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

backend = RedisBackend()
broker = Broker(backend)
results = ResultStore(backend)


@task(broker, result_store=results, mechanism="{mechanism}", queue="{queue}")
def {name}(x: int) -> str:
    return f"{name}:{{x}}:{{os.getpid()}}"
"""


def make_file(path: Path, name: str, queue: str = "alsek_queue", mechanism: str = "thread") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TASK_FILE.format(name=name, queue=queue, mechanism=mechanism))


def start(tmp_path: Path, target: str, redis_url: str, *args: str) -> Worker:
    env = base_env({"ALSEK_REDIS_URL": redis_url, "HARNESS_LEDGERS": str(tmp_path)})
    return Worker(
        tmp_path,
        target,
        ["--max_threads", "2", "--max_processes", "1", *args],
        env,
        tmp_path / f"worker-{time.monotonic_ns()}.log",
    )


def stop(worker: Worker) -> str:
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    return worker.output()


def run_one(tmp_path: Path, redis_url: str, target: str, task_name: str) -> str:
    from alsek.effects.task import Task

    broker = Broker(RedisBackend(redis_url))
    store = ResultStore(RedisBackend(redis_url))
    caller = Task(lambda x: None, broker, name=task_name, result_store=store, mechanism="thread")
    message = caller.generate(args=(7,))
    worker = start(tmp_path, target, redis_url)
    try:
        result = store.get(message, timeout=30_000)
    finally:
        output = stop(worker)
    assert f"{task_name} {message.uuid[-8:]} succeeded in " in output
    return str(result)


def test_a_module_file_name(tmp_path: Path, redis_url: str) -> None:
    make_file(tmp_path / "my_tasks.py", "from_module")
    assert run_one(tmp_path, redis_url, "my_tasks", "from_module").startswith("from_module:7:")
    assert run_one(tmp_path, redis_url, "my_tasks.py", "from_module").startswith("from_module:7:")


def test_a_dotted_path_to_a_nested_module(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "my_project").mkdir()
    (tmp_path / "my_project" / "__init__.py").write_text("")
    (tmp_path / "my_project" / "singletons.py").write_text("VALUE = 1\n")
    make_file(tmp_path / "my_project" / "my_tasks.py", "nested")
    assert run_one(tmp_path, redis_url, "my_project.my_tasks", "nested").startswith("nested:7:")


def test_a_directory_scanned_recursively(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "my_project" / "deep" / "deeper").mkdir(parents=True)
    for part in ("my_project", "my_project/deep", "my_project/deep/deeper"):
        (tmp_path / part / "__init__.py").write_text("")
    make_file(tmp_path / "my_project" / "deep" / "deeper" / "found.py", "deep_task")
    make_file(tmp_path / "my_project" / "top.py", "top_task", mechanism="process")
    assert run_one(tmp_path, redis_url, "my_project", "deep_task").startswith("deep_task:7:")
    assert run_one(tmp_path, redis_url, "my_project", "top_task").startswith("top_task:7:")


def test_queues_option_restricts_and_orders(tmp_path: Path, redis_url: str) -> None:
    package = write_tasks_package(tmp_path)
    assert package.exists()
    from alsek.effects.task import Task

    broker = Broker(RedisBackend(redis_url))
    sender = Task(
        lambda key, sleep_ms=0, message=None: None, broker, name="work_thread", mechanism="thread"
    )
    for queue in ("queue_z", "queue_a", "queue_b", "queue_z", "queue_a"):
        sender.generate(args=(queue,), queue=queue)
    worker = start(
        tmp_path, "harness_tasks", redis_url, "-q", "queue_z,queue_a", "--max_threads", "1"
    )
    try:
        wait_for(
            lambda: len([r for r in read_ledgers(tmp_path) if r.kind == "end"]) >= 4,
            30,
            "four runs",
        )
        time.sleep(0.5)
    finally:
        stop(worker)
    starts = [r.key for r in read_ledgers(tmp_path) if r.kind == "start"]
    assert starts == ["queue_z", "queue_z", "queue_a", "queue_a"]
    assert broker.counts("queue_b")["ready"] == 1


def test_python_dash_m_and_the_console_script_agree(tmp_path: Path) -> None:
    module = subprocess.run(
        [sys.executable, "-m", "alsek", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    worker_help = subprocess.run(
        [sys.executable, "-m", "alsek", "worker", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert module.returncode == 0 and "alsek PACKAGE" in module.stdout
    for option in (
        "--queues",
        "--max_threads",
        "--max_processes",
        "--log-level",
        "--consumer_backoff_factor",
        "--grace",
        "--lease",
    ):
        assert option in worker_help.stdout
    script = Path(sys.executable).parent / "alsek"
    if script.exists():
        console = subprocess.run(
            [str(script), "--help"], capture_output=True, text=True, timeout=60
        )
        assert console.stdout == module.stdout.replace("python -m alsek", "alsek")


def test_a_package_without_tasks_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty_pkg").mkdir()
    (tmp_path / "empty_pkg" / "__init__.py").write_text("X = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "alsek", "empty_pkg"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base_env(),
        timeout=60,
    )
    assert result.returncode != 0
    assert "no tasks found in 'empty_pkg'" in result.stderr
    assert "Traceback" not in result.stderr


def test_tasks_on_different_brokers_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "two_brokers.py").write_text(
        "from alsek.core import Broker, task\n"
        "from alsek.storage.backends.disk import DiskCacheBackend\n"
        "a = task(Broker(DiskCacheBackend('a')), name='on_a')(lambda: 1)\n"
        "b = task(Broker(DiskCacheBackend('b')), name='on_b')(lambda: 2)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "alsek", "two_brokers"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base_env(),
        timeout=60,
    )
    assert result.returncode != 0 and "share one broker" in result.stderr


def test_an_unimportable_package_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alsek", "no_such_module_here"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base_env(),
        timeout=60,
    )
    assert result.returncode != 0 and "cannot import 'no_such_module_here'" in result.stderr


def test_logs_say_what_the_pool_does(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "noisy.py").write_text(
        "from alsek.core import Broker, task\n"
        "from alsek.core.backoff import ConstantBackoff\n"
        "from alsek.storage.backends.redis import RedisBackend\n"
        "broker = Broker(RedisBackend())\n"
        "@task(broker, mechanism='thread', max_retries=1,\n"
        "      backoff=ConstantBackoff(constant=100, floor=100, ceiling=100))\n"
        "def boom() -> None:\n"
        "    raise RuntimeError('kaboom')\n"
        "@task(broker, mechanism='process', timeout=300, max_retries=0)\n"
        "def slow() -> None:\n"
        "    import time; time.sleep(30)\n"
        "@task(broker, mechanism='thread')\n"
        "def fine() -> int:\n"
        "    return 1\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import noisy  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    for each in (noisy.boom, noisy.slow, noisy.fine):
        each.broker = Broker(RedisBackend(redis_url))
        each.generate()
    worker = start(tmp_path, "noisy", redis_url)
    try:
        broker = Broker(RedisBackend(redis_url))
        wait_for(lambda: len(list(broker.dead_letters())) == 2, 30, "two dead letters")
    finally:
        output = stop(worker)
    assert "INFO alsek.worker: started WorkerPool" in output
    assert " INFO alsek.task: fine " in output and " succeeded in " in output
    assert "RuntimeError: kaboom; retry 1 in 100 ms" in output
    assert "timed out after 300 ms" in output
    assert "ERROR alsek.outcome: dead-lettered" in output
    assert "SIGTERM received: stopping" in output
    # The test server keeps nothing on disk: the start-up check says so.
    assert "WARNING alsek.worker: backend: Redis persists nothing" in output


def test_deadletters_commands(tmp_path: Path, redis_url: str) -> None:
    (tmp_path / "dlq_tasks.py").write_text(
        "from alsek.core import Broker, task\n"
        "from alsek.storage.backends.redis import RedisBackend\n"
        "broker = Broker(RedisBackend())\n"
        "@task(broker, mechanism='thread')\n"
        "def doomed(x: int) -> None:\n"
        "    pass\n"
    )
    env = base_env({"ALSEK_REDIS_URL": redis_url})
    broker = Broker(RedisBackend(redis_url))
    from alsek.core import Message

    message = broker.submit(Message(task_name="doomed", args=(1,), mechanism="thread"))
    claimed = broker.claim(None, ["thread"], 10_000, ["t"]).claims[0]
    assert claimed.name.endswith(message.uuid)
    broker.fail(
        Message(
            task_name="doomed",
            uuid=message.uuid,
            args=(1,),
            mechanism="thread",
            created_at=message.created_at,
            lock="t",
        ),
        reason="test failure",
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alsek", "deadletters", "dlq_tasks", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )

    listed = cli("list")
    assert (
        listed.returncode == 0 and message.uuid in listed.stdout and "test failure" in listed.stdout
    )
    shown = cli("show", message.uuid)
    assert "reason     test failure" in shown.stdout
    assert '"reason": "test failure"' in cli("show", message.uuid, "--json").stdout
    again = cli("resubmit", message.uuid)
    assert again.returncode == 0 and "re-submitted" in again.stdout
    assert broker.exists(message) and list(broker.dead_letters()) == []
    missing = cli("show", "nope")
    assert missing.returncode != 0 and "no dead letter for message 'nope'" in missing.stderr


def test_sigkill_of_a_worker_mid_run_then_a_new_worker_finishes_everything(
    tmp_path: Path, redis_url: str
) -> None:
    write_tasks_package(tmp_path)
    from alsek.effects.task import Task

    broker = Broker(RedisBackend(redis_url))
    sender = Task(
        lambda key, sleep_ms=0, message=None: None, broker, name="work_process", mechanism="process"
    )
    keys = [f"k{i}" for i in range(40)]
    for key in keys:
        sender.generate(args=(key, 200))
    first = start(tmp_path, "harness_tasks", redis_url, "--lease", "1500", "--max_processes", "2")
    wait_for(
        lambda: len([r for r in read_ledgers(tmp_path) if r.kind == "end"]) >= 5,
        60,
        "some progress",
    )
    first.kill_tree()
    second = start(tmp_path, "harness_tasks", redis_url, "--lease", "1500", "--max_processes", "2")
    try:
        wait_for(
            lambda: {r.key for r in read_ledgers(tmp_path) if r.kind == "end"} >= set(keys),
            90,
            "every key to complete",
        )
    finally:
        stop(second)
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_the_pool_cleanly(tmp_path: Path, redis_url: str, signum: int) -> None:
    write_tasks_package(tmp_path)
    worker = start(tmp_path, "harness_tasks", redis_url)
    wait_for(lambda: "started WorkerPool" in worker.output(), 30, "the pool to start")
    worker.signal(signum)
    assert worker.wait(30) == 0
    assert "pool stopped" in worker.output()


def test_a_second_signal_cuts_the_grace_period(tmp_path: Path, redis_url: str) -> None:
    write_tasks_package(tmp_path)
    from alsek.effects.task import Task

    broker = Broker(RedisBackend(redis_url))
    sender = Task(
        lambda key, sleep_ms=0, message=None: None, broker, name="work_process", mechanism="process"
    )
    sender.generate(args=("long", 60_000))
    worker = start(tmp_path, "harness_tasks", redis_url, "--grace", "60000")
    wait_for(lambda: any(r.kind == "start" for r in read_ledgers(tmp_path)), 60, "the task")
    worker.signal(signal.SIGTERM)
    time.sleep(1)
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert time.monotonic() - started < 20  # not the 60 s grace
    assert "second SIGTERM: stopping now" in worker.output()
    assert broker.counts("alsek_queue") == {"ready": 1, "delayed": 0, "leased": 0}


ASYNC_TASK_FILE = """
import asyncio
import threading
from alsek.core import Broker, task
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore

backend = RedisBackend()
broker = Broker(backend)
results = ResultStore(backend)


@task(broker, result_store=results)
async def on_the_loop(x: int) -> str:
    await asyncio.sleep(0.2)
    return f"{threading.current_thread().name}:{x}"
"""


def test_async_tasks_run_on_the_worker_s_event_loop(tmp_path: Path, redis_url: str) -> None:
    from alsek.effects.task import Task

    (tmp_path / "async_tasks.py").write_text(ASYNC_TASK_FILE)

    async def on_the_loop(x: int) -> str:
        return ""

    store = ResultStore(RedisBackend(redis_url))
    sender = Task(on_the_loop, Broker(RedisBackend(redis_url)), result_store=store)
    messages = [sender.delay(i) for i in range(8)]
    worker = start(tmp_path, "async_tasks", redis_url, "--max_async", "4")
    try:
        results = [store.get(m, timeout=30_000) for m in messages]
    finally:
        output = stop(worker)
    assert results == [f"alsek-event-loop:{i}" for i in range(8)]
    assert "max_async=4" in output
