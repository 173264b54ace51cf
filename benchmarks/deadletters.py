"""Dead letters at volume: list, resubmit all and remove all, on Redis and DiskCache.

For each backend it writes N dead letters (default 10,000; each a message
submitted and then failed through the Broker), then times, through the
Python API and through the command line (``python -m alsek deadletters``):
listing them, looking one up, counting them per queue (``status``),
re-indexing them, re-submitting them all, and (after writing N more)
removing them all. The index is built before the first write, as in a
running system (the first read of a namespace indexes what is there once).
It also runs against an Alsek without the index or the bulk methods (then
each dead letter is re-submitted and removed one by one). With
``--unrelated K`` the namespace first gets K unrelated keys, and it also
times ``Broker.dead_letters()`` with no dead letter stored and
``ResultStore.get(descendants=True)`` of a message with one descendant: the
paths that must not scan the keyspace.

    python benchmarks/deadletters.py [--n 10000] [--backend redis|disk|both]
                                     [--unrelated 300000] [--no-cli]

It starts its own redis-server on a free loopback port and prints figures;
it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TASKS = '''
"""Tasks for the dead-letter benchmark (the store comes from the environment)."""
import os

from alsek.core import Broker, task
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend

if os.environ.get("ALSEK_REDIS_URL"):
    backend = RedisBackend()
else:
    backend = DiskCacheBackend()
broker = Broker(backend)


@task(broker, mechanism="thread", queue="bench")
def doomed(x: int) -> None:
    raise ValueError(x)
'''


def timed(what: str, step: Callable[[], Any]) -> Any:
    """Run ``step`` and print how long it took."""
    started = time.perf_counter()
    answer = step()
    took = time.perf_counter() - started
    print(f"  {what:<46} {took * 1000:10.1f} ms")
    return answer


def commands(url: str | None) -> int:
    """Commands the Redis server has run so far (0 on DiskCache)."""
    if url is None:
        return 0
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def make_dead_letters(broker: Any, n: int) -> None:
    """``n`` messages of the benchmark task submitted, then failed (dead-lettered)."""
    from alsek.core import Message

    for i in range(n):
        message = Message(task_name="doomed", queue="bench", args=(i,), mechanism="thread")
        broker.submit(message)
        broker.fail(message, reason=f"ValueError: {i}")


def fill_unrelated(backend: Any, count: int) -> None:
    """``count`` keys in the namespace that are neither dead letters nor results."""
    if count <= 0:
        return
    if hasattr(backend, "conn") and hasattr(backend.conn, "pipeline"):
        pipe = backend.conn.pipeline(transaction=False)
        for i in range(count):
            pipe.set(backend.full_name(f"unrelated:{i}"), b"x")
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
        return
    with backend.conn.transact():
        for i in range(count):
            backend.conn.set(backend.full_name(f"unrelated:{i}"), b"x")


def python_api(broker: Any, n: int, url: str | None) -> None:
    """List, resubmit all and remove all through the Python API."""
    from alsek.effects.inspection import dead_letter_counts

    batch = hasattr(broker, "resubmit_dead_letters")
    if batch:
        broker.dead_letter_counts()  # builds the (empty) index: the steady state
    timed(f"write {n:,} dead letters (submit + fail)", lambda: make_dead_letters(broker, n))
    before = commands(url)
    listed = timed("list: Broker.dead_letters()", lambda: list(broker.dead_letters()))
    if url is not None:
        print(f"  {'  Redis commands':<46} {commands(url) - before:10,d}")
    assert len(listed) == n, (len(listed), n)
    uuid = listed[n // 2].uuid
    timed("one lookup: Broker.get_dead_letter(uuid)", lambda: broker.get_dead_letter(uuid))
    timed("count per queue (status)", lambda: dead_letter_counts(broker))
    if batch:
        timed(f"reindex {n:,} dead letters", broker.reindex_dead_letters)
    if batch:
        timed("resubmit all: Broker.resubmit_dead_letters()", broker.resubmit_dead_letters)
    else:

        def one_by_one() -> None:
            for record in listed:
                broker.resubmit_dead_letter(record.uuid)

        timed("resubmit all: resubmit_dead_letter() each", one_by_one)
    assert not list(broker.dead_letters())
    make_dead_letters(broker, n)
    if batch:
        timed("remove all: Broker.remove_dead_letters()", broker.remove_dead_letters)
    else:

        def remove_each() -> None:
            for record in list(broker.dead_letters()):
                broker.remove_dead_letter(record.uuid)

        timed("remove all: remove_dead_letter() each", remove_each)
    assert not list(broker.dead_letters())


def command_line(broker: Any, n: int, env: dict[str, str], root: Path) -> None:
    """The same through ``python -m alsek deadletters bench_dlq_tasks ...``."""

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alsek", "deadletters", "bench_dlq_tasks", *args],
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            timeout=3600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"deadletters {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
        return done.stdout

    make_dead_letters(broker, n)
    timed("cli: deadletters list", lambda: cli("list"))
    timed("cli: deadletters resubmit --all", lambda: cli("resubmit", "--all"))
    make_dead_letters(broker, n)
    help_text = cli("remove", "--help")
    if "--all" in help_text:
        timed("cli: deadletters remove --all", lambda: cli("remove", "--all"))
    else:
        uuids = [record.uuid for record in broker.dead_letters()]
        timed("cli: deadletters remove UUID... (every uuid)", lambda: cli("remove", *uuids))
    assert not list(broker.dead_letters())


def scans(kind: str, backend: Any, unrelated: int, url: str | None) -> None:
    """The paths that must not scan the keyspace, with ``unrelated`` other keys."""
    from alsek.core import Broker, Message
    from alsek.storage.result import ResultStore

    fill_unrelated(backend, unrelated)
    broker = Broker(backend)
    before = commands(url)
    timed(
        f"dead_letters() with none, {unrelated:,} other keys", lambda: list(broker.dead_letters())
    )
    if url is not None:
        print(f"  {'  Redis commands':<46} {commands(url) - before:10,d}")
    results = ResultStore(backend)
    parent = Message(task_name="p", uuid="bench-parent", created_at=1)
    child = Message(task_name="c", uuid="bench-child", progenitor="bench-parent", created_at=2)
    results.set(parent, 1)
    results.set(child, 2)
    before = commands(url)
    got = timed(
        "ResultStore.get(descendants=True, keep=True)",
        lambda: results.get(parent, descendants=True, keep=True),
    )
    if url is not None:
        print(f"  {'  Redis commands':<46} {commands(url) - before:10,d}")
    assert got == [1, 2], got
    print(f"  ({kind}: {unrelated:,} unrelated keys)")


def run(kind: str, n: int, unrelated: int, with_cli: bool) -> None:
    from alsek.core import Broker
    from alsek.storage.backends.disk import DiskCacheBackend
    from alsek.storage.backends.redis import RedisBackend

    root = Path(tempfile.mkdtemp(prefix="alsek-dlq-bench-"))
    (root / "bench_dlq_tasks.py").write_text(TASKS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALSEK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(root)])
    server = None
    url = None
    if kind == "redis":
        from tests.support.redis_server import RedisServer

        server = RedisServer().start()
        url = server.url
        env["ALSEK_REDIS_URL"] = url
        backend: Any = RedisBackend(url)
    else:
        directory = root / "store"
        env["ALSEK_DISKCACHE_DIR"] = str(directory)
        backend = DiskCacheBackend(directory)
    try:
        print(f"== {kind}: {n:,} dead letters ==")
        broker = Broker(backend)
        python_api(broker, n, url)
        if with_cli:
            command_line(broker, n, env, root)
        if unrelated:
            scans(kind, backend, unrelated, url)
    finally:
        if server is not None:
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="dead letters (default 10,000)")
    parser.add_argument("--backend", choices=["redis", "disk", "both"], default="both")
    parser.add_argument("--unrelated", type=int, default=0, help="unrelated keys to add first")
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line timings")
    options = parser.parse_args()
    kinds = ["redis", "disk"] if options.backend == "both" else [options.backend]
    for kind in kinds:
        run(kind, options.n, options.unrelated, not options.no_cli)


if __name__ == "__main__":
    main()
