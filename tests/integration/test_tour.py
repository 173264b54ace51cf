"""Every code example of the guided tour (docs/guided_tour.md), run as written.

Blocks run in order, section by section, in a shared namespace (as a reader
would type them). The only edits are the documented ones: ``@task(...)``
means "your broker", ``<connection_url>`` and a bare ``Redis()`` point at the
test's redis-server, and the tour's typos take their evident meaning
(``DiskCacheBackend`` is called, ``check_resource_usage`` is
``check_system_usage``, ``callback_message=`` is accepted as is).
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from alsek.core import Broker
from alsek.core.consumer import Consumer
from alsek.effects.execution import run_message
from alsek.storage.backends import Backend

TOUR = Path(__file__).resolve().parents[2] / "docs" / "guided_tour.md"
BLOCKS = re.findall(r"```python\n(.*?)```", TOUR.read_text(), re.S)


@pytest.fixture(autouse=True)
def default_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """``RedisBackend()`` and ``DiskCacheBackend()`` land on this test's own stores."""
    monkeypatch.setenv("ALSEK_DISKCACHE_DIR", str(tmp_path / "diskcache"))
    if "redis" in request.node.name or "needs_redis" in request.fixturenames:
        monkeypatch.setenv("ALSEK_REDIS_URL", request.getfixturevalue("redis_url"))


@pytest.fixture()
def needs_redis(redis_url: str) -> str:
    return redis_url


def block(index: int, **replacements: str) -> str:
    code = BLOCKS[index]
    code = re.sub(r"@task\(\.\.\.", "@task(broker", code)
    for old, new in replacements.items():
        code = code.replace(old, new)
    return code


def run(ns: dict[str, Any], index: int, **replacements: str) -> dict[str, Any]:
    exec(compile(block(index, **replacements), f"<tour block {index}>", "exec"), ns)
    return ns


def drain(broker: Broker, limit: int = 50) -> int:
    """Run every ready message in this thread, as a worker would."""
    consumer = Consumer(broker)
    done = 0
    while done < limit:
        found = consumer.claim(("thread", "process"), 1)
        if not found.messages:
            return done
        for message in found.messages:
            run_message(message, broker)
            done += 1
    return done


def test_the_tour_has_the_blocks_these_tests_expect() -> None:
    assert len(BLOCKS) == 31


def test_backends_redis_diskcache_and_lazy(needs_redis: str) -> None:
    ns: dict[str, Any] = {}
    run(ns, 0)
    run(ns, 1)
    ns["backend"].set("seen", 1)
    port = needs_redis.rsplit(":", 1)[1].split("/")[0]
    run(ns, 2, **{"Redis()": f"Redis(port={port})"})
    assert ns["lazy_backend"].count("queues:math_ops") == 0


def test_custom_backend_class_is_a_backend() -> None:
    ns: dict[str, Any] = {"Client": object}
    run(ns, 3)
    custom = ns["CustomBackend"](conn=object())
    assert isinstance(custom, Backend)
    assert custom.namespace == "alsek"


def test_result_storage_on_redis_and_mixed_backends(needs_redis: str) -> None:
    ns: dict[str, Any] = {}
    run(ns, 4, **{'"<connection_url>"': repr(needs_redis)})
    message = ns["valuable_output"].generate()
    drain(ns["broker"])
    assert ns["result_store"].get(message) == {"a": 1, "b": 2, "c": 3}
    ns = {}
    run(ns, 5)
    message = ns["valuable_output"].generate()
    drain(ns["broker"])
    assert ns["result_store"].get(message) == {"a": 1, "b": 2, "c": 3}
    assert not ns["redis_backend"].exists(f"results:{message.uuid}")


def test_messages_repr_and_properties() -> None:
    ns: dict[str, Any] = {}
    run(ns, 6)
    message = ns["message"]
    shown = repr(message)
    expected_lines = [line.strip() for line in BLOCKS[7].strip().splitlines()]
    ours = [line.strip() for line in shown.splitlines()]
    assert ours[0] == "Message("
    field = re.compile(r"^(\w+)=")
    tour_fields = [field.match(line).group(1) for line in expected_lines[1:-1]]  # type: ignore[union-attr]
    our_fields = [field.match(line).group(1) for line in ours[1:-1]]  # type: ignore[union-attr]
    assert our_fields == tour_fields  # the tour shows every field, in order
    for line in expected_lines[1:-1]:
        name = field.match(line).group(1)  # type: ignore[union-attr]
        if name in ("uuid", "created_at", "updated_at"):
            continue
        assert line.rstrip(",") in [o.rstrip(",") for o in ours], line
    assert re.search(r"created_at='\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}'", shown)
    run(ns, 8)
    assert message.data["task_name"] == "simple_task"
    assert message.summary == (
        f"Message(uuid='{message.uuid}', queue='alsek_queue', task='simple_task')"
    )
    assert message.ready_at == message.created_at
    assert message.ttr == 0 and message.ready is True


def test_mechanisms_timeouts_priority(tmp_path: Path) -> None:
    from alsek.storage.backends.disk import DiskCacheBackend

    ns: dict[str, Any] = {"broker": Broker(DiskCacheBackend(tmp_path / "b"))}
    run(ns, 9)
    assert ns["my_task"].mechanism == "thread" and ns["my_task"]() == 99
    run(ns, 10)
    assert ns["my_task"].timeout == 90_000
    run(ns, 11)
    b = ns["task_b"].generate()
    a = ns["task_a"].generate()
    claimed = Consumer(ns["broker"]).claim(("process",), 2).messages
    assert [m.uuid for m in claimed] == [a.uuid, b.uuid]


def test_triggers_pause_clear_shutdown() -> None:
    ns: dict[str, Any] = {}
    run(ns, 12)
    from alsek.core.task import TriggerTask

    task = ns["check_system_usage"]
    assert isinstance(task, TriggerTask)
    run(ns, 13)
    assert task.job is not None and task.job.next_run_time is not None
    typo = {"check_resource_usage": "check_system_usage"}
    run(ns, 14, **typo)
    assert task.job.next_run_time is None  # paused
    task.resume()
    assert task.job.next_run_time is not None
    run(ns, 15, **typo)
    assert task.job is None and task.scheduler.get_jobs() == []
    run(ns, 16, **typo)
    assert not task.scheduler.running


@pytest.mark.slow
def test_trigger_results_by_descendants(tmp_path: Path) -> None:
    """The harvest example: definitions in a module (so task processes can import
    it), the two statements after "# Start" run by the user with a pool running."""
    code = block(17, **{"backend = DiskCacheBackend\n": "backend = DiskCacheBackend()\n"})
    definitions, start = code.split("# Start")
    (tmp_path / "tour_harvest.py").write_text(definitions)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("tour_harvest")
        from alsek.core.worker import WorkerPool

        ns = dict(vars(module))
        with WorkerPool([module.harvest_data], max_threads=0, max_processes=1):
            exec(compile(start, "<tour block 17>", "exec"), ns)
        module.harvest_data.shutdown()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tour_harvest", None)
    results = ns["results"]
    assert isinstance(results, list) and results
    assert all(isinstance(r, int) and 0 <= r <= 100 for r in results)


def test_message_passing(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {}
    run(ns, 18)
    message = ns["my_task"].generate()
    drain(ns["broker"])
    assert capsys.readouterr().out.strip() == message.uuid
    # A "message" kwarg wins: the task gets the string, not the Message.
    seen = []
    ns["my_task"].function = lambda message: seen.append(message)
    ns["my_task"]._wants_message = True
    ns["my_task"].generate(kwargs={"message": "string"})
    drain(ns["broker"])
    assert seen == ["string"]


def test_callbacks_simple_deferred_nested_and_tuple(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {}
    run(ns, 19)
    run(ns, 20)
    drain(ns["broker"])
    assert capsys.readouterr().out.split() == ["2"]
    run(ns, 21)
    drain(ns["broker"])
    assert capsys.readouterr().out.split() == ["2"]
    run(ns, 22)
    before = set(ns["broker"].backend.scan("queues"))
    run(ns, 23)
    (nested_name,) = set(ns["broker"].backend.scan("queues")) - before
    nested = ns["broker"].backend.get(nested_name)
    drain(ns["broker"])
    assert capsys.readouterr().out.split() == ["5"]
    before = set(ns["broker"].backend.scan("queues"))
    run(ns, 24)
    (flat_name,) = set(ns["broker"].backend.scan("queues")) - before
    flat = ns["broker"].backend.get(flat_name)
    drain(ns["broker"])
    assert capsys.readouterr().out.split() == ["5"]

    def shape(data: dict[str, Any] | None) -> list[str]:
        chain = []
        while data is not None:
            chain.append(data["task_name"])
            data = data["callback_message_data"]
        return chain

    assert (
        shape(nested)
        == shape(flat)
        == ["add_1", "add_1_previous", "add_1_previous", "add_1_previous", "print_result"]
    )


def test_callback_control() -> None:
    from alsek.storage.backends.disk import DiskCacheBackend

    ns: dict[str, Any] = {"broker": Broker(DiskCacheBackend())}
    run(ns, 25)
    task = ns["simple_task"]
    message = task.generate()
    assert task.do_callback(message, 99) is True
    assert task.do_callback(message, 0) is False


def test_pre_and_post_ops(capsys: pytest.CaptureFixture[str]) -> None:
    from alsek.storage.backends.disk import DiskCacheBackend

    ns: dict[str, Any] = {"broker": Broker(DiskCacheBackend())}
    run(ns, 25)  # the reader's namespace still holds ``Any`` from the previous example
    run(ns, 26)
    message = ns["simple_task"].generate()
    drain(ns["broker"])
    out = capsys.readouterr().out
    assert f"About to process {message.summary}!" in out
    assert f"Processed {message.summary} and got '99'!" in out


def test_retries() -> None:
    from alsek.storage.backends.disk import DiskCacheBackend

    ns: dict[str, Any] = {"broker": Broker(DiskCacheBackend())}
    run(ns, 27)
    task = ns["simple_task"]
    message = task.generate()
    assert task.do_retry(message, ZeroDivisionError()) is False
    assert task.do_retry(message, ValueError()) is True


def test_backoff() -> None:
    from alsek.storage.backends.disk import DiskCacheBackend

    ns: dict[str, Any] = {"broker": Broker(DiskCacheBackend())}
    run(ns, 28)
    assert ns["task_a"].backoff.get(3) == 60_000  # floor 60 s applies to 30 s constant
    assert ns["task_b"].backoff.get(3) == 90_000
    assert ns["task_c"].backoff.get(10) == 90_000
    from alsek.core.backoff import ConstantBackoff

    disabled = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)
    assert [disabled.get(n) for n in range(5)] == [0] * 5


def test_concurrency_lock(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {"broker": None}
    from alsek.storage.backends.disk import DiskCacheBackend

    ns["broker"] = Broker(DiskCacheBackend())
    run(ns, 29)
    ns["send_data"]()
    assert capsys.readouterr().out == ""
    from alsek.core import Lock

    holder = Lock("send_data", backend=ns["backend"])
    assert holder.acquire()
    ns["send_data"]()
    assert capsys.readouterr().out.strip() == "Failed to acquire lock"
    holder.release()


class _Enough(Exception):
    pass


def test_consumer_stream(needs_redis: str) -> None:
    from alsek.core import Message

    got: list[str] = []

    def collect(text: str) -> None:
        got.append(text)
        if len(got) == 3:
            raise _Enough

    sender = Broker(__import__("alsek.storage.backends.redis", fromlist=["x"]).RedisBackend())
    sent = [sender.submit(Message(task_name="t", args=(i,))) for i in range(3)]
    ns: dict[str, Any] = {"print": collect}
    stopper = threading.Timer(30, lambda: ns["consumer"].stop())
    stopper.start()
    try:
        with pytest.raises(_Enough):
            run(ns, 30)
    finally:
        stopper.cancel()
    assert got == [f"Got {m.summary}" for m in sent]
