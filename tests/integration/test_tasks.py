"""Tasks on real backends: options, generate/defer, message passing, hooks, callbacks,
retries and backoff, result storage, and triggers.

Messages run inline the way a worker runs them: ``Consumer(broker).claim()``
then ``alsek.effects.execution.run_message``. Task names carry a ``tt_``
prefix so that they never replace another test module's tasks in the
process-wide registry.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from alsek.core import Broker, Message, task
from alsek.core.backoff import ConstantBackoff, ExponentialBackoff, LinearBackoff
from alsek.core.consumer import Consumer
from alsek.core.task import Task, TriggerTask
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock, utcnow_ms
from alsek.effects.execution import Executor, run_message
from alsek.effects.interpreter import Report
from alsek.effects.scheduler import tick_uuid
from alsek.exceptions import (
    MessageExistsError,
    SchedulingError,
    SerializationError,
    ValidationError,
)
from alsek.pure.callbacks import flatten
from alsek.pure.codec import message_from_data
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.result import ResultStore

NO_WAIT = ConstantBackoff(constant=0, floor=0, ceiling=0, zero_override=True)
MECHANISMS = ("process", "thread")
#: A ManualClock this far ahead of the wall clock sees freshly generated
#: messages (stamped by the wall clock) as ready at once.
AHEAD_MS = 60_000


def claim_next(broker: Broker) -> Message | None:
    """Claim one ready message, as a worker's consumer would."""
    found = Consumer(broker).claim(MECHANISMS, 1)
    return found.messages[0] if found.messages else None


def run_one(broker: Broker) -> Report:
    """Claim and run exactly one ready message."""
    message = claim_next(broker)
    assert message is not None, "no ready message to run"
    return run_message(message, broker)


def run_ready(broker: Broker, limit: int = 20) -> list[Report]:
    """Run every ready message in this thread (callbacks included), at most ``limit``."""
    reports = []
    for _ in range(limit):
        message = claim_next(broker)
        if message is None:
            return reports
        reports.append(run_message(message, broker))
    raise AssertionError(f"still finding messages after {limit} runs")


def queued(broker: Broker) -> list[Message]:
    """Every message waiting in any queue (ready, delayed or leased)."""
    names = sorted(broker.backend.scan("queues"))
    return [message_from_data(broker.backend.get(n), Message) for n in names]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def no_timestamps(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    return [{**m.data, "created_at": 0, "updated_at": 0} for m in messages]


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


# -- @task options --------------------------------------------------------------------------------


def test_task_defaults(disk_broker: Broker) -> None:
    @task(disk_broker)
    def tt_add(a: int, b: int) -> int:
        """Adds."""
        return a + b

    assert isinstance(tt_add, Task) and not isinstance(tt_add, TriggerTask)
    assert tt_add.name == "tt_add"
    assert tt_add.queue == "alsek_queue"
    assert tt_add.priority == 0
    assert tt_add.timeout == 3_600_000
    assert tt_add.max_retries == 3
    assert tt_add.backoff == ExponentialBackoff()
    assert tt_add.mechanism == "process"
    assert tt_add.result_store is None and tt_add.store_result is False
    assert tt_add(2, 3) == 5  # still a plain function
    assert tt_add.__doc__ == "Adds."
    message = tt_add.generate(args=(2, 3), submit=False)
    assert message.task_name == "tt_add"
    assert message.queue == "alsek_queue"
    assert message.timeout == 3_600_000
    assert message.mechanism == "process"
    assert message.store_result is False
    assert message.backoff_settings == ExponentialBackoff().settings


def test_task_options_reach_the_task_and_its_messages(disk_broker: Broker) -> None:
    store = ResultStore(disk_broker.backend)
    backoff = LinearBackoff(factor=5_000, floor=0, ceiling=None)

    class Custom(Task):
        pass

    @task(disk_broker, name="tt_custom_name", queue="tt_q", priority=5, timeout=1_000,
          max_retries=7, backoff=backoff, mechanism="thread", result_store=store,
          base_task=Custom)
    def tt_options() -> str:
        return "ran"

    assert isinstance(tt_options, Custom)
    assert (tt_options.name, tt_options.queue, tt_options.priority) == ("tt_custom_name", "tt_q", 5)
    assert (tt_options.timeout, tt_options.max_retries) == (1_000, 7)
    assert tt_options.mechanism == "thread"
    assert tt_options.result_store is store and tt_options.store_result is True
    assert tt_options() == "ran"
    message = tt_options.generate(submit=False)
    assert message.task_name == "tt_custom_name"
    assert message.queue == "tt_q"
    assert message.priority == 5
    assert message.timeout == 1_000
    assert message.mechanism == "thread"
    assert message.store_result is True
    assert message.backoff_settings == backoff.settings


def test_backoff_none_means_no_backoff_settings(disk_broker: Broker) -> None:
    @task(disk_broker, backoff=None, max_retries=None)
    def tt_no_backoff() -> None:
        return None

    assert tt_no_backoff.backoff is None and tt_no_backoff.max_retries is None
    assert tt_no_backoff.generate(submit=False).backoff_settings is None


def tt_plain() -> int:
    return 1


def tt_with_parameter(x: int) -> int:
    return x


@pytest.mark.parametrize(
    ("options", "function", "match"),
    [
        ({"mechanism": "fiber"}, tt_plain, "mechanism must be 'process' or 'thread'.*fiber"),
        ({"timeout": 0}, tt_plain, "timeout must be an int >= 1 and <= .*, got 0"),
        ({"timeout": -5}, tt_plain, "timeout must be an int >= 1 and <= .*, got -5"),
        ({"backoff": 5}, tt_plain, "backoff must be a Backoff instance or None, got 5"),
        ({"backoff": ExponentialBackoff}, tt_plain, "backoff must be a Backoff instance"),
        ({"max_retries": -1}, tt_plain, "max_retries must be an int >= 0"),
        ({"base_task": object}, tt_plain, "base_task must be a subclass of Task"),
        ({"base_task": "Task"}, tt_plain, "base_task must be a subclass of Task"),
        ({"store_result": True}, tt_plain, "store_result=True needs a result_store"),
        ({"name": "tt:bad"}, tt_plain, "must not contain ':'"),
        ({"trigger": IntervalTrigger(hours=1)}, tt_with_parameter,
         "has a trigger, so its function may not take parameters.*x"),
        ({"trigger": "hourly"}, tt_plain, "trigger must be an APScheduler trigger"),
    ],
    ids=["mechanism", "zero-timeout", "negative-timeout", "backoff-int", "backoff-class",
         "max-retries", "base-object", "base-str", "store-result", "name", "trigger-params",
         "trigger-str"],
)
def test_invalid_options_are_refused_at_decoration(
    disk_broker: Broker, options: dict[str, Any], function: Callable[..., Any], match: str
) -> None:
    decorator = task(disk_broker, **options)
    with pytest.raises(ValidationError, match=match):
        decorator(function)


@pytest.mark.parametrize("base", [object, int, "Task"], ids=["object", "int", "str"])
def test_a_non_task_base_task_is_refused_with_a_trigger_too(
    disk_broker: Broker, base: Any
) -> None:
    with pytest.raises(ValidationError, match="base_task must be a subclass of Task"):
        task(disk_broker, trigger=IntervalTrigger(hours=1), base_task=base)(tt_plain)


@pytest.mark.parametrize("not_a_broker", [None, "redis://localhost", DiskCacheBackend],
                         ids=["none", "url", "backend-class"])
def test_task_needs_a_broker(not_a_broker: Any) -> None:
    with pytest.raises(ValidationError, match="@task needs a Broker"):
        task(not_a_broker)


def test_bare_task_decorator_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"write @task\(broker, \.\.\.\)"):
        task(tt_plain)


# -- generate, submit, defer ----------------------------------------------------------------------


def test_generate_sets_every_message_field(broker: Broker) -> None:
    @task(broker, queue="tt_main", priority=2)
    def tt_fields(a: int, b: int = 0) -> int:
        return a + b

    before = utcnow_ms()
    message = tt_fields.generate(
        args=(1, 2), kwargs={"b": 3}, priority=7, metadata={"who": "me"}, result_ttl=5_000,
        delay=60_000, uuid="tt-fixed-uuid", queue="tt_other", timeout=1_234,
        previous_result=[1, "x"],
    )
    assert message.args == (1, 2) and message.kwargs == {"b": 3}
    assert message.priority == 7
    assert message.metadata == {"who": "me"}
    assert message.result_ttl == 5_000
    assert message.delay == 60_000
    assert message.uuid == "tt-fixed-uuid"
    assert message.queue == "tt_other"
    assert message.timeout == 1_234
    assert message.previous_result == [1, "x"]
    assert message.retries == 0 and message.progenitor is None
    assert before <= message.created_at <= utcnow_ms()
    assert broker.exists(message)
    name = "queues:tt_other:tasks:tt_fields:messages:tt-fixed-uuid"
    assert broker.get_message_name(message) == name
    assert broker.sync(message) == message
    assert broker.counts("tt_other") == {"ready": 0, "delayed": 1, "leased": 0}
    assert broker.counts("tt_main") == {"ready": 0, "delayed": 0, "leased": 0}


def test_generate_defaults_come_from_the_task(broker: Broker) -> None:
    @task(broker, queue="tt_main", priority=2, timeout=999)
    def tt_defaults() -> None:
        return None

    message = tt_defaults.generate()
    assert (message.queue, message.priority, message.timeout) == ("tt_main", 2, 999)
    assert message.args == () and message.kwargs == {} and message.delay == 0
    assert broker.counts("tt_main") == {"ready": 1, "delayed": 0, "leased": 0}
    with pytest.raises(MessageExistsError):
        tt_defaults.generate(uuid=message.uuid)


def test_submit_false_builds_without_submitting(broker: Broker) -> None:
    @task(broker)
    def tt_quiet() -> None:
        return None

    message = tt_quiet.generate(submit=False)
    assert not broker.exists(message)
    assert queued(broker) == []
    broker.submit(message)  # it can still be submitted later
    assert broker.exists(message)


def test_defer_skips_one_submission_and_generate_cancels_it(broker: Broker) -> None:
    @task(broker)
    def tt_deferred() -> None:
        return None

    assert tt_deferred.defer() is tt_deferred
    assert tt_deferred.deferred
    skipped = tt_deferred.generate()
    assert not tt_deferred.deferred  # cancelled by generate()
    assert not broker.exists(skipped)
    sent = tt_deferred.generate()
    assert broker.exists(sent)
    tt_deferred.defer()
    also_skipped = tt_deferred.generate(submit=True)  # defer wins over submit=True
    assert not broker.exists(also_skipped)
    assert [m.uuid for m in queued(broker)] == [sent.uuid]


def test_defers_stack(broker: Broker) -> None:
    @task(broker)
    def tt_stacked() -> None:
        return None

    tt_stacked.defer().defer().defer()
    tt_stacked.cancel_defer()
    first, second = tt_stacked.generate(), tt_stacked.generate()
    assert not tt_stacked.deferred
    third = tt_stacked.generate()
    assert not broker.exists(first) and not broker.exists(second)
    assert [m.uuid for m in queued(broker)] == [third.uuid]


def test_defer_is_per_thread(broker: Broker) -> None:
    @task(broker)
    def tt_threaded() -> None:
        return None

    tt_threaded.defer()
    elsewhere: list[Message] = []
    thread = threading.Thread(target=lambda: elsewhere.append(tt_threaded.generate()))
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert broker.exists(elsewhere[0])  # another thread's generate() is not deferred
    assert not broker.exists(tt_threaded.generate())  # this thread's is


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"delay": -1}, "delay must be an int >= 0"),
        ({"priority": "high"}, "priority must be an int"),
        ({"result_ttl": 0}, "result_ttl must be an int >= 1"),
        ({"timeout": 0}, "timeout must be an int >= 1"),
        ({"queue": "a:b"}, "must not contain ':'"),
        ({"kwargs": {1: "x"}}, "kwargs must be a dict with str keys"),
    ],
    ids=["delay", "priority", "result_ttl", "timeout", "queue", "kwargs"],
)
def test_invalid_generate_values_are_refused_and_submit_nothing(
    broker: Broker, fields: dict[str, Any], match: str
) -> None:
    @task(broker)
    def tt_validated(*args: Any, **kwargs: Any) -> None:
        return None

    with pytest.raises(ValidationError, match=match):
        tt_validated.generate(**fields)
    assert list(broker.backend.scan("queues")) == []


@pytest.mark.parametrize(
    "fields",
    [{"args": (object(),)}, {"kwargs": {"x": {1, 2}}}, {"metadata": object()}],
    ids=["args", "kwargs", "metadata"],
)
def test_unencodable_arguments_fail_at_generate_and_submit_nothing(
    broker: Broker, fields: dict[str, Any]
) -> None:
    @task(broker)
    def tt_takes_anything(*args: Any, **kwargs: Any) -> None:
        return None

    with pytest.raises(SerializationError) as info:
        tt_takes_anything.generate(**fields)
    assert isinstance(info.value, TypeError)
    assert "queues:alsek_queue:tasks:tt_takes_anything:messages:" in str(info.value)
    assert list(broker.backend.scan("queues")) == []
    assert broker.counts("alsek_queue") == {"ready": 0, "delayed": 0, "leased": 0}


# -- message passing ------------------------------------------------------------------------------


def test_a_message_parameter_receives_the_message(broker: Broker) -> None:
    seen: list[Any] = []

    @task(broker)
    def tt_wants_message(x: int, message: Message) -> None:
        seen.append((x, message))

    generated = tt_wants_message.generate(args=(5,))
    assert [r.accepted for r in run_ready(broker)] == [True]
    ((x, message),) = seen
    assert x == 5
    assert isinstance(message, Message)
    assert message.uuid == generated.uuid
    assert message.lock is not None and message.deliveries == 1  # the claimed message


def test_a_message_key_in_kwargs_wins(broker: Broker) -> None:
    seen: list[Any] = []

    @task(broker)
    def tt_kwarg_message(message: Message) -> None:
        seen.append(message)

    tt_kwarg_message.generate(kwargs={"message": "string"})
    run_ready(broker)
    assert seen == ["string"]


@pytest.mark.parametrize(
    ("annotation", "passed"),
    [
        (None, True),
        ("Message", True),
        ("Optional[Message]", True),
        ("Message | None", True),
        ("alsek.core.Message", True),
        (Message, True),
        (typing.Optional[Message], True),  # noqa: UP045 - the form users write
        (typing.Union[Message, None], True),  # noqa: UP007
        ("str", False),
        (str, False),
        ("Optional[str]", False),
        (typing.Optional[int], False),  # noqa: UP045
        ("MessageLike", False),
    ],
)
def test_message_is_passed_only_when_the_annotation_names_message(
    broker: Broker, annotation: Any, passed: bool
) -> None:
    seen: list[Any] = []

    def tt_annotated(message: Any = "default") -> None:
        seen.append(message)

    tt_annotated.__annotations__ = {} if annotation is None else {"message": annotation}
    tt_annotated.__annotations__["return"] = None
    decorated = task(broker)(tt_annotated)
    generated = decorated.generate()
    run_ready(broker)
    (got,) = seen
    if passed:
        assert isinstance(got, Message) and got.uuid == generated.uuid
    else:
        assert got == "default"


# -- hooks (base_task) ----------------------------------------------------------------------------


def test_pre_op_and_post_op_surround_the_function(broker: Broker) -> None:
    events: list[tuple[Any, ...]] = []

    class Recording(Task):
        def pre_op(self, message: Message) -> None:
            events.append(("pre", message.uuid, message.lock is not None))

        def post_op(self, message: Message, result: Any) -> None:
            events.append(("post", message.uuid, result))

    @task(broker, base_task=Recording)
    def tt_hooked(x: int) -> int:
        events.append(("run", x))
        return x * 10

    message = tt_hooked.generate(args=(4,))
    run_ready(broker)
    assert events == [("pre", message.uuid, True), ("run", 4), ("post", message.uuid, 40)]


def test_post_op_is_skipped_when_the_function_raises(broker: Broker) -> None:
    events: list[str] = []

    class Recording(Task):
        def pre_op(self, message: Message) -> None:
            events.append("pre")

        def post_op(self, message: Message, result: Any) -> None:
            events.append("post")

    @task(broker, base_task=Recording, max_retries=0)
    def tt_raises() -> None:
        events.append("run")
        raise RuntimeError("no")

    tt_raises.generate()
    run_ready(broker)
    assert events == ["pre", "run"]


@pytest.mark.parametrize("hook", ["pre_op", "post_op"])
def test_a_raising_pre_or_post_op_fails_the_run_and_is_retried(broker: Broker, hook: str) -> None:
    runs: list[int] = []

    def explode(self: Task, *args: Any) -> None:
        raise LookupError(f"{hook} broke")

    Broken = type("Broken", (Task,), {hook: explode})

    @task(broker, base_task=Broken, max_retries=1, backoff=None)
    def tt_hook_breaks() -> int:
        runs.append(1)
        return 1

    message = tt_hook_breaks.generate()
    assert run_one(broker).accepted
    assert broker.sync(message).retries == 1
    assert runs == ([] if hook == "pre_op" else [1])
    run_ready(broker)
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid
    assert f"LookupError: {hook} broke" in record.reason


def test_do_retry_decides_by_exception_type(broker: Broker) -> None:
    asked: list[tuple[str, str]] = []

    class Picky(Task):
        def do_retry(self, message: Message, exception: BaseException) -> bool:
            asked.append((message.uuid, type(exception).__name__))
            if isinstance(exception, ZeroDivisionError):
                return False
            return super().do_retry(message, exception)

    @task(broker, base_task=Picky, max_retries=5, backoff=None)
    def tt_divide(a: int, b: int) -> float:
        return a / b

    @task(broker, base_task=Picky, max_retries=5, backoff=None)
    def tt_parse(text: str) -> int:
        return int(text)

    zero = tt_divide.generate(args=(1, 0))
    run_one(broker)
    assert asked == [(zero.uuid, "ZeroDivisionError")]
    (record,) = broker.dead_letters()
    assert record.uuid == zero.uuid and "ZeroDivisionError" in record.reason
    assert not broker.exists(zero)

    bad = tt_parse.generate(args=("x",))
    run_one(broker)
    assert asked[-1] == (bad.uuid, "ValueError")
    assert broker.sync(bad).retries == 1  # retried, not dead
    assert [r.uuid for r in broker.dead_letters()] == [zero.uuid]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_default_do_retry_allows_max_retries(broker: Broker, max_retries: int) -> None:
    runs: list[int] = []

    @task(broker, max_retries=max_retries, backoff=None)
    def tt_always_fails() -> None:
        runs.append(1)
        raise ValueError("nope")

    message = tt_always_fails.generate()
    run_ready(broker)
    assert len(runs) == max_retries + 1
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid
    retries = "retry" if max_retries == 1 else "retries"
    assert record.reason == f"ValueError: nope after {max_retries} {retries}"
    assert queued(broker) == []


def test_max_retries_none_retries_forever(broker: Broker) -> None:
    runs: list[int] = []

    @task(broker, max_retries=None, backoff=None)
    def tt_forever() -> None:
        runs.append(1)
        raise ValueError("again")

    message = tt_forever.generate()
    for _ in range(8):
        claimed = claim_next(broker)
        assert claimed is not None, "the message should still be retried"
        run_message(claimed, broker)
    assert len(runs) == 8
    assert broker.sync(message).retries == 8
    assert list(broker.dead_letters()) == []


def test_a_raising_do_retry_means_no_retry(broker: Broker) -> None:
    class Broken(Task):
        def do_retry(self, message: Message, exception: BaseException) -> bool:
            raise RuntimeError("do_retry broke")

    @task(broker, base_task=Broken, max_retries=5)
    def tt_fails_once() -> None:
        raise ValueError("task broke")

    message = tt_fails_once.generate()
    run_ready(broker)
    (record,) = broker.dead_letters()
    assert record.uuid == message.uuid and "ValueError: task broke" in record.reason


@pytest.mark.parametrize("approve", [True, False])
def test_do_callback_controls_the_callback(
    broker: Broker, store: ResultStore, approve: bool
) -> None:
    asked: list[tuple[str, Any]] = []

    class Gate(Task):
        def do_callback(self, message: Message, result: Any) -> bool:
            asked.append((message.uuid, result))
            return approve

    @task(broker, base_task=Gate, result_store=store)
    def tt_gated() -> int:
        return 99

    @task(broker)
    def tt_after_gate() -> None:
        return None

    follow = tt_after_gate.defer().generate()
    root = tt_gated.generate(callback=follow)
    run_one(broker)
    assert asked == [(root.uuid, 99)]
    assert store.get(root) == 99  # the run itself succeeded either way
    assert not broker.exists(root)
    assert broker.exists(follow) is approve


def test_do_callback_is_not_asked_without_a_callback(broker: Broker) -> None:
    asked: list[str] = []

    class Gate(Task):
        def do_callback(self, message: Message, result: Any) -> bool:
            asked.append(message.uuid)
            return False

    @task(broker, base_task=Gate)
    def tt_no_callback() -> int:
        return 1

    tt_no_callback.generate()
    run_ready(broker)
    assert asked == []


def test_a_raising_do_callback_skips_the_callback_but_keeps_the_result(
    broker: Broker, backend: Backend
) -> None:
    class Broken(Task):
        def do_callback(self, message: Message, result: Any) -> bool:
            raise KeyError("do_callback broke")

    store = ResultStore(backend)

    @task(broker, base_task=Broken, max_retries=3, result_store=store)
    def tt_cb_breaks() -> int:
        return 1

    @task(broker)
    def tt_never() -> None:
        return None

    follow = tt_never.defer().generate()
    root = tt_cb_breaks.generate(callback=follow)
    reports = run_ready(broker)  # does not raise
    assert len(reports) == 1
    assert not broker.exists(follow)
    assert not broker.exists(root)
    assert list(broker.dead_letters()) == []
    assert store.get(root) == 1


# -- callbacks ------------------------------------------------------------------------------------


def test_single_nested_and_tuple_callbacks_give_the_same_chain(broker: Broker) -> None:
    @task(broker)
    def tt_first(number: int) -> int:
        return number + 1

    @task(broker)
    def tt_next(message: Message) -> int:
        return int(message.previous_result) + 1

    single = tt_first.generate(args=(1,), uuid="r1",
                               callback=tt_next.generate(uuid="c1", submit=False))
    single_deferred = tt_first.generate(args=(1,), uuid="r2",
                                        callback=tt_next.defer().generate(uuid="c1"))
    assert no_timestamps(flatten(single))[1:] == no_timestamps(flatten(single_deferred))[1:]
    assert [m.uuid for m in flatten(single)] == ["r1", "c1"]

    nested = tt_first.generate(
        args=(1,), uuid="r3",
        callback=tt_next.defer().generate(
            uuid="c1", callback=tt_next.defer().generate(
                uuid="c2", callback=tt_next.defer().generate(uuid="c3"))),
    )
    flat = tt_first.generate(
        args=(1,), uuid="r4",
        callback=(tt_next.defer().generate(uuid="c1"), tt_next.defer().generate(uuid="c2"),
                  tt_next.defer().generate(uuid="c3")),
    )
    assert [m.uuid for m in flatten(nested)] == ["r3", "c1", "c2", "c3"]
    assert no_timestamps(flatten(nested))[1:] == no_timestamps(flatten(flat))[1:]
    assert {m.uuid for m in queued(broker)} == {"r1", "r2", "r3", "r4"}  # no callback submitted


def test_a_callback_chain_runs_to_the_end(broker: Broker, store: ResultStore) -> None:
    seen: list[tuple[str, str | None, Any]] = []

    @task(broker, result_store=store)
    def tt_add_1(number: int) -> int:
        return number + 1

    @task(broker, result_store=store)
    def tt_add_1_previous(message: Message) -> int:
        seen.append((message.uuid, message.progenitor, message.previous_result))
        return int(message.previous_result) + 1

    root = tt_add_1.generate(
        args=(1,),
        callback=(tt_add_1_previous.defer().generate(), tt_add_1_previous.defer().generate(),
                  tt_add_1_previous.defer().generate()),
    )
    _, first, second, third = flatten(root)
    assert queued(broker) == [root]

    run_one(broker)
    (waiting,) = queued(broker)
    assert waiting.uuid == first.uuid
    assert waiting.previous_result == 2
    assert waiting.progenitor == root.uuid
    assert flatten(waiting)[1].uuid == second.uuid  # the rest of the chain rides along

    assert len(run_ready(broker)) == 3
    assert seen == [
        (first.uuid, root.uuid, 2),
        (second.uuid, first.uuid, 3),  # the progenitor is the previous message, not the root
        (third.uuid, second.uuid, 4),
    ]
    assert store.get(third) == 5
    assert store.get(root, descendants=True) == [2, 3, 4]
    assert queued(broker) == []


def test_callbacks_are_not_submitted_after_a_failure(broker: Broker) -> None:
    attempts: list[int] = []

    @task(broker, max_retries=1, backoff=None)
    def tt_flaky_root() -> int:
        attempts.append(1)
        raise OSError("down")

    @task(broker)
    def tt_after_root() -> None:
        return None

    follow = tt_after_root.defer().generate()
    root = tt_flaky_root.generate(callback=follow)
    run_one(broker)
    assert [m.uuid for m in queued(broker)] == [root.uuid]  # retried, callback still unsent
    run_ready(broker)
    assert len(attempts) == 2
    assert not broker.exists(follow)
    assert queued(broker) == []
    assert [r.uuid for r in broker.dead_letters()] == [root.uuid]


def test_running_the_same_claim_twice_submits_the_callback_once(broker: Broker) -> None:
    @task(broker)
    def tt_dup_root() -> int:
        return 1

    @task(broker)
    def tt_dup_follow() -> None:
        return None

    follow = tt_dup_follow.defer().generate()
    tt_dup_root.generate(callback=follow)
    message = claim_next(broker)
    assert message is not None
    assert run_message(message, broker).accepted is True
    again = run_message(message, broker)  # no MessageExistsError escapes
    assert again.accepted is False  # its ack was refused: the message is already done
    assert [m.uuid for m in queued(broker)] == [follow.uuid]


def test_a_run_after_a_lease_takeover_submits_the_callback_once(
    manual: Broker, clock: ManualClock
) -> None:
    @task(manual)
    def tt_slow_root() -> int:
        return 1

    @task(manual)
    def tt_slow_follow() -> None:
        return None

    follow = tt_slow_follow.defer().generate()
    tt_slow_root.generate(callback=follow)
    first = Consumer(manual, lease_ms=1_000).claim(MECHANISMS).messages[0]
    clock.advance(1_000)  # the first worker stalls past its lease
    second = Consumer(manual, lease_ms=1_000).claim(MECHANISMS).messages[0]
    assert second.uuid == first.uuid and second.deliveries == 2
    assert run_message(second, manual).accepted is True
    assert run_message(first, manual).accepted is False
    assert [m.uuid for m in queued(manual)] == [follow.uuid]


# -- retries and backoff end to end ---------------------------------------------------------------


def test_fails_twice_then_succeeds_waiting_the_backoff(
    manual: Broker, clock: ManualClock, store: ResultStore
) -> None:
    backoff = ExponentialBackoff(base=2, factor=1_000, floor=0, ceiling=None)
    attempts: list[int] = []

    @task(manual, max_retries=2, backoff=backoff, result_store=store)
    def tt_third_time_lucky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)}")
        return "done"

    message = tt_third_time_lucky.generate()
    for retry in (1, 2):
        claimed = claim_next(manual)
        assert claimed is not None
        failed_at = clock.now()
        assert run_message(claimed, manual).accepted
        stored = manual.sync(message)
        assert stored.retries == retry
        assert stored.ready_at == failed_at + backoff.get(retry)
        assert manual.counts("alsek_queue") == {"ready": 0, "delayed": 1, "leased": 0}
        clock.advance(backoff.get(retry) - 1)
        assert claim_next(manual) is None
        clock.advance(1)
    assert len(run_ready(manual)) == 1
    assert len(attempts) == 3
    assert store.get(message) == "done"
    assert queued(manual) == [] and list(manual.dead_letters()) == []


def test_exhausted_retries_dead_letter_the_message_with_a_reason(
    manual: Broker, clock: ManualClock
) -> None:
    backoff = ConstantBackoff(constant=500, floor=0, ceiling=None)

    @task(manual, max_retries=2, backoff=backoff)
    def tt_hopeless() -> None:
        raise ValueError("still broken")

    message = tt_hopeless.generate()
    for _ in range(2):
        assert len(run_ready(manual)) == 1
        clock.advance(500)
    assert len(run_ready(manual)) == 1
    assert not manual.exists(message)
    (record,) = manual.dead_letters("alsek_queue")
    assert record.uuid == message.uuid
    assert record.reason == "ValueError: still broken after 2 retries"
    assert record.failed_at == clock.now()
    assert record.message is not None and record.message["retries"] == 2


# -- result storage -------------------------------------------------------------------------------


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


# -- triggers -------------------------------------------------------------------------------------


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


def test_message_payloads_round_trip_through_the_broker(broker: Broker) -> None:
    @task(broker)
    def tt_round_trip(*args: Any, **kwargs: Any) -> None:
        return None

    message = tt_round_trip.generate(args=(1, "two", [3]), kwargs={"k": {"n": None}},
                                     metadata=[1, 2])
    (stored,) = queued(broker)
    assert stored == message
