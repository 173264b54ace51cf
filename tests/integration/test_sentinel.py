"""Alsek through Redis Sentinel (a primary, a replica, three sentinels, on loopback): the
queue model holds, the URL form and a ``Sentinel(...).master_for`` client both work and
travel to task processes, and a primary killed mid-run loses nothing acknowledged with
``replicas=1`` (and, without, only what was written while its replica was cut off)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from redis.sentinel import Sentinel

from alsek.core import Broker
from alsek.core.worker import WorkerPool
from alsek.exceptions import BackendUnavailableError
from alsek.storage.backends.redis import RedisBackend
from alsek.storage.result import ResultStore
from tests.conftest import require_redis_binary
from tests.integration.test_queue_machine import machine_for
from tests.support import scaleout
from tests.support import worker_tasks as wt
from tests.support.redis_cluster import SentinelSetup

pytestmark = pytest.mark.xdist_group("redis-sentinel")


def test_the_backend_agrees_with_the_queue_model_through_sentinel(
    sentinel_setup: SentinelSetup,
) -> None:
    backend = RedisBackend(sentinel_setup.url, namespace="sm")
    run_state_machine_as_test(
        machine_for(lambda: backend),
        settings=settings(max_examples=10, stateful_step_count=30, deadline=None),
    )


def test_a_url_and_a_master_for_client_reach_the_same_primary_and_travel(
    sentinel_setup: SentinelSetup,
) -> None:
    hosts = [("127.0.0.1", port) for port in sentinel_setup.sentinel_ports]
    client = Sentinel(hosts, socket_timeout=5).master_for(sentinel_setup.service)
    by_url = RedisBackend(sentinel_setup.url, namespace="sf")
    by_client = RedisBackend(client, namespace="sf")
    by_url.clear_namespace()
    assert not by_client.cluster
    assert by_client.describe().startswith("redis+sentinel://127.0.0.1:")
    by_url.set("k", 1)
    assert by_client.get("k") == 1
    for backend in (by_url, by_client):
        reopened = pickle.loads(pickle.dumps(backend))
        assert reopened.get("k") == 1 and reopened.identity() == backend.identity()
    broker, store = Broker(by_client), ResultStore(by_client)
    wt.bind(broker, store)
    try:
        message = wt.p_echo.generate(args=("through sentinel",))
        with WorkerPool([wt.p_echo], max_threads=0, max_processes=1):
            assert store.get(message, timeout=60_000) == "through sentinel"
    finally:
        wt.bind(wt.placeholder, None)
        by_url.clear_namespace()


def test_replicas_beyond_what_the_primary_has_refuse_the_write(
    sentinel_setup: SentinelSetup,
) -> None:
    backend = RedisBackend(sentinel_setup.url, namespace="sr", replicas=2, replica_timeout=50)
    assert any("replicas=2" in warning for warning in backend.server_warnings())
    with pytest.raises(BackendUnavailableError, match="1 of 2 replicas"):
        backend.set_and_notify("results:x", 1)


@pytest.fixture()
def fresh_sentinel() -> Iterator[SentinelSetup]:
    """A Sentinel setup of its own, for a test that kills its primary."""
    require_redis_binary()
    with SentinelSetup() as setup:
        yield setup


@pytest.mark.parametrize("replicas", [0, 1])
def test_a_primary_killed_mid_run(fresh_sentinel: SentinelSetup, replicas: int) -> None:
    backend = RedisBackend(fresh_sentinel.url, replicas=replicas, replica_timeout=200)
    loss = scaleout.failover(backend, ["a", "b"], scaleout.sentinel_victim(fresh_sentinel))
    assert loss.acknowledged > 0
    if replicas:
        assert loss.lost == 0, loss
    else:
        assert loss.lost > 0 and loss.outside == 0, loss
