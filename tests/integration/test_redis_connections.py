"""Connections: the first call after a Redis restart succeeds from every thread; a refused
password fails at once, with the URL but not the password, and the CLI worker exits."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from alsek.core import Broker, task
from alsek.core.consumer import Consumer
from alsek.exceptions import BackendAuthError, BackendUnavailableError, ValidationError
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.conftest import require_redis_binary
from tests.support.harness import base_env, write_tasks_package
from tests.support.redis_server import RedisServer

SECRET = "s3cret-pw"
THREADS = 4


@pytest.fixture()
def server() -> Iterator[RedisServer]:
    require_redis_binary()
    with RedisServer() as started:
        yield started


@pytest.fixture()
def locked() -> Iterator[RedisServer]:
    """A server that requires a password."""
    require_redis_binary()
    with RedisServer(args=["--requirepass", SECRET]) as started:
        yield started


def connections_received(admin: redis.Redis) -> int:
    """Connections the server accepted so far (``admin`` keeps its own one open)."""
    return int(admin.info("stats")["total_connections_received"])


def test_every_thread_s_first_call_after_a_restart_succeeds(server: RedisServer) -> None:
    backend = RedisBackend(server.url)
    broker = Broker(backend)
    store = ResultStore(backend)

    @task(broker, name="rc_job", queue="rc", mechanism="thread", result_store=store)
    def rc_job(i: int) -> int:
        return i

    errors: list[BaseException] = []
    done: list[str] = []
    warm, restarted = threading.Barrier(THREADS + 1), threading.Barrier(THREADS + 1)

    def producer_and_consumer(i: int) -> None:
        try:
            rc_job.generate(args=(i,))  # opens this thread's connections
            backend.wait_for_value("results:none", 1)
        finally:
            warm.wait(10)
            restarted.wait(10)
        try:  # the pooled sockets are dead now: each call must reconnect by itself
            rc_job.generate(args=(i,))
            claimed = Consumer(broker, subset=["rc"]).claim(("thread",), 1).messages
            assert len(claimed) == 1 and broker.ack(claimed[0])
            assert backend.wait_for_value("results:none", 1) is None
            done.append(claimed[0].uuid)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=producer_and_consumer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    warm.wait(10)
    server.restart()  # no persistence: the restarted server is empty
    restarted.wait(10)
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(set(done)) == THREADS
    assert broker.counts("rc") == {"ready": 0, "delayed": 0, "leased": 0}


def check_refused(backend: RedisBackend, server: RedisServer, wrong: str | None) -> str:
    admin = redis.Redis(port=server.port, password=server.password)
    before = connections_received(admin)
    with pytest.raises(BackendAuthError) as caught:
        backend.check()
    assert connections_received(admin) - before == 1  # refused once, never retried
    text = str(caught.value)
    assert isinstance(caught.value, PermissionError)
    assert not isinstance(caught.value, BackendUnavailableError)
    assert isinstance(caught.value.__cause__, redis.exceptions.AuthenticationError)
    assert f"127.0.0.1:{server.port}/0" in text
    if wrong is not None:
        assert wrong not in text and SECRET not in text
    return text


def test_a_wrong_password_fails_at_once_without_showing_it(locked: RedisServer) -> None:
    backend = RedisBackend(f"redis://:wrong-pw@127.0.0.1:{locked.port}/0")
    text = check_refused(backend, locked, "wrong-pw")
    assert f"redis://:***@127.0.0.1:{locked.port}/0" in text
    with pytest.raises(BackendAuthError):
        Broker(backend).submit(rc_message())


def test_a_missing_password_fails_at_once(locked: RedisServer) -> None:
    text = check_refused(RedisBackend(f"redis://127.0.0.1:{locked.port}/0"), locked, None)
    assert "NOAUTH" in text or "Authentication required" in text


def test_a_password_changed_under_a_running_client_is_not_retried(locked: RedisServer) -> None:
    backend = RedisBackend(locked.url)
    broker = Broker(backend)
    broker.submit(rc_message())  # this thread's connection is open and authenticated
    admin = redis.Redis(port=locked.port, password=SECRET)
    admin.config_set("requirepass", "rotated")
    admin.execute_command("CLIENT", "KILL", "TYPE", "normal")  # drops every client
    admin = redis.Redis(port=locked.port, password="rotated")
    before = connections_received(admin)
    with pytest.raises(BackendAuthError) as caught:
        broker.submit(rc_message())  # reconnects inside the retry loop: refused, not retried
    assert connections_received(admin) - before == 1
    assert SECRET not in str(caught.value) and "rotated" not in str(caught.value)


def test_a_missing_permission_is_an_auth_error(server: RedisServer) -> None:
    admin = redis.Redis(port=server.port)
    admin.execute_command("ACL", "SETUSER", "reader", "on", ">readpw", "~*", "+@read", "+ping")
    backend = RedisBackend(f"redis://reader:readpw@127.0.0.1:{server.port}/0")
    backend.check()
    assert backend.get_or_none("x") is None
    with pytest.raises(BackendAuthError, match="NOPERM") as caught:
        backend.set("x", 1)
    assert f"redis://reader:***@127.0.0.1:{server.port}/0" in str(caught.value)
    assert "readpw" not in str(caught.value)


def rc_message() -> object:
    from alsek.core import Message

    return Message(task_name="rc_any", queue="rc")


WRONG_PASSWORD_TASKS = """
from alsek.core import Broker, task
from alsek.storage.backends.redis import RedisBackend

broker = Broker(RedisBackend())


@task(broker, mechanism="thread")
def rc_cli_task() -> None:
    return None
"""


def test_the_cli_worker_exits_with_the_error_on_a_wrong_password(
    locked: RedisServer, tmp_path: Path
) -> None:
    write_tasks_package(tmp_path, "rc_pkg", WRONG_PASSWORD_TASKS)
    url = f"redis://:wrong-pw@127.0.0.1:{locked.port}/0"
    result = subprocess.run(
        [sys.executable, "-m", "alsek", "rc_pkg", "--max_processes", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=base_env({"ALSEK_REDIS_URL": url}),
        timeout=60,
    )
    assert result.returncode != 0
    assert "refused the credentials" in result.stderr
    assert f"redis://:***@127.0.0.1:{locked.port}/0" in result.stderr
    assert "wrong-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_bad_scale_out_settings_are_refused_when_the_backend_is_made() -> None:
    with pytest.raises(ValidationError, match="replicas"):
        RedisBackend("redis://127.0.0.1:1/0", replicas=-1)
    with pytest.raises(ValidationError, match="replica_timeout"):
        RedisBackend("redis://127.0.0.1:1/0", replicas=1, replica_timeout=0)
    with pytest.raises(ValidationError, match="names no service"):
        RedisBackend("redis+sentinel://:secret@127.0.0.1:1")
    with pytest.raises(ValidationError, match="RedisCluster"):
        RedisBackend(object())  # type: ignore[arg-type]


def test_replicas_travel_to_task_processes(server: RedisServer) -> None:
    backend = RedisBackend(server.url, replicas=1, replica_timeout=300)
    reopened = pickle.loads(pickle.dumps(backend))
    assert (reopened.replicas, reopened.replica_timeout) == (1, 300)
