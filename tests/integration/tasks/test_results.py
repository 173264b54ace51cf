"""Result storage of tasks: under the uuid, with a ttl, or not at all.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

from alsek.core import Broker, task
from alsek.effects.execution import Executor
from alsek.storage.result import ResultStore
from tests.support.tasks_helpers import (
    claim_next,
    queued,
    run_ready,
    wait_until,
)


def test_results_are_stored_under_the_uuid(broker: Broker, store: ResultStore) -> None:
    @task(broker, result_store=store)
    def tt_valuable() -> dict[str, int]:
        return {"a": 1, "b": 2}

    message = tt_valuable.generate()
    assert message.store_result is True
    run_ready(broker)
    assert broker.backend.exists(f"results:{message.uuid}")
    assert store.get(message, keep=True) == {"a": 1, "b": 2}
    assert store.get(message, with_metadata=True)["uuid"] == message.uuid


def test_result_ttl_expires_the_result(broker: Broker, store: ResultStore) -> None:
    @task(broker, result_store=store)
    def tt_fleeting() -> int:
        return 7

    message = tt_fleeting.generate(result_ttl=300)
    run_ready(broker)
    assert store.exists(message)
    wait_until(lambda: not store.exists(message), 5.0, "the result to expire")


def test_results_are_not_stored_without_a_result_store(broker: Broker) -> None:
    @task(broker)
    def tt_unkept() -> int:
        return 7

    message = tt_unkept.generate()
    assert message.store_result is False
    run_ready(broker)
    assert list(broker.backend.scan("results")) == []
    assert queued(broker) == []


def test_store_result_false_overrides_the_result_store(broker: Broker, store: ResultStore) -> None:
    @task(broker, result_store=store, store_result=False)
    def tt_not_this_one() -> int:
        return 7

    message = tt_not_this_one.generate()
    run_ready(broker)
    assert not store.exists(message)


def test_an_unstorable_result_dead_letters_the_message(broker: Broker, store: ResultStore) -> None:
    @task(broker, result_store=store, max_retries=3)
    def tt_returns_junk() -> object:
        return object()

    message = tt_returns_junk.generate()
    (report,) = run_ready(broker)
    assert report.accepted
    assert not store.exists(message)
    assert queued(broker) == []
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid
    assert record.reason.startswith("result could not be stored")


def test_executor_run_inline_is_the_same_path(broker: Broker, store: ResultStore) -> None:
    @task(broker, result_store=store)
    def tt_inline(x: int) -> int:
        return x + 1

    message = tt_inline.generate(args=(41,))
    claimed = claim_next(broker)
    assert claimed is not None
    assert Executor(broker).run_inline(claimed).accepted
    assert store.get(message) == 42
