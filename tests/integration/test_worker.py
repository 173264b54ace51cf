"""Worker pools end to end on both backends: mechanisms, order, timeouts, crashes, stopping."""

from __future__ import annotations

import collections
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.storage.result import ResultStore
from tests.support import worker_tasks as wt


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


@pytest.fixture()
def store(backend: Backend) -> ResultStore:
    return ResultStore(backend)


@pytest.fixture()
def bound(broker: Broker, store: ResultStore) -> Iterator[None]:
    wt.bind(broker, store)
    yield
    wt.bind(wt.placeholder, None)


def ledger_lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.usefixtures("bound")
def test_thread_and_process_tasks_run_and_store_results(store: ResultStore) -> None:
    threads = [wt.t_echo.generate(args=({"n": i},)) for i in range(20)]
    procs = [wt.p_echo.generate(args=([i, "x"],)) for i in range(20)]
    with WorkerPool(wt.ALL, max_threads=4, max_processes=2):
        assert [store.get(m, timeout=30_000) for m in threads] == [{"n": i} for i in range(20)]
        assert [store.get(m, timeout=30_000) for m in procs] == [[i, "x"] for i in range(20)]


@pytest.mark.usefixtures("bound")
def test_a_thousand_tasks_run_exactly_once(tmp_path: Path, broker: Broker) -> None:
    ledger = tmp_path / "ledger"
    keys = [f"k{i}" for i in range(1000)]
    for i, key in enumerate(keys):
        (wt.t_ledger if i % 4 else wt.p_ledger).generate(args=(str(ledger), key))
    pool = WorkerPool(wt.ALL, max_threads=8, max_processes=2)
    with pool:
        wait_until(lambda: pool.completed >= 1000, 120, "1000 tasks")
    ends = collections.Counter(line[1] for line in ledger_lines(ledger) if line[0] == "end")
    assert set(ends) == set(keys)
    assert max(ends.values()) == 1
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


@pytest.mark.usefixtures("bound")
def test_priority_order_with_one_worker(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    order = [(3, "c"), (1, "a"), (5, "e"), (2, "b"), (4, "d"), (1, "a2")]
    for priority, key in order:
        wt.t_ledger.generate(args=(str(ledger), key), priority=priority)
    pool = WorkerPool(wt.ALL, max_threads=1, max_processes=0)
    with pool:
        wait_until(lambda: pool.completed >= len(order), 30, "all tasks")
    started = [line[1] for line in ledger_lines(ledger) if line[0] == "start"]
    assert started == ["a", "a2", "b", "c", "d", "e"]


@pytest.mark.usefixtures("bound")
def test_queue_subset_and_order(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    for queue in ("queue_z", "queue_a", "queue_b", "queue_z", "queue_a"):
        wt.t_ledger.generate(args=(str(ledger), queue), queue=queue)
    pool = WorkerPool(wt.ALL, queues=["queue_z", "queue_a"], max_threads=1, max_processes=0)
    with pool:
        wait_until(lambda: pool.completed >= 4, 30, "4 tasks")
        time.sleep(0.3)
    started = [line[1] for line in ledger_lines(ledger) if line[0] == "start"]
    assert started == ["queue_z", "queue_z", "queue_a", "queue_a"]  # queue_b is not consumed


@pytest.mark.usefixtures("bound")
def test_process_timeout_terminates_the_task_within_two_seconds(broker: Broker) -> None:
    message = wt.p_sleep.generate(args=(30,))
    started = time.monotonic()
    pool = WorkerPool(wt.ALL, max_threads=1, max_processes=1)
    with pool:
        wait_until(lambda: any(True for _ in broker.dead_letters()), 20, "a dead letter")
        elapsed = time.monotonic() - started
    (record,) = list(broker.dead_letters())
    assert record.uuid == message.uuid and "timed out after 500 ms" in record.reason
    assert elapsed < 0.5 + 2 + 3  # deadline + 2 s, plus process start-up


@pytest.mark.usefixtures("bound")
def test_thread_timeout_raises_timeout_error_in_the_task(broker: Broker) -> None:
    message = wt.t_spin.generate(args=(30,))
    pool = WorkerPool(wt.ALL, max_threads=2, max_processes=0)
    started = time.monotonic()
    with pool:
        wait_until(lambda: any(True for _ in broker.dead_letters()), 20, "a dead letter")
    elapsed = time.monotonic() - started
    (record,) = list(broker.dead_letters())
    # max_retries=1: timed out, retried once, timed out again.
    assert record.uuid == message.uuid and "timed out" in record.reason
    assert "after 1 retry" in record.reason
    assert elapsed < 2 * (0.5 + 2) + 2


@pytest.mark.usefixtures("bound")
def test_a_thread_stuck_in_c_code_is_abandoned_and_the_pool_goes_on(
    broker: Broker, store: ResultStore
) -> None:
    stuck = wt.t_stuck.generate(args=(6,))
    pool = WorkerPool(wt.ALL, max_threads=1, max_processes=0)
    with pool:
        wait_until(
            lambda: any(True for _ in broker.dead_letters()), 10, "the stuck task's dead letter"
        )
        after = wt.t_echo.generate(args=("still working",))
        assert store.get(after, timeout=10_000) == "still working"
    (record,) = list(broker.dead_letters())
    assert record.uuid == stuck.uuid and "timed out" in record.reason


@pytest.mark.usefixtures("bound")
@pytest.mark.parametrize("how", ["exit", "segfault", "kill"])
def test_crashing_processes_are_redelivered_then_dead_lettered(
    how: str, tmp_path: Path, broker: Broker, store: ResultStore
) -> None:
    ledger = tmp_path / "ledger"
    crash = wt.p_crash.generate(args=(how, str(ledger)))
    fine = [wt.p_echo.generate(args=(i,)) for i in range(5)]
    with WorkerPool(wt.ALL, max_threads=1, max_processes=2):
        assert [store.get(m, timeout=60_000) for m in fine] == list(range(5))
        wait_until(lambda: any(True for _ in broker.dead_letters()), 60, "a dead letter")
    (record,) = list(broker.dead_letters())
    assert record.uuid == crash.uuid and "crashed on 4 deliveries" in record.reason
    assert len(ledger_lines(ledger)) == 4  # first delivery + 3 redeliveries


@pytest.mark.usefixtures("bound")
def test_failures_retry_then_dead_letter(tmp_path: Path, broker: Broker) -> None:
    ledger = tmp_path / "ledger"
    message = wt.t_fail.generate(args=(str(ledger),))
    with WorkerPool(wt.ALL, max_threads=1, max_processes=0):
        wait_until(lambda: any(True for _ in broker.dead_letters()), 20, "a dead letter")
    (record,) = list(broker.dead_letters())
    assert record.uuid == message.uuid
    assert record.reason == "ValueError: always fails after 2 retries"
    assert len(ledger_lines(ledger)) == 3
    again = broker.resubmit_dead_letter(message.uuid)
    assert again.retries == 0 and broker.exists(again)
    assert list(broker.dead_letters()) == []


@pytest.mark.usefixtures("bound")
def test_unknown_tasks_are_dead_lettered_and_never_run(broker: Broker, store: ResultStore) -> None:
    from alsek.core import Message

    stranger = broker.submit(Message(task_name="nobody_knows_me", args=(1,), mechanism="thread"))
    known = wt.t_echo.generate(args=(1,))
    with WorkerPool(wt.ALL, max_threads=1, max_processes=0):
        assert store.get(known, timeout=10_000) == 1
        wait_until(lambda: any(True for _ in broker.dead_letters()), 10, "a dead letter")
    (record,) = list(broker.dead_letters())
    assert record.uuid == stranger.uuid and "unknown task 'nobody_knows_me'" in record.reason


@pytest.mark.usefixtures("bound")
def test_leases_are_renewed_while_a_long_task_runs(tmp_path: Path, broker: Broker) -> None:
    ledger = tmp_path / "ledger"
    wt.t_ledger.generate(args=(str(ledger), "long", 1500))
    first = WorkerPool(wt.ALL, max_threads=1, max_processes=0, lease_ms=450)
    second = WorkerPool(wt.ALL, max_threads=1, max_processes=0, lease_ms=450)
    with first:
        wait_until(lambda: ledger.exists(), 10, "the task to start")
        with second:
            wait_until(lambda: first.completed >= 1, 10, "the task to finish")
            time.sleep(0.3)
    starts = [line for line in ledger_lines(ledger) if line[0] == "start"]
    assert len(starts) == 1
    assert second.completed == 0


@pytest.mark.usefixtures("bound")
def test_graceful_stop_hands_back_what_cannot_finish(tmp_path: Path, broker: Broker) -> None:
    ledger = tmp_path / "ledger"
    short = wt.p_ledger.generate(args=(str(ledger), "short", 100))
    long = wt.p_ledger.generate(args=(str(ledger), "long", 20_000))
    pool = WorkerPool(wt.ALL, max_threads=0, max_processes=2).start()
    wait_until(
        lambda: sum(1 for line in ledger_lines(ledger) if line[0] == "start") == 2,
        30,
        "both tasks to start",
    )
    started = time.monotonic()
    pool.stop(grace_ms=1_000)
    assert time.monotonic() - started < 10
    assert not broker.exists(short)  # finished within the grace period
    assert broker.exists(long)  # handed back, at once claimable again
    assert broker.counts("alsek_queue") == {"ready": 1, "delayed": 0, "leased": 0}

    def long_starts() -> list[list[str]]:
        return [line for line in ledger_lines(ledger) if line[:2] == ["start", "long"]]

    with WorkerPool(wt.ALL, max_threads=0, max_processes=1, lease_ms=60_000) as again:
        wait_until(lambda: len(long_starts()) == 2, 30, "the long task to start again")
        again.stop(grace_ms=0)
    # The hand-back did not count as a delivery: both runs saw deliveries == 1.
    assert [line[3] for line in long_starts()] == ["1", "1"]


@pytest.mark.usefixtures("bound")
def test_idle_workers_retire_and_come_back(store: ResultStore) -> None:
    pool = WorkerPool(wt.ALL, max_threads=4, max_processes=1, idle_ms=200)
    with pool:
        first = [wt.t_echo.generate(args=(i,)) for i in range(8)]
        assert [store.get(m, timeout=10_000) for m in first] == list(range(8))
        assert 1 <= len(pool.slots.workers["thread"]) <= 4
        wait_until(lambda: not pool.slots.workers["thread"], 10, "idle threads to retire")
        again = wt.t_echo.generate(args=("back",))
        assert store.get(again, timeout=10_000) == "back"


def test_tasks_on_different_brokers_are_refused(backend: Backend, tmp_path: Path) -> None:
    from alsek.core import task
    from alsek.exceptions import ValidationError
    from alsek.storage.backends.disk import DiskCacheBackend

    a = task(Broker(backend), name="on_a")(lambda: 1)
    b = task(Broker(DiskCacheBackend(tmp_path / "other")), name="on_b")(lambda: 2)
    with pytest.raises(ValidationError, match="share one broker"):
        WorkerPool([a, b])


def test_pytorch_backend_without_torch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from alsek.effects.runners.process import multiprocessing_module
    from alsek.exceptions import ValidationError

    real_import = builtins.__import__

    def no_torch(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("torch"):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_torch)
    monkeypatch.setenv("ALSEK_MULTIPROCESS_BACKEND", "pytorch")
    with pytest.raises(ValidationError, match="needs PyTorch"):
        multiprocessing_module()


@pytest.mark.usefixtures("bound")
def test_pytorch_backend_is_used_when_selected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: ResultStore
) -> None:
    """A stand-in ``torch.multiprocessing`` records that the pool went through it."""
    fake = tmp_path / "fake_torch"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("")
    (fake / "torch" / "multiprocessing.py").write_text(
        "import multiprocessing as _mp\nused = []\n"
        "def get_context(method):\n    used.append(method)\n    return _mp.get_context(method)\n"
        "def get_all_start_methods():\n    return _mp.get_all_start_methods()\n"
    )
    monkeypatch.syspath_prepend(str(fake))
    monkeypatch.setenv("ALSEK_MULTIPROCESS_BACKEND", "pytorch")
    import torch.multiprocessing as torch_mp  # type: ignore[import-not-found]

    message = wt.p_echo.generate(args=("via torch",))
    with WorkerPool(wt.ALL, max_threads=0, max_processes=1):
        assert store.get(message, timeout=30_000) == "via torch"
    assert torch_mp.used


def test_no_threads_left_behind_after_stop(backend: Backend) -> None:
    from alsek.core import task

    noop = task(Broker(backend), mechanism="thread", name="noop_threads")(lambda: None)
    before = threading.active_count()
    pool = WorkerPool([noop], max_threads=4, max_processes=0)
    with pool:
        for _ in range(10):
            noop.generate()
        wait_until(lambda: pool.completed >= 10, 10, "10 tasks")
    wait_until(lambda: threading.active_count() <= before + 1, 10, "threads to exit")


@pytest.mark.usefixtures("bound")
def test_one_producers_messages_run_first_in_first_out(tmp_path: Path) -> None:
    """Many submissions share a millisecond; time-ordered uuids keep their order."""
    ledger = tmp_path / "ledger"
    keys = [f"k{i:03d}" for i in range(60)]
    for key in keys:
        wt.t_ledger.generate(args=(str(ledger), key))
    pool = WorkerPool(wt.ALL, max_threads=1, max_processes=0)
    with pool:
        wait_until(lambda: pool.completed >= len(keys), 30, "every task")
    assert [line[1] for line in ledger_lines(ledger) if line[0] == "start"] == keys


@pytest.mark.usefixtures("bound")
def test_an_internal_error_in_a_runner_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, store: ResultStore
) -> None:
    """A bug in our own code while preparing a job must neither kill the runner nor hold
    the message forever: the job is let go and redelivered when its lease expires."""
    from alsek.effects.consumer import Consumer

    real = Consumer.decode
    failures = []

    def flaky(self: Consumer, claim: object) -> object:
        if not failures:
            failures.append(claim)
            raise RuntimeError("injected internal error")
        return real(self, claim)  # type: ignore[arg-type]

    monkeypatch.setattr(Consumer, "decode", flaky)
    first = wt.t_echo.generate(args=("first",))
    pool = WorkerPool(wt.ALL, max_threads=1, max_processes=0, lease_ms=600)
    with pool:
        assert store.get(first, timeout=20_000) == "first"
        later = wt.t_echo.generate(args=("later",))
        assert store.get(later, timeout=20_000) == "later"
    assert failures


@pytest.mark.usefixtures("bound")
@pytest.mark.parametrize("first", ["stop", "kill_all"])
def test_a_task_process_started_as_the_pool_stops_does_not_outlive_it(first: str) -> None:
    """Starting a task process takes a while; the pool may stop meanwhile (its drain can
    even reach ``kill_all`` before ``stop()`` tells the supervisor). The new process must
    not stay: left out of the pool's list, it would claim messages whose leases nobody
    renews, and run them twice."""
    pool = WorkerPool(wt.ALL, max_threads=0, max_processes=1)
    children = pool.children
    assert children is not None
    before = set(multiprocessing.active_children())
    try:
        getattr(children, first)()
        children._spawn()  # the start that was under way
        assert children.children == []
    finally:
        children.kill_all()
    late = [p for p in multiprocessing.active_children() if p not in before]
    wait_until(lambda: not any(p.is_alive() for p in late), 10, "the late process to end")
