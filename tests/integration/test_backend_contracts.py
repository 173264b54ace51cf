"""Every backend is a ``Store`` and a ``QueueIndex`` (the two named contracts)."""

from __future__ import annotations

import inspect

from alsek.effects.backends.base import Backend
from alsek.effects.backends.queue_index import QueueIndex
from alsek.effects.backends.store import Store


def test_every_backend_is_a_store_and_a_queue_index(any_backend: Backend) -> None:
    assert isinstance(any_backend, Store)
    assert isinstance(any_backend, QueueIndex)


def test_native_queue_operations_keep_the_contract_s_signatures(any_backend: Backend) -> None:
    for name, member in inspect.getmembers(QueueIndex, inspect.isfunction):
        if name.startswith("_"):
            continue
        ours = inspect.signature(getattr(type(any_backend), name))
        theirs = inspect.signature(member)
        assert list(ours.parameters) == list(theirs.parameters), name
