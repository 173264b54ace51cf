"""Hypothesis strategies for the records of the pure core.

Every strategy produces *valid* records only; tests that need invalid input
build it explicitly. Values inside messages are JSON-native (None, bool,
int, finite float, str, lists and str-keyed dicts of those) so that a JSON
round trip returns an equal message: JSON turns tuples into lists, hence
lists (never tuples) inside ``args``.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from hypothesis import settings
from hypothesis import strategies as st

from alsek import defaults
from alsek.pure.backoff import (
    NO_BACKOFF,
    Backoff,
    ConstantBackoff,
    ExponentialBackoff,
    LinearBackoff,
)
from alsek.pure.callbacks import attach
from alsek.pure.capacity import Capacity, Load
from alsek.pure.message import MECHANISMS, SLOT_KINDS, Message
from alsek.pure.outcome import Cancelled, Crashed, ErrorInfo, Failed, Outcome, Succeeded, TimedOut
from alsek.pure.policy import TaskPolicy
from alsek.pure.queue_model import IndexEntry

#: Characters that separate parts of storage keys (or are glob syntax).
FORBIDDEN = ":*?[]|\\"

#: Timestamps: 0 .. year ~2255 in UTC ms; ``ready_member`` handles < 10**15.
MAX_TIME = 9 * 10**12
times = st.integers(min_value=0, max_value=MAX_TIME)

#: A few names cover the interesting shapes (short, long, unicode, dots,
#: spaces); generated text adds variety at a fraction of the cost.
NAME_POOL = ("a", "b", "q", "task", "alsek_queue", "ü-ñ", "x.y", "with space", "0", "ab" * 20)
names = st.one_of(
    st.sampled_from(NAME_POOL),
    st.text(
        alphabet=st.characters(
            exclude_characters=FORBIDDEN, exclude_categories=("Cs",), max_codepoint=0x2FF
        ),
        min_size=1,
        max_size=8,
    ),
)
pool_names = st.sampled_from(NAME_POOL)
mechanisms = st.sampled_from(MECHANISMS)
#: What a message occupies in a pool (and what queues index it by).
slot_kinds = st.sampled_from(SLOT_KINDS)
priorities = st.one_of(
    st.sampled_from([0, -1, 1, defaults.MIN_PRIORITY, defaults.MAX_PRIORITY]),
    st.integers(min_value=defaults.MIN_PRIORITY, max_value=defaults.MAX_PRIORITY),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=4), children, max_size=2),
    ),
    max_leaves=4,
)
json_kwargs = st.dictionaries(st.text(max_size=6), json_values, max_size=2)


_constants = st.integers(min_value=0, max_value=10**7)
_factors = st.integers(min_value=0, max_value=10**6)
_bases = {0: st.integers(min_value=0, max_value=10), 1: st.integers(min_value=1, max_value=10)}
_floors = st.none() | st.integers(min_value=0, max_value=10**7)
_ceilings = st.none() | st.integers(min_value=0, max_value=10**8)


def _bounds(draw: st.DrawFn) -> dict[str, int | None]:
    floor = draw(_floors)
    ceiling = draw(_ceilings)
    if floor is not None and ceiling is not None and floor > ceiling:
        floor, ceiling = ceiling, floor
    return {"floor": floor, "ceiling": ceiling, "zero_override": draw(st.booleans())}


@st.composite
def constant_backoffs(draw: st.DrawFn) -> ConstantBackoff:
    """Any valid ConstantBackoff."""
    return ConstantBackoff(constant=draw(_constants), **_bounds(draw))


@st.composite
def linear_backoffs(draw: st.DrawFn) -> LinearBackoff:
    """Any valid LinearBackoff."""
    return LinearBackoff(factor=draw(_factors), **_bounds(draw))


@st.composite
def exponential_backoffs(draw: st.DrawFn, min_base: Literal[0, 1] = 0) -> ExponentialBackoff:
    """Any valid ExponentialBackoff with ``base >= min_base``."""
    return ExponentialBackoff(
        base=draw(_bases[min_base]),
        factor=draw(_factors),
        **_bounds(draw),
    )


backoffs: st.SearchStrategy[Backoff] = st.one_of(
    constant_backoffs(),
    linear_backoffs(),
    exponential_backoffs(),
    st.just(ExponentialBackoff()),
)

#: Settings messages carry (a fixed pool keeps message generation cheap;
#: the backoff tests explore the records themselves).
backoff_settings = st.sampled_from(
    [
        None,
        ExponentialBackoff().settings,
        NO_BACKOFF.settings,
        ConstantBackoff(constant=1_000, floor=None, ceiling=None, zero_override=False).settings,
        LinearBackoff(factor=500, floor=100, ceiling=2_000).settings,
        ExponentialBackoff(base=2, factor=3, floor=None, ceiling=None).settings,
    ]
)


# Sub-strategies are built once: constructing them inside a composite on
# every draw costs more than drawing from them.
_ttls = st.none() | st.integers(min_value=1, max_value=10**9)
_retries = st.integers(min_value=0, max_value=20)
_deliveries = st.integers(min_value=0, max_value=10)
_timeouts = st.integers(min_value=1, max_value=10**8)
_long_offsets = st.integers(min_value=0, max_value=10**9)
_short_offsets = st.integers(min_value=0, max_value=10**6)
_args = st.lists(json_values, max_size=3)
_small_args = st.lists(json_scalars, max_size=2)
_metadata = st.none() | json_kwargs
_optional_names = st.none() | names


def _small_message(draw: st.DrawFn, uuid: str) -> Message:
    created_at = draw(times)
    return Message(
        task_name=draw(pool_names),
        queue=draw(pool_names),
        args=draw(_small_args),
        uuid=uuid,
        created_at=created_at,
        updated_at=created_at + draw(_short_offsets),
        delay=draw(_short_offsets),
        store_result=draw(st.booleans()),
        result_ttl=draw(_ttls),
        retries=draw(_retries),
        backoff_settings=draw(backoff_settings),
        mechanism=draw(mechanisms),
        is_async=draw(st.booleans()),
        priority=draw(priorities),
        deliveries=draw(_deliveries),
    )


@st.composite
def small_messages(draw: st.DrawFn, uuid: st.SearchStrategy[str] = names) -> Message:
    """Cheaper valid messages: names, args, timing, priority and backoff vary."""
    return _small_message(draw, draw(uuid))


@functools.cache
def _unique_names(min_size: int, max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(names, min_size=min_size, max_size=max_size, unique=True)


@st.composite
def message_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> list[Message]:
    """Messages with distinct uuids and no callbacks of their own."""
    uuids = draw(_unique_names(min_size, max_size))
    return [_small_message(draw, uuid) for uuid in uuids]


_chains = st.lists(small_messages(), min_size=1, max_size=2)


@st.composite
def messages(draw: st.DrawFn, uuid: st.SearchStrategy[str] = names) -> Message:
    """Any valid Message, half of them carrying a callback chain of 1 or 2 links."""
    created_at = draw(times)
    message = Message(
        task_name=draw(names),
        queue=draw(names),
        args=draw(_args),
        kwargs=draw(json_kwargs),
        metadata=draw(_metadata),
        store_result=draw(st.booleans()),
        result_ttl=draw(_ttls),
        uuid=draw(uuid),
        progenitor=draw(_optional_names),
        retries=draw(_retries),
        timeout=draw(_timeouts),
        created_at=created_at,
        updated_at=created_at + draw(_long_offsets),
        delay=draw(_long_offsets),
        previous_result=draw(json_scalars),
        backoff_settings=draw(backoff_settings),
        mechanism=draw(mechanisms),
        is_async=draw(st.booleans()),
        lock=draw(_optional_names),
        priority=draw(priorities),
        deliveries=draw(_deliveries),
    )
    if draw(st.booleans()):
        message = attach(message, tuple(draw(_chains)))
    return message


error_infos = st.builds(
    ErrorInfo, type_name=names, message=st.text(max_size=20), traceback=st.text(max_size=20)
)
succeeded = st.builds(Succeeded, result=json_values, callback_approved=st.booleans())
failed = st.builds(Failed, error=error_infos, retry_approved=st.booleans())
timed_out = st.builds(
    TimedOut,
    timeout=st.integers(1, 10**8),
    retry_approved=st.booleans(),
    traceback=st.text(max_size=20),
)
crashed = st.builds(Crashed, detail=st.text(max_size=20))
cancelled = st.builds(Cancelled, reason=st.text(min_size=1, max_size=20))
outcomes: st.SearchStrategy[Outcome] = st.one_of(succeeded, failed, timed_out, crashed, cancelled)

policies = st.builds(
    TaskPolicy,
    max_retries=st.none() | st.integers(min_value=0, max_value=10),
    max_redeliveries=st.integers(min_value=0, max_value=6),
)

index_entries = st.builds(
    IndexEntry,
    queue=names,
    name=names,
    mechanism=slot_kinds,
    priority=priorities,
    ready_at=times,
    created_at=times,
)


@st.composite
def capacities(draw: st.DrawFn) -> Capacity:
    """Any valid pool capacity (at least one slot in total)."""
    threads = draw(st.integers(min_value=0, max_value=20))
    processes = draw(st.integers(min_value=0, max_value=20))
    coroutines = draw(st.integers(min_value=0 if threads + processes else 1, max_value=200))
    return Capacity(max_threads=threads, max_processes=processes, max_async=coroutines)


loads = st.builds(
    Load,
    threads=st.integers(min_value=0, max_value=25),
    processes=st.integers(0, 25),
    coroutines=st.integers(0, 250),
)


def plain(value: Any) -> Any:
    """``value`` as JSON-shaped data would hold it (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


#: Example budgets, so the suite stays fast (it runs on every change):
#: half the profile's examples for cheap strategies (``light``), fewer for
#: small messages (``medium``) and whole messages or chains (``heavy``).
light = settings(max_examples=max(10, settings.default.max_examples // 2))
medium = settings(max_examples=max(10, settings.default.max_examples // 3))
heavy = settings(max_examples=max(10, settings.default.max_examples // 5))
