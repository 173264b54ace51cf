"""Triggered tasks: fires, one message per tick, pause/resume/clear, results.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message`` (``tests.support.tasks_helpers``);
the fixtures are in this folder's ``conftest.py``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, Message, task
from alsek.core.task import Task, TriggerTask
from alsek.effects.scheduler import tick_uuid
from alsek.exceptions import (
    SchedulingError,
    ValidationError,
)
from alsek.storage.result import ResultStore
from tests.support.tasks_helpers import (
    queued,
    run_ready,
    wait_until,
)


def submitted_by(broker: Broker, root: Message) -> list[Message]:
    return [m for m in queued(broker) if m.progenitor == root.uuid]


def test_a_trigger_submits_messages_descending_from_the_root(disk_broker: Broker) -> None:
    @task(disk_broker, trigger=IntervalTrigger(seconds=1))
    def tt_check_usage() -> int:
        return 99

    try:
        assert isinstance(tt_check_usage, TriggerTask)
        root = tt_check_usage.generate()
        assert tt_check_usage.job is not None and tt_check_usage.job.id == root.uuid
        assert not disk_broker.exists(root)  # the root is scheduled, not queued
        wait_until(lambda: len(submitted_by(disk_broker, root)) >= 1, 5.0, "a triggered message")
        fired = submitted_by(disk_broker, root)[0]
        assert fired.task_name == "tt_check_usage" and fired.uuid != root.uuid
        assert fired.uuid == tick_uuid("tt_check_usage", fired.created_at)
    finally:
        tt_check_usage.shutdown()
    assert not tt_check_usage.scheduler.running


def test_two_trigger_tasks_firing_the_same_tick_submit_one_message(broker: Broker) -> None:
    def tt_tick() -> str:
        return "tick"

    one = task(broker, trigger=IntervalTrigger(hours=1))(tt_tick)
    two = task(broker, trigger=IntervalTrigger(hours=1))(tt_tick)  # another process, same task
    try:
        root = one.generate(submit=False)
        tick = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
        one._fire(root, fire_time=tick)
        two._fire(root, fire_time=tick)  # refused by the backend, quietly
        (message,) = queued(broker)
        fire_ms = int(tick.timestamp() * 1000)
        assert message.uuid == tick_uuid("tt_tick", fire_ms)
        assert message.progenitor == root.uuid
        assert message.created_at == fire_ms
        two._fire(root, fire_time=tick + dt.timedelta(hours=1))
        one._fire(root, fire_time=tick + dt.timedelta(hours=1))
        assert len(queued(broker)) == 2
        assert {m.progenitor for m in queued(broker)} == {root.uuid}
    finally:
        one.shutdown()
        two.shutdown()


def test_pause_resume_clear_and_shutdown(disk_broker: Broker) -> None:
    @task(disk_broker, trigger=IntervalTrigger(seconds=0.2))
    def tt_heartbeat() -> None:
        return None

    try:
        root = tt_heartbeat.generate()
        job = tt_heartbeat.scheduler.get_job(root.uuid)
        assert job is not None and job.next_run_time is not None
        with pytest.raises(SchedulingError, match="already scheduled"):
            tt_heartbeat.generate()

        tt_heartbeat.pause()
        assert tt_heartbeat.scheduler.get_job(root.uuid).next_run_time is None
        before = len(submitted_by(disk_broker, root))
        time.sleep(0.6)
        assert len(submitted_by(disk_broker, root)) == before  # nothing fires while paused

        tt_heartbeat.resume()
        assert tt_heartbeat.scheduler.get_job(root.uuid).next_run_time is not None
        wait_until(lambda: len(submitted_by(disk_broker, root)) > before, 5.0, "a fire")

        tt_heartbeat.clear()
        assert tt_heartbeat.job is None and tt_heartbeat.scheduler.get_jobs() == []
        after_clear = len(submitted_by(disk_broker, root))
        time.sleep(0.5)
        assert len(submitted_by(disk_broker, root)) == after_clear

        new_root = tt_heartbeat.generate()  # may schedule anew after clear()
        wait_until(lambda: len(submitted_by(disk_broker, new_root)) >= 1, 5.0, "a new fire")
    finally:
        tt_heartbeat.shutdown()
    assert not tt_heartbeat.scheduler.running
    assert tt_heartbeat.job is None
    settled = len(queued(disk_broker))
    time.sleep(0.5)
    assert len(queued(disk_broker)) == settled  # nothing fires after shutdown


def test_a_triggered_task_takes_no_arguments(disk_broker: Broker) -> None:
    @task(disk_broker, trigger=IntervalTrigger(hours=1))
    def tt_argless(message: Message) -> str:  # a message parameter is allowed
        return message.uuid

    try:
        with pytest.raises(ValidationError, match="takes no arguments"):
            tt_argless.generate(args=(1,))
        with pytest.raises(ValidationError, match="takes no arguments"):
            tt_argless.generate(kwargs={"x": 1})
        assert tt_argless.job is None
    finally:
        tt_argless.shutdown()


def test_a_trigger_task_keeps_its_base_task_hooks(disk_broker: Broker) -> None:
    calls: list[str] = []

    class Hooked(Task):
        def pre_op(self, message: Message) -> None:
            calls.append(message.progenitor or "")

    @task(disk_broker, trigger=IntervalTrigger(hours=1), base_task=Hooked)
    def tt_hooked_trigger() -> int:
        return 1

    try:
        assert isinstance(tt_hooked_trigger, Hooked) and isinstance(tt_hooked_trigger, TriggerTask)
        root = tt_hooked_trigger.generate(submit=False)
        tt_hooked_trigger._fire(root, fire_time=dt.datetime.now(dt.timezone.utc))
        run_ready(disk_broker)
        assert calls == [root.uuid]
    finally:
        tt_hooked_trigger.shutdown()


def test_results_of_triggered_runs_are_found_from_the_root(
    broker: Broker, store: ResultStore
) -> None:
    @task(broker, result_store=store, trigger=IntervalTrigger(seconds=0.2))
    def tt_harvest() -> int:
        return 42

    try:
        root = tt_harvest.generate()
        wait_until(lambda: len(submitted_by(broker, root)) >= 2, 5.0, "two triggered messages")
        tt_harvest.pause()
        fired = {m.uuid for m in submitted_by(broker, root)}
        runs = len(run_ready(broker))
        assert runs == len(fired)
        stamped = store.get(root, descendants=True, timeout=5_000, with_metadata=True, keep=True)
        assert {r["uuid"] for r in stamped} == fired
        assert store.get(root, descendants=True, timeout=5_000) == [42] * runs
        assert not store.exists(root, descendants=True)  # read without keep: deleted
    finally:
        tt_harvest.shutdown()
