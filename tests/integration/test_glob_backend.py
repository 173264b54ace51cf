"""The generic queue path on a custom backend whose ``scan`` is a plain glob (no implicit
prefix), as a backend written for the original Alsek's contract would be."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from alsek.core import Broker, Message, task
from alsek.core.worker import WorkerPool
from alsek.effects.backends.base import Backend
from alsek.storage.result import ResultStore

# The broker tests' core operations, run here on the glob backend (the fixture
# ``any_backend`` below replaces the conftest's for this module). Tests that scan
# with a bare prefix check the built-in backends' extra leniency, not the contract.
from tests.integration.test_broker import (  # noqa: F401
    broker,
    clock,
    test_a_claimed_message_is_acked_with_its_token,
    test_a_delayed_message_is_counted_delayed_until_its_ready_time,
    test_a_submitted_claimed_message_is_stored_without_its_lease,
    test_ack_and_remove_take_the_message_out,
    test_claim_with_an_explicit_now_expires_old_leases,
    test_nack_makes_the_message_claimable_again,
    test_nack_with_a_delay,
    test_operations_with_a_lease_taken_over_are_refused,
    test_retry_counts_up_and_waits_the_backoff,
    test_retry_without_backoff_is_ready_at_once,
    test_sync_of_an_unknown_message_raises_not_found,
    test_without_a_dlq_failed_messages_are_dropped,
)
from tests.integration.test_dead_letters import (  # noqa: F401
    test_a_record_naming_another_message_is_acted_on_where_it_was_found,
    test_bad_records_are_listed_as_unreadable_with_their_key,
    test_bad_records_are_skipped_by_resubmit_and_can_be_removed,
    test_filters_by_queue_task_and_time,
    test_several_dead_letters_of_one_uuid_are_named_by_key,
)
from tests.integration.test_queue_machine import machine_for
from tests.support.glob_backend import GlobBackend
from tests.support.memory_backend import Client


@pytest.fixture()
def any_backend() -> Iterator[Backend]:
    yield GlobBackend(Client())


def test_the_glob_backend_has_no_implicit_prefix(any_backend: Backend) -> None:
    any_backend.set("queues:a:tasks:t:messages:1", 1)
    any_backend.set("queues:ab:tasks:t:messages:2", 2)
    assert list(any_backend.scan("queues:a")) == []
    assert list(any_backend.scan("queues:a:*")) == ["queues:a:tasks:t:messages:1"]
    assert sorted(any_backend.scan()) == sorted(any_backend.scan("*"))
    assert any_backend.count() == 2
    assert any_backend.clear_namespace() == 2 and any_backend.count() == 0


def test_the_queue_operations_agree_with_the_model(any_backend: Backend) -> None:
    run_state_machine_as_test(
        machine_for(lambda: any_backend),
        settings=settings(max_examples=10, stateful_step_count=30, deadline=None),
    )


def test_a_worker_pool_runs_every_message_once(any_backend: Backend) -> None:
    glob_broker = Broker(any_backend)
    store = ResultStore(any_backend)
    runs: list[int] = []
    lock = threading.Lock()

    @task(glob_broker, name="gb_square", queue="gb_a", mechanism="thread", result_store=store)
    def gb_square(x: int) -> int:
        with lock:
            runs.append(x)
        return x * x

    @task(glob_broker, name="gb_negate", queue="gb_b", mechanism="thread", result_store=store)
    def gb_negate(message: Message) -> int:
        return -int(message.previous_result)

    squares = [gb_square.generate(args=(i,)) for i in range(12)]
    then = gb_negate.defer().generate()
    chain = gb_square.generate(args=(3,), callback=then)
    with WorkerPool([gb_square, gb_negate], max_threads=3, max_processes=0):
        for i, message in enumerate(squares):
            assert store.get(message, timeout=20_000) == i * i
        assert store.get(then, timeout=20_000, keep=True) == -9
    assert sorted(store.get(chain, descendants=True)) == [-9, 9]
    assert sorted(runs) == sorted([*range(12), 3])
    for queue in ("gb_a", "gb_b"):
        assert glob_broker.counts(queue) == {"ready": 0, "delayed": 0, "leased": 0}
