"""Fixtures of the task tests: brokers (real and on a manual clock), a result store."""

from __future__ import annotations

from pathlib import Path

import pytest

from alsek.core import Broker
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock, utcnow_ms
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.result import ResultStore
from tests.support.tasks_helpers import AHEAD_MS


@pytest.fixture()
def broker(backend: Backend) -> Broker:
    return Broker(backend)


@pytest.fixture()
def store(backend: Backend) -> ResultStore:
    return ResultStore(backend)


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(utcnow_ms() + AHEAD_MS)


@pytest.fixture()
def manual(backend: Backend, clock: ManualClock) -> Broker:
    """A broker whose time moves only when the test says so."""
    return Broker(backend, clock=clock)


@pytest.fixture()
def disk_broker(tmp_path: Path) -> Broker:
    """For tests where the backend does not matter."""
    return Broker(DiskCacheBackend(tmp_path / "options"))
