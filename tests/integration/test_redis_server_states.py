"""What a real Redis answers in a transient state becomes ``BackendUnavailableError`` (with the
server's text, and the cause chained); refused credentials ``BackendAuthError``; bugs stay bugs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from alsek.core import Broker, Message
from alsek.effects.backends.redis_errors import translate
from alsek.exceptions import BackendAuthError, BackendUnavailableError
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.conftest import require_redis_binary
from tests.support.redis_server import RedisServer, free_port

BUSY_SCRIPT = """
local start = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > tonumber(ARGV[1]) then break end
end
return 1
"""


@pytest.fixture()
def server() -> Iterator[RedisServer]:
    """A server of this test's own: its configuration is changed on purpose."""
    require_redis_binary()
    with RedisServer() as started:
        yield started


def message(uuid: str) -> Message:
    return Message(task_name="t", queue="q", uuid=uuid)


def unavailable(call: object, says: str, cause: type[BaseException]) -> BackendUnavailableError:
    with pytest.raises(BackendUnavailableError) as caught:
        call()  # type: ignore[operator]
    assert says in str(caught.value)
    assert isinstance(caught.value.__cause__, cause)
    return caught.value


def test_out_of_memory_is_an_outage_that_ends(server: RedisServer) -> None:
    raw = redis.Redis(port=server.port)
    backend = RedisBackend(server.url)
    raw.config_set("maxmemory", 1)  # noeviction, as the README recommends
    try:
        unavailable(
            lambda: backend.set("results:1", "x"),
            "OOM command not allowed",
            redis.exceptions.OutOfMemoryError,
        )
    finally:
        raw.config_set("maxmemory", 0)
    backend.set("results:1", "x")
    assert backend.get("results:1") == "x"


def test_missing_replicas_are_an_outage(server: RedisServer) -> None:
    raw = redis.Redis(port=server.port)
    broker = Broker(RedisBackend(server.url))
    raw.config_set("min-replicas-to-write", 1)
    try:
        for call in (lambda: broker.submit(message("a")), lambda: broker.backend.set("x", 1)):
            unavailable(call, "NOREPLICAS Not enough good replicas", redis.exceptions.ResponseError)
    finally:
        raw.config_set("min-replicas-to-write", 0)
    broker.submit(message("a"))
    assert broker.counts("q")["ready"] == 1


def test_a_read_only_replica_is_an_outage(server: RedisServer) -> None:
    with RedisServer(args=["--replicaof", "127.0.0.1", str(server.port)]) as replica:
        broker = Broker(RedisBackend(replica.url))
        store = ResultStore(broker.backend)
        for call in (
            lambda: broker.submit(message("b")),
            lambda: broker.backend.set("x", 1),
            lambda: store.set(message("b"), 1),
        ):
            error = unavailable(call, "READONLY You can't write", redis.exceptions.ReadOnlyError)
            assert f"127.0.0.1:{replica.port}" in str(error)
        assert broker.backend.exists("x") is False  # reads still work


def test_a_busy_script_is_an_outage(server: RedisServer) -> None:
    raw = redis.Redis(port=server.port)
    raw.config_set("busy-reply-threshold", 20)
    backend = RedisBackend(server.url)
    runner = threading.Thread(target=lambda: raw.eval(BUSY_SCRIPT, 0, 1_500_000))
    runner.start()
    try:
        probe = redis.Redis(port=server.port, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + 5
        while True:  # wait until the server says BUSY (the script is past the threshold)
            try:
                probe.get("x")
            except redis.exceptions.ResponseError as error:
                assert str(error).startswith("BUSY")
                break
            assert time.monotonic() < deadline, "the server never became busy"
            time.sleep(0.01)
        unavailable(lambda: backend.get_or_none("x"), "BUSY Redis is busy", redis.ResponseError)
    finally:
        runner.join(10)
    assert backend.get_or_none("x") is None


def test_a_timeout_is_an_outage(server: RedisServer) -> None:
    raw = redis.Redis(port=server.port)
    client = redis.Redis(port=server.port, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    backend = RedisBackend(client)
    client.ping()
    raw.execute_command("CLIENT", "PAUSE", "1000", "ALL")
    unavailable(lambda: backend.exists("x"), "Timeout", redis.exceptions.TimeoutError)


def test_an_unreachable_server_is_an_outage() -> None:
    backend = RedisBackend(f"redis://127.0.0.1:{free_port()}/0")
    unavailable(backend.check, "unavailable", redis.exceptions.ConnectionError)


def test_other_server_errors_stay_errors(server: RedisServer) -> None:
    raw = redis.Redis(port=server.port)
    backend = RedisBackend(server.url)
    raw.set("alsek:index:queues", "not a set")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        backend.known_queues()


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (
            redis.exceptions.BusyLoadingError("Redis is loading the dataset"),
            "unavailable",
            "LOADING",
        ),
        (redis.exceptions.MasterDownError("Link with MASTER is down"), "unavailable", "MASTERDOWN"),
        (redis.exceptions.TryAgainError("Multiple keys request"), "unavailable", "TRYAGAIN"),
        (redis.exceptions.ClusterDownError("The cluster is down"), "unavailable", "CLUSTERDOWN"),
        (redis.exceptions.ClusterError("TTL exhausted."), "unavailable", "TTL exhausted"),
        (redis.exceptions.SlotNotCoveredError("Slot 7 not covered"), "unavailable", "Slot 7"),
        (redis.exceptions.MovedError("3999 127.0.0.1:6381"), "unavailable", "3999"),
        (
            redis.exceptions.ResponseError("MISCONF Redis is configured to save"),
            "unavailable",
            "MISCONF",
        ),
        (redis.exceptions.AuthenticationError("invalid password"), "auth", "invalid password"),
        (redis.exceptions.NoPermissionError("no permissions to run 'set'"), "auth", "NOPERM"),
        (redis.exceptions.ResponseError("ERR unknown command"), "error", "ERR unknown"),
    ],
)
def test_the_states_no_test_server_can_produce_are_classified_by_class_and_code(
    error: redis.exceptions.RedisError, kind: str, says: str
) -> None:
    translated = translate(error, "redis://127.0.0.1:1/0")
    expected = {"unavailable": BackendUnavailableError, "auth": BackendAuthError}.get(kind)
    if expected is None:
        assert translated is error
    else:
        assert isinstance(translated, expected) and says in str(translated)


def test_a_scan_fails_where_it_is_called_not_later(server: RedisServer) -> None:
    backend = RedisBackend(server.url)
    backend.set("results:1", 1)
    server.stop()
    with pytest.raises(BackendUnavailableError):
        backend.scan("results:*")
