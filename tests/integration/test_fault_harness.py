"""The fault-injection harness itself: it fails what the plan says, raises what a real
server raises, applies what it says was applied, and counts what each fault hit."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from alsek.core import Broker, Message
from alsek.exceptions import BackendUnavailableError
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from tests.conftest import require_redis_binary
from tests.support import faults
from tests.support.fault_verdict import Runs, Sent, Spec, concurrency, judge
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    require_redis_binary()
    with RedisServer(persistent=True) as running:
        yield running


@pytest.fixture()
def url(server: RedisServer) -> str:
    client = redis.Redis(port=server.port)
    client.flushall()
    client.close()
    return server.url


def cause(error: BaseException) -> BaseException:
    """The exception ``error`` was raised from, if it was translated (the server's own)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def bare(url: str) -> RedisBackend:
    """A backend on a client with no retries of its own: each fault reaches the caller,
    so the harness's own semantics can be checked one call at a time."""
    return RedisBackend(redis.Redis.from_url(url))


def message() -> Message:
    return Message(task_name="harness", mechanism="thread")


def failure(call: Any) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return cause(caught.value)


# -- Redis -------------------------------------------------------------------------------


REFUSALS = [
    ("oom", faults.out_of_memory),
    ("noreplicas", faults.no_replicas),
    ("readonly", faults.demoted),
    ("busy", faults.busy_script),
]


def write_plain(backend: RedisBackend) -> None:
    backend.set("plain", 1)


def write_by_script(backend: RedisBackend) -> None:
    Broker(backend).submit(message())


@pytest.mark.parametrize(("kind", "real"), REFUSALS)
@pytest.mark.parametrize("write", [write_plain, write_by_script])
def test_an_injected_refusal_is_what_the_real_server_says(
    kind: str, real: Any, write: Any, url: str, server: RedisServer
) -> None:
    with real(server):
        genuine = failure(lambda: write(RedisBackend(url)))
    faulty = RedisBackend(url)
    injector = faults.inject(faulty)
    injector.fail_calls(kind, "any", [1])
    injected = failure(lambda: write(faulty))
    assert type(injected) is type(genuine)
    assert str(injected).split(" on @user_script")[0] == str(genuine).split(" on @user_script")[0]


@pytest.mark.parametrize("kind", ["oom", "noreplicas", "readonly", "misconf", "busy"])
def test_a_refused_command_changes_nothing(kind: str, url: str) -> None:
    faulty = RedisBackend(url)
    injector = faults.inject(faulty)
    injector.fail_calls(kind, "outcome", [1])
    refused, accepted = message(), message()
    failure(lambda: Broker(faulty).submit(refused))
    Broker(faulty).submit(accepted)
    clean = Broker(RedisBackend(url))
    assert not clean.exists(refused) and clean.exists(accepted)
    assert injector.hits(refused.uuid) == 1 and injector.hits(accepted.uuid) == 0
    assert injector.by_kind() == {kind: 1}


@pytest.mark.parametrize("kind", ["timeout", "connection"])
@pytest.mark.parametrize("applied", [False, True])
def test_a_lost_reply_is_applied_only_when_planned_so(kind: str, applied: bool, url: str) -> None:
    faulty = bare(url)
    injector = faults.inject(faulty)
    Broker(faulty).submit(message())  # the script is loaded: an applied call does its work
    injector.fail_calls(kind, "outcome", [1], applied=applied)
    sent = message()
    error = failure(lambda: Broker(faulty).submit(sent))
    expected = redis.TimeoutError if kind == "timeout" else redis.ConnectionError
    assert isinstance(error, expected)
    assert Broker(RedisBackend(url)).exists(sent) is applied
    assert injector.events[0].applied is applied and injector.hits(sent.uuid) == 1


def test_calls_count_per_operation_and_windows_end(url: str) -> None:
    faulty = RedisBackend(url)
    injector = faults.inject(faulty)
    broker = Broker(faulty)
    injector.fail_calls("oom", "claim", [2, 3])
    outcomes = []
    for _ in range(4):
        try:
            broker.claim(None, ["thread"], 1_000, ["token"])
            outcomes.append("ok")
        except Exception as error:  # the backend's translation of the server's refusal
            assert isinstance(cause(error), redis.OutOfMemoryError), error
            outcomes.append("oom")
    assert outcomes == ["ok", "oom", "oom", "ok"]
    injector.fail_for(0.3, "readonly")
    sent = message()
    failure(lambda: broker.submit(sent))
    assert faulty.get_or_none("absent") is None  # reads still answer
    time.sleep(0.35)
    broker.submit(sent)
    assert broker.exists(sent)


def test_a_claim_whose_reply_was_lost_holds_the_message_and_counts_as_its_fault(
    url: str,
) -> None:
    faulty = bare(url)
    injector = faults.inject(faulty)
    broker = Broker(faulty)
    sent = broker.submit(message())
    broker.claim(None, ["thread"], 60_000, ["warm-up"])  # loads the script, claims it
    assert broker.release(sent, "warm-up")  # and give it back, for the next claim to find
    injector.fail_calls("timeout", "claim", [1], applied=True)
    failure(lambda: broker.claim(None, ["thread"], 60_000, ["lost"]))
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 1}
    assert injector.hits(sent.uuid) == 1


# -- DiskCache --------------------------------------------------------------------------


def test_sqlite_errors_are_raised_before_anything_is_written(tmp_path: Path) -> None:
    faulty = DiskCacheBackend(tmp_path)
    injector = faults.inject(faulty)
    injector.fail_calls("full", "outcome", [1])
    refused = message()
    error = failure(lambda: Broker(faulty).submit(refused))
    assert isinstance(error, sqlite3.OperationalError) and str(error) == "database or disk is full"
    assert not Broker(DiskCacheBackend(tmp_path)).exists(refused)
    injector.fail_calls("ioerr", "any", [1])
    error = failure(lambda: faulty.get_or_none("anything"))
    assert str(error) == "disk I/O error"


def test_a_locked_database_is_an_outage_until_it_is_unlocked(tmp_path: Path) -> None:
    faulty = DiskCacheBackend(tmp_path)
    injector = faults.inject(faulty)
    broker = Broker(faulty)
    sent = broker.submit(message())
    injector.fail_for(0.2, "locked", "claim")
    # (SQLite itself waits out a lock for its busy timeout first; the fault is what it
    # answers once that has passed.)
    with pytest.raises(BackendUnavailableError, match="locked"):
        broker.claim(None, ["thread"], 1_000, ["token"])
    assert injector.by_kind()["locked"] >= 1
    time.sleep(0.25)
    claimed = broker.claim(None, ["thread"], 1_000, ["token"])
    assert [c.name for c in claimed.claims] == [broker.get_message_name(sent)]


# -- real-server faults -----------------------------------------------------------------


def test_a_killed_server_restarts_with_every_acknowledged_write(
    url: str, server: RedisServer
) -> None:
    broker = Broker(RedisBackend(url))
    sent = [broker.submit(message()) for _ in range(50)]
    faults.hold(faults.killed(server), 0.2)
    after = Broker(RedisBackend(url))
    assert all(after.exists(m) for m in sent)


def test_paused_writes_wait_and_reads_do_not(url: str, server: RedisServer) -> None:
    client = redis.Redis.from_url(url)
    timings: dict[str, float] = {}

    def write() -> None:
        started = time.monotonic()
        client.set("key", "value")
        timings["write"] = time.monotonic() - started

    with faults.paused_writes(server):
        writer = threading.Thread(target=write)
        writer.start()
        started = time.monotonic()
        assert redis.Redis.from_url(url).get("absent") is None
        timings["read"] = time.monotonic() - started
        time.sleep(0.5)
        assert writer.is_alive()
    writer.join(10)
    assert timings["read"] < timings["write"] and client.get("key") == b"value"


def test_a_locked_database_blocks_writers_until_released(tmp_path: Path) -> None:
    backend = DiskCacheBackend(tmp_path)
    backend.set("ready", 1)
    done = threading.Event()
    with faults.locked_database(tmp_path):
        writer = threading.Thread(target=lambda: (backend.set("key", 1), done.set()))
        writer.start()
        assert not done.wait(0.5)
        assert backend.get("ready") == 1  # readers go on (WAL)
    assert done.wait(10)


# -- the verdict's arithmetic -----------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20)), max_size=12))
def test_concurrency_is_the_most_intervals_open_at_once(spans: list[tuple[int, int]]) -> None:
    intervals = [(start, start + length) for start, length in spans]
    brute = max(
        (sum(1 for s, e in intervals if s <= t < e) for t in range(0, 80)),
        default=0,
    )
    assert concurrency(intervals) == brute


def test_judge_names_each_broken_invariant() -> None:
    sent = {
        "lost": Sent("lost", Spec("thread")),
        "twice": Sent("twice", Spec("thread")),
        "hit": Sent("hit", Spec("thread")),
        "both": Sent("both", Spec("thread")),
        "failing": Sent("failing", Spec("thread", fail_times=9)),
        "orphan": Sent("orphan", Spec("thread"), parent="failing"),
        "kept": Sent("kept", Spec("thread", result=True)),
        "queued": Sent("queued", Spec("thread")),
    }
    run = ((1, 2),)
    runs = {
        "twice": Runs(run * 2, ended=2),
        "hit": Runs(run * 2, ended=2),
        "both": Runs(run, ended=1),
        "failing": Runs(run * 3),
        "orphan": Runs(run, ended=1),
        "kept": Runs(run, ended=1),
        "queued": Runs(run, ended=1),
    }
    dead = {"both": "crash loop", "failing": "failed"}
    found = judge(sent, runs, dead, results=set(), hits={"hit": 1}, pending=["queued"])
    assert found["lost"] == ("lost", "queued")
    assert found["excess"] == (("twice", 2, 1),)
    assert found["doubled"] == ("both",)
    assert found["orphan_callbacks"] == ("orphan",)
    assert found["missing_results"] == ("kept",)
    assert found["wrongly_dead"] == ()
