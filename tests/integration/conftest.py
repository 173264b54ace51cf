"""Backends for integration tests: real Redis, real DiskCache, and the tour's custom backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alsek.effects.backends.base import Backend
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from tests.support.memory_backend import Client, CustomBackend


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
