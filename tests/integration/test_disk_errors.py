"""DiskCache: a locked database, an unopenable directory and other SQLite outages become
``BackendUnavailableError`` on every public method; SQLite bugs stay errors."""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest

from alsek.core import Broker, Message
from alsek.effects.backends.base import ResultWrite
from alsek.exceptions import BackendUnavailableError
from alsek.pure.queue_model import LeaseRef, entry_for
from alsek.storage.backends.disk import DiskCacheBackend

NAME = "queues:q:tasks:t:messages:m1"


@pytest.fixture()
def backend(tmp_path: Path) -> Iterator[DiskCacheBackend]:
    cache = diskcache.Cache(str(tmp_path / "dc"), eviction_policy="none", timeout=0.05)
    backend = DiskCacheBackend(cache)
    backend.check()
    yield backend
    cache.close()


def lock_exclusively(backend: DiskCacheBackend) -> sqlite3.Connection:
    """Another connection holding the write lock, as a stuck process would."""
    other = sqlite3.connect(str(Path(backend.directory) / "cache.db"), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_every_public_method_goes_through_the_translation() -> None:
    public = [
        name
        for name in dir(DiskCacheBackend)
        if not name.startswith("_")
        and inspect.isfunction(inspect.getattr_static(DiskCacheBackend, name))
    ]
    assert len(public) > 20
    untranslated = [
        n for n in public if not getattr(getattr(DiskCacheBackend, n), "translated", False)
    ]
    assert untranslated == []


def writers(backend: DiskCacheBackend, held: Any) -> dict[str, Callable[[], Any]]:
    m2 = Message(task_name="t", queue="q", uuid="m2", created_at=1)
    token, entry = held.token, entry_for(held.message, NAME)
    return {
        "set": lambda: backend.set("results:x", 1),
        "set_if_absent": lambda: backend.set_if_absent("results:y", 1),
        "delete": lambda: backend.delete("results:z", missing_ok=True),
        "enqueue": lambda: backend.enqueue(
            entry_for(m2, "queues:q:tasks:t:messages:m2"), m2.data, 2
        ),
        "claim": lambda: backend.claim(["q"], ["process", "thread"], 10, 1_000, ["t2"]),
        "wait_and_claim": lambda: backend.wait_and_claim(
            ["q"], ["process"], lambda: 10, 1_000, ["t3"], 0
        ),
        "renew": lambda: backend.renew("q", NAME, token, 10, 1_000),
        "renew_many": lambda: backend.renew_many([LeaseRef("q", NAME, token)], 10, 1_000),
        "ack": lambda: backend.ack("q", NAME, token),
        "release": lambda: backend.release("q", NAME, token, entry, held.message.data, "keep", 10),
        "dead_letter": lambda: backend.dead_letter("q", NAME, token, "dlq:" + NAME, {}, None),
        "settle": lambda: backend.settle(
            "q", NAME, token, ResultWrite("results:m1", 1, None), None, 10
        ),
        "set_and_notify": lambda: backend.set_and_notify("results:n", 1),
        "compare_and_delete": lambda: backend.compare_and_delete("locks:l:0", "tok"),
        "compare_and_expire": lambda: backend.compare_and_expire("locks:l:0", "tok", 1_000),
        "known_queues": backend.known_queues,
        "queue_counts": lambda: backend.queue_counts("q", 10),
        "clear_namespace": backend.clear_namespace,
        "check": backend.check,
    }


class Held:
    def __init__(self, backend: DiskCacheBackend) -> None:
        message = Message(task_name="t", queue="q", uuid="m1", created_at=1)
        Broker(backend).submit(message)
        backend.set("locks:l:0", "tok")
        (claim,) = backend.claim(["q"], ["process"], 10, 60_000, ["t1"]).claims
        self.token, self.message = claim.token, message


def test_a_locked_database_is_an_outage_for_every_writer(backend: DiskCacheBackend) -> None:
    held = Held(backend)
    other = lock_exclusively(backend)
    try:
        for name, call in writers(backend, held).items():
            with pytest.raises(BackendUnavailableError, match="database is locked") as caught:
                call()
            assert isinstance(
                caught.value.__cause__, (sqlite3.OperationalError, diskcache.Timeout)
            ), name
            assert backend.directory in str(caught.value), name
        # Readers are not blocked by a writer (WAL): they go on answering.
        assert backend.exists(NAME) and backend.get(NAME)["uuid"] == "m1"
        assert list(backend.scan("queues:*")) == [NAME] and backend.count("locks:*") == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Nothing was half-done, and everything works again once the lock is gone.
    assert backend.get("locks:l:0") == "tok" and not backend.exists("results:x")
    assert backend.queue_counts("q", 10) == {"ready": 0, "delayed": 0, "leased": 1}
    assert backend.ack("q", NAME, held.token)


def test_a_directory_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    backend = DiskCacheBackend(blocker / "cache")
    with pytest.raises(BackendUnavailableError, match="cannot be opened"):
        backend.check()
    with pytest.raises(BackendUnavailableError):
        backend.set("x", 1)


def test_sqlite_errors_that_are_bugs_stay_errors(backend: DiskCacheBackend) -> None:
    Held(backend)
    other = sqlite3.connect(str(Path(backend.directory) / "cache.db"), isolation_level=None)
    other.execute("DROP TABLE alsek_index")
    other.close()
    with pytest.raises(sqlite3.OperationalError, match="no such table") as caught:
        backend.claim(["q"], ["process"], 10, 1_000, ["t9"])
    assert not isinstance(caught.value, BackendUnavailableError)
