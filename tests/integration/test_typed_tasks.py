"""Typed tasks: mypy checks calls, ``delay`` and results; at run time they work as typed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alsek.core import Broker, Message, task
from alsek.core.consumer import Consumer
from alsek.core.task import Task, TriggerTask
from alsek.effects.backends.base import Backend
from alsek.effects.execution import run_message
from alsek.exceptions import ValidationError
from alsek.storage.result import ResultStore

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "typing"


def run_until_idle(broker: Broker) -> None:
    """Run what is ready, in this thread, as a worker would."""
    consumer = Consumer(broker)
    for _ in range(100):
        found = consumer.claim(("thread", "process"), 1)
        if not found.messages:
            return
        for message in found.messages:
            run_message(message, broker)


def mypy(path: Path, tmp_path: Path) -> tuple[int, str]:
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(tmp_path / "mypy_cache"),
        "--no-error-summary",
        str(path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_mypy_accepts_correctly_typed_tasks(tmp_path: Path) -> None:
    code, output = mypy(SAMPLES / "typed_ok.py", tmp_path)
    assert code == 0, output
    assert output.strip() == ""


def test_mypy_reports_each_wrongly_typed_call(tmp_path: Path) -> None:
    sample = SAMPLES / "typed_wrong.py"
    code, output = mypy(sample, tmp_path)
    assert code == 1, output
    marked = {
        number
        for number, line in enumerate(sample.read_text().splitlines(), 1)
        if line.endswith("# error")
    }
    reported = {int(n) for n in re.findall(rf"{sample.name}:(\d+): error", output)}
    assert reported == marked, output
    assert (
        'Argument 1 to "__call__" of "Task" has incompatible type "str"; expected "int"' in output
    )
    assert 'Argument 1 to "delay" of "Task" has incompatible type "str"; expected "int"' in output
    assert 'Missing positional argument "b" in call to "delay"' in output
    assert 'expression has type "int", variable has type "str"' in output
    # An async def task: calls are checked, and results are the awaited type.
    assert 'Argument 1 to "delay_async" of "AwaitableCalls" has incompatible type "int"' in output
    assert 'expression has type "bytes", variable has type "int"' in output


def test_delay_submits_the_call_and_result_reads_it_back(backend: Backend) -> None:
    broker = Broker(backend)
    results = ResultStore(backend)

    @task(broker, name="typed_add", result_store=results, mechanism="thread")
    def typed_add(a: int, b: int = 10) -> int:
        return a + b

    message = typed_add.delay(1, b=2)
    assert isinstance(message, Message)
    assert (message.args, message.kwargs) == ((1,), {"b": 2})
    assert broker.exists(message)
    assert typed_add(4) == 14  # a direct call runs here and now
    run_until_idle(broker)
    assert typed_add.result(message, keep=True) == 3
    assert typed_add.result(message) == 3


def test_result_needs_a_result_store(backend: Backend) -> None:
    @task(Broker(backend), name="typed_no_store")
    def typed_no_store() -> int:
        return 1

    with pytest.raises(ValidationError, match="'typed_no_store' has no result_store"):
        typed_no_store.result(typed_no_store.delay())


def test_base_task_subclasses_and_triggers_keep_working(backend: Backend) -> None:
    from apscheduler.triggers.interval import IntervalTrigger

    broker = Broker(backend)
    seen: list[str] = []

    class Audited(Task[Any, Any]):
        def pre_op(self, message: Message) -> None:
            seen.append(message.task_name)

    @task(broker, name="typed_shout", base_task=Audited, mechanism="thread")
    def typed_shout(text: str) -> str:
        return text.upper()

    @task(broker, name="typed_tick", base_task=Audited, trigger=IntervalTrigger(hours=1))
    def typed_tick() -> int:
        return 1

    assert isinstance(typed_shout, Audited)
    assert isinstance(typed_tick, Audited) and isinstance(typed_tick, TriggerTask)
    typed_shout.delay("hi")
    run_until_idle(broker)
    assert seen == ["typed_shout"]
    with pytest.raises(ValidationError, match="takes no arguments"):
        typed_tick.generate(args=(1,))
