"""The simulator's inputs: what runs, how often, on which pools.

A ``Workload`` is a frozen record tree. Field validators check each value
where it is defined; ``Workload`` checks what spans records (callback names,
arrival targets, queues nobody consumes, mechanisms without slots). Every
problem is a ``FieldError`` naming its path, e.g. ``tasks[1].callback``.
"""

from __future__ import annotations

from typing import Any

import attrs

from alsek import defaults
from alsek.exceptions import ValidationError
from alsek.pure.backoff import (
    DEFAULT_CONSUMER_BACKOFF,
    DEFAULT_TASK_BACKOFF,
    backoff_from_settings,
)
from alsek.pure.capacity import Capacity
from alsek.pure.message import MECHANISMS, SLOT_KINDS, Mechanism, SlotKind, check_name, slot_kind_of
from alsek.pure.ordering import queue_order
from alsek.pure.policy import TaskPolicy
from alsek.sim.checks import (
    FieldError,
    fail,
    is_int,
    is_number,
    number,
    one_of,
    optional,
    probability,
    sequence,
    to_tuple,
)
from alsek.sim.distributions import ARRIVALS, DURATIONS, ArrivalPattern, Duration, Fixed
from alsek.sim.signals import MODES as SIGNAL_MODES
from alsek.sim.signals import POOLS

DEFAULT_DISPATCH_MS: dict[str, float] = {"thread": 0, "process": 1, "async": 0}
#: The real consumer's default (``alsek.effects.consumer``, not importable from
#: here): after the n-th empty pass wait ``50 * n`` ms, 50 to 500 ms.


def _name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    try:
        check_name(attribute.name, value)
    except ValidationError as error:
        problem = str(error).removeprefix(f"{attribute.name} ")
        raise fail(instance, attribute.name, problem) from None


def _priority(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not is_int(value) or not defaults.MIN_PRIORITY <= value <= defaults.MAX_PRIORITY:
        raise fail(
            instance,
            attribute.name,
            f"must be an int in [{defaults.MIN_PRIORITY}, {defaults.MAX_PRIORITY}], got {value!r}",
        )


def _backoff(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    try:
        backoff_from_settings(value)
    except ValidationError as error:
        raise fail(instance, attribute.name, str(error)) from None


def _dispatch(value: Any) -> Any:
    return {**DEFAULT_DISPATCH_MS, **value} if isinstance(value, dict) else value


def _dispatch_ms(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, dict):
        raise fail(
            instance, attribute.name, "must be a table {thread = ms, process = ms, async = ms}"
        )
    for key, ms in value.items():
        if key not in SLOT_KINDS:
            problem = "unknown slot kind (thread, process, async)"
            raise fail(instance, f"{attribute.name}.{key}", problem)
        if not is_number(ms) or ms < 0:
            raise fail(instance, f"{attribute.name}.{key}", f"must be a number >= 0, got {ms!r}")


def _one_of_types(classes: Any, what: str) -> Any:
    kinds = tuple(classes.values())

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, kinds):
            expected = ", ".join(cls.__name__ for cls in kinds)
            raise fail(instance, attribute.name, f"must be {what} ({expected}), got {value!r}")

    return check


def _flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise fail(instance, attribute.name, f"must be true or false, got {value!r}")


def _text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise fail(instance, attribute.name, f"must be a string, got {value!r}")


def _items(cls: type) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        sequence(instance, attribute, value)
        for index, item in enumerate(value):
            if not isinstance(item, cls):
                raise fail(instance, f"{attribute.name}[{index}]", f"must be a {cls.__name__}")

    return check


@attrs.frozen
class TaskKind:
    """One kind of task: where it queues, how long it runs, how it fails."""

    name: str = attrs.field(validator=_name)
    queue: str = attrs.field(default=defaults.DEFAULT_QUEUE, validator=_name)
    priority: int = attrs.field(default=defaults.DEFAULT_PRIORITY, validator=_priority)
    mechanism: Mechanism = attrs.field(
        default=defaults.DEFAULT_MECHANISM, validator=one_of(MECHANISMS, "mechanism")
    )
    timeout_ms: int = attrs.field(
        default=defaults.DEFAULT_TASK_TIMEOUT, validator=number(1, integer=True)
    )
    max_retries: int = attrs.field(
        default=defaults.DEFAULT_MAX_RETRIES, validator=number(integer=True)
    )
    max_redeliveries: int = attrs.field(
        default=defaults.DEFAULT_MAX_REDELIVERIES, validator=number(integer=True)
    )
    backoff: dict[str, Any] | None = attrs.field(
        factory=lambda: DEFAULT_TASK_BACKOFF.settings, validator=_backoff, hash=False
    )
    duration: Duration = attrs.field(
        factory=lambda: Fixed(100), validator=_one_of_types(DURATIONS, "a duration")
    )
    p_fail: float = attrs.field(default=0.0, validator=probability)
    p_crash: float = attrs.field(default=0.0, validator=probability)
    callback: str | None = attrs.field(default=None, validator=optional(_name))
    #: An ``async def`` task: with ``mechanism = "thread"`` it takes the pool's
    #: async slots (``pool.max_async``), not a thread.
    is_async: bool = attrs.field(default=False, validator=_flag)

    @property
    def slot_kind(self) -> SlotKind:
        """The slot its runs take in a pool (``alsek.pure.message.slot_kind_of``)."""
        return slot_kind_of(self.mechanism, self.is_async)

    @property
    def policy(self) -> TaskPolicy:
        """The retry and redelivery limits ``decide`` applies."""
        return TaskPolicy(max_retries=self.max_retries, max_redeliveries=self.max_redeliveries)


@attrs.frozen
class Arrival:
    """Submissions of task kind ``task`` following ``pattern``."""

    task: str = attrs.field(validator=_name)
    pattern: ArrivalPattern = attrs.field(validator=_one_of_types(ARRIVALS, "an arrival pattern"))


@attrs.frozen
class PoolSpec:
    """``pools`` identical worker pools, each with these slots and claim batch."""

    max_threads: int = attrs.field(default=8, validator=number(integer=True))
    max_processes: int = attrs.field(default=4, validator=number(integer=True))
    pools: int = attrs.field(default=1, validator=number(1, integer=True))
    batch: int = attrs.field(default=16, validator=number(1, integer=True))
    max_async: int = attrs.field(default=0, validator=number(integer=True))

    def __attrs_post_init__(self) -> None:
        if self.max_threads + self.max_processes + self.max_async == 0:
            problem = "max_threads + max_processes + max_async must be >= 1"
            raise fail(self, "max_threads", problem)

    @property
    def capacity(self) -> Capacity:
        """Slot limits of one pool."""
        return Capacity(
            max_threads=self.max_threads,
            max_processes=self.max_processes,
            max_async=self.max_async,
        )


@attrs.frozen
class Overheads:
    """Fixed costs in ms: a claim round trip, a wake-up signal, handing a task to a worker.

    ``claim_rtt_ms`` is also what recording an outcome costs (the round trip
    an ack rides on, or its own); a round trip takes ``claim_ms_per_item``
    more per message it claims and outcome it carries (the cost of a batch).
    ``dispatch_ms`` is claim answered -> task started, plus whatever else a
    slot spends on a task beyond its duration.
    ``timer_ms`` is the backend's timer tick (0: none): a blocked wait that
    runs out (a delayed message's ready time, the consumer's backoff) ends
    only when the backend next serves a request or ticks. Redis: 1000 / hz
    (100 by default); DiskCache: 0. ``signals`` says who hears the wake-up
    signal a message sends (``alsek.sim.signals``): ``"pools"`` (every waiting
    dispatcher, one task process), ``"fifo"`` (Redis: one waiter, the longest
    waiting) or ``"any"`` (DiskCache: one waiter, any).

    The costs may have fractions of a ms (a calibration profile's do): the
    clock counts whole ms, so each payment is rounded up or down at random,
    in proportion, and the mean cost is exact.
    """

    claim_rtt_ms: float = attrs.field(default=1, validator=number())
    claim_ms_per_item: float = attrs.field(default=0, validator=number())
    wake_latency_ms: float = attrs.field(default=1, validator=number())
    dispatch_ms: dict[str, float] = attrs.field(
        factory=lambda: dict(DEFAULT_DISPATCH_MS),
        converter=_dispatch,
        validator=_dispatch_ms,
        hash=False,
    )
    timer_ms: int = attrs.field(default=0, validator=number(integer=True))
    signals: str = attrs.field(default=POOLS, validator=one_of(SIGNAL_MODES, "signals"))


@attrs.frozen
class Kill:
    """A fault: pool ``pool`` dies at ``at_ms`` (restarting after ``restart_after_ms``)."""

    pool: int = attrs.field(validator=number(integer=True))
    at_ms: int = attrs.field(validator=number(integer=True))
    restart_after_ms: int | None = attrs.field(
        default=None, validator=optional(number(integer=True))
    )


@attrs.frozen
class Workload:
    """Everything a simulation needs except the seed."""

    tasks: tuple[TaskKind, ...] = attrs.field(converter=to_tuple, validator=_items(TaskKind))
    arrivals: tuple[Arrival, ...] = attrs.field(
        default=(), converter=to_tuple, validator=_items(Arrival)
    )
    queues: tuple[str, ...] | None = attrs.field(default=None, converter=to_tuple)
    pool: PoolSpec = attrs.field(factory=PoolSpec)
    overheads: Overheads = attrs.field(factory=Overheads)
    lease_ms: int = attrs.field(
        default=defaults.DEFAULT_LEASE_MS, validator=number(3, integer=True)
    )
    consumer_backoff: dict[str, Any] | None = attrs.field(
        factory=lambda: DEFAULT_CONSUMER_BACKOFF.settings, validator=_backoff, hash=False
    )
    horizon_ms: int | None = attrs.field(default=None, validator=optional(number(integer=True)))
    sample_ms: int = attrs.field(default=1000, validator=number(1, integer=True))
    kills: tuple[Kill, ...] = attrs.field(default=(), converter=to_tuple, validator=_items(Kill))
    name: str = attrs.field(default="workload", validator=_text)

    def __attrs_post_init__(self) -> None:
        _check_workload(self)

    @property
    def queue_order(self) -> tuple[str, ...]:
        """Queues in consumption order: as given, else alphabetical."""
        return queue_order(self.queues, (kind.queue for kind in self.tasks))

    @property
    def kinds(self) -> dict[str, TaskKind]:
        """Task kinds by name."""
        return {kind.name: kind for kind in self.tasks}


def _check_workload(workload: Workload) -> None:
    if not workload.tasks:
        raise FieldError("", "tasks", "must list at least one task kind")
    _check_names(workload)
    _check_callbacks(workload)
    _check_arrivals(workload)
    _check_queues(workload)
    if workload.overheads.signals != POOLS and workload.consumer_backoff is None:
        problem = (
            f"{workload.overheads.signals!r} needs a consumer_backoff: with one waiter per "
            "signal, a consumer that missed its signal must end its wait by itself"
        )
        raise FieldError("", "overheads.signals", problem)
    for index, kill in enumerate(workload.kills):
        if kill.pool >= workload.pool.pools:
            problem = f"no pool {kill.pool} (pool.pools = {workload.pool.pools}, counted from 0)"
            raise FieldError("", f"kills[{index}].pool", problem)


def _check_names(workload: Workload) -> None:
    seen: dict[str, int] = {}
    for index, kind in enumerate(workload.tasks):
        if kind.name in seen:
            problem = f"duplicate task name {kind.name!r} (also tasks[{seen[kind.name]}])"
            raise FieldError("", f"tasks[{index}].name", problem)
        seen[kind.name] = index
        if workload.pool.capacity.limit(kind.slot_kind) == 0:
            slots = {"thread": "max_threads", "process": "max_processes", "async": "max_async"}
            what = "async 'thread'" if kind.slot_kind == "async" else repr(kind.mechanism)
            problem = f"{what} tasks could never run: pool.{slots[kind.slot_kind]} is 0"
            raise FieldError("", f"tasks[{index}].mechanism", problem)


def _check_callbacks(workload: Workload) -> None:
    kinds = workload.kinds
    for index, kind in enumerate(workload.tasks):
        chain = [kind.name]
        current = kind
        while current.callback is not None:
            if current.callback not in kinds:
                known = ", ".join(sorted(kinds))
                problem = f"unknown task {current.callback!r} (known: {known})"
                raise FieldError("", f"tasks[{index}].callback", problem)
            chain.append(current.callback)
            if current.callback in chain[:-1]:
                problem = f"callback chain loops: {' -> '.join(chain)}"
                raise FieldError("", f"tasks[{index}].callback", problem)
            current = kinds[current.callback]


def _check_arrivals(workload: Workload) -> None:
    kinds = workload.kinds
    for index, arrival in enumerate(workload.arrivals):
        if arrival.task not in kinds:
            known = ", ".join(sorted(kinds))
            problem = f"unknown task {arrival.task!r} (known: {known})"
            raise FieldError("", f"arrivals[{index}].task", problem)
        if not arrival.pattern.bounded and workload.horizon_ms is None:
            problem = f"a {arrival.pattern.kind!r} arrival needs count, until_ms or horizon_ms"
            raise FieldError("", f"arrivals[{index}]", problem)


def _check_queues(workload: Workload) -> None:
    if workload.queues is not None:
        if not isinstance(workload.queues, tuple) or not workload.queues:
            raise FieldError("", "queues", "must be a non-empty list of queue names")
        for index, queue in enumerate(workload.queues):
            try:
                check_name("queue", queue)
            except ValidationError as error:
                raise FieldError("", f"queues[{index}]", str(error)) from None
    order = workload.queue_order
    for index, kind in enumerate(workload.tasks):
        if kind.queue not in order:
            problem = f"queue {kind.queue!r} is not in queues {list(order)}: no pool consumes it"
            raise FieldError("", f"tasks[{index}].queue", problem)
