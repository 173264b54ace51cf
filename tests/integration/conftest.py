"""Backends for integration tests: real Redis, real DiskCache, and the tour's custom backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alsek.effects.backends.base import Backend
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from tests.conftest import require_redis_binary
from tests.support.memory_backend import Client, CustomBackend
from tests.support.redis_cluster import RedisClusterSetup, SentinelSetup


def make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        return RedisBackend(url)
    if kind == "disk":
        return DiskCacheBackend(tmp_path / "diskcache")
    if kind == "custom":
        return CustomBackend(Client())
    raise ValueError(kind)


@pytest.fixture(params=["redis", "disk"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each real backend in turn."""
    yield make_backend(request.param, request, tmp_path)


@pytest.fixture(params=["redis", "disk", "custom"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each real backend, and the generic path through the tour's CustomBackend."""
    yield make_backend(request.param, request, tmp_path)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterSetup]:
    """A 3-master, 3-replica Redis Cluster on loopback, for the session (per xdist
    worker: the cluster tests share one group, so one worker starts it)."""
    require_redis_binary()
    with RedisClusterSetup() as setup:
        yield setup


@pytest.fixture(scope="session")
def sentinel_setup() -> Iterator[SentinelSetup]:
    """A primary, a replica and three sentinels on loopback, for the session."""
    require_redis_binary()
    with SentinelSetup() as setup:
        yield setup
