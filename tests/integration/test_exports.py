"""The tour's import paths are thin facades: each name is the implementing object."""

from __future__ import annotations

import importlib

import pytest

FACADES = {
    "alsek.core": {
        "Broker": "alsek.effects.broker",
        "Lock": "alsek.effects.lock",
        "Message": "alsek.effects.message",
        "task": "alsek.effects.decorator",
    },
    "alsek.core.task": {
        "AsyncTask": "alsek.effects.async_task",
        "Task": "alsek.effects.task",
        "TriggerTask": "alsek.effects.scheduler",
        "task": "alsek.effects.decorator",
    },
    "alsek.core.backoff": {
        "ConstantBackoff": "alsek.pure.backoff",
        "LinearBackoff": "alsek.pure.backoff",
        "ExponentialBackoff": "alsek.pure.backoff",
        "Backoff": "alsek.pure.backoff",
        "backoff_from_settings": "alsek.pure.backoff",
    },
    "alsek.core.consumer": {"Consumer": "alsek.effects.consumer"},
    "alsek.core.worker": {"WorkerPool": "alsek.effects.pool.pool"},
    "alsek.core.message": {"Message": "alsek.effects.message"},
    "alsek.core.broker": {"Broker": "alsek.effects.broker"},
    "alsek.core.lock": {"Lock": "alsek.effects.lock"},
    "alsek.storage.backends": {
        "Backend": "alsek.effects.backends.base",
        "LazyClient": "alsek.effects.backends.lazy",
    },
    "alsek.storage.backends.redis": {"RedisBackend": "alsek.effects.backends.redis"},
    "alsek.storage.backends.disk": {"DiskCacheBackend": "alsek.effects.backends.disk"},
    "alsek.storage.serialization": {
        "Serializer": "alsek.effects.serialization",
        "JsonSerializer": "alsek.effects.serialization",
    },
    "alsek.storage.result": {"ResultStore": "alsek.effects.result"},
    "alsek.testing": {
        "MemoryBackend": "alsek.effects.memory",
        "Drained": "alsek.effects.drain",
        "Run": "alsek.effects.drain",
        "eager": "alsek.effects.drain",
        "fire": "alsek.effects.drain",
        "fired_root": "alsek.effects.drain",
        "run_until_idle": "alsek.effects.drain",
    },
}


@pytest.mark.parametrize("facade", sorted(FACADES))
def test_facade_names_are_the_implementations(facade: str) -> None:
    module = importlib.import_module(facade)
    for name, home in FACADES[facade].items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name), name
    assert sorted(module.__all__) == sorted(FACADES[facade])


@pytest.mark.parametrize("facade", sorted(FACADES))
def test_facades_define_nothing_of_their_own(facade: str) -> None:
    module = importlib.import_module(facade)
    for name in module.__all__:
        assert getattr(module, name).__module__ != facade


def test_importing_the_pure_core_loads_no_io_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, alsek.pure.decisions, alsek.pure.queue_model, alsek.pure.capacity; "
        "bad = [m for m in ('redis', 'diskcache', 'apscheduler', 'click', 'multiprocessing') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
