"""The reference model of a queue store: what every backend must do.

Theory of operation. Each message lives in exactly one state:

* **waiting** - not leased; *ready* once ``ready_at <= now``, else *delayed*;
* **leased** - claimed by one consumer under a token until ``deadline``;
* **gone** - acked or dead-lettered.

``claim`` takes, queue by queue in the order given, the ready entry with the
smallest ``(priority, ready_at, created_at, name)``, after first returning the
expired leases of that queue to waiting. A lease *holds* for a token while
the entry still carries that token: renew, ack, release and dead-letter
with a token are refused once another claim (or expiry) replaced it. A token
of ``None`` means "unconditionally" (administrative use). ``deliveries``
counts claims since the last retry: ``release`` keeps it (a redelivery after a
crash), resets it (a retry) or takes one back (a graceful hand-back).

The Redis, DiskCache and generic backends implement these operations; the
integration state machine holds each of them to this model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from alsek.exceptions import ValidationError
from alsek.pure.keys import get_message_name
from alsek.pure.message import Message
from alsek.pure.ordering import name_tail
from alsek.pure.timing import ready_at as message_ready_at

DeliveryChange = Literal["keep", "reset", "uncount"]


@attrs.frozen
class DeliveryUpdate:
    """How a release changes a message's delivery count, as numbers every backend
    applies the same way: ``max(0, (0 if reset else count) + delta)``."""

    reset: bool
    delta: int


def delivery_update(change: DeliveryChange) -> DeliveryUpdate:
    """The one rule for deliveries on release: a retry starts a new count, a nack
    (the message was never really handled) takes its delivery back, a hand-back keeps it."""
    if change == "reset":
        return DeliveryUpdate(True, 0)
    if change == "uncount":
        return DeliveryUpdate(False, -1)
    if change == "keep":
        return DeliveryUpdate(False, 0)
    raise ValidationError(f"deliveries must be 'keep', 'reset' or 'uncount', got {change!r}")


def deliveries_after(count: int, update: DeliveryUpdate) -> int:
    """The delivery count after ``update``."""
    return max(0, (0 if update.reset else count) + update.delta)


@attrs.frozen
class IndexEntry:
    """Where a message sits in its queue's order."""

    queue: str
    name: str
    #: The message's slot kind (``Message.slot_kind``): claims filter on it.
    mechanism: str
    priority: int
    ready_at: int
    created_at: int

    @property
    def sort_key(self) -> tuple[int, int, int, str, str]:
        """Claim order within a queue (smaller first): see ``ordering.priority_key``."""
        return (self.priority, self.ready_at, self.created_at, name_tail(self.name), self.name)


def entry_for(message: Message, name: str) -> IndexEntry:
    """The index entry of ``message`` stored at ``name``."""
    return IndexEntry(
        queue=message.queue,
        name=name,
        mechanism=message.slot_kind,
        priority=message.priority,
        ready_at=message_ready_at(message),
        created_at=message.created_at,
    )


@attrs.frozen
class Claim:
    """A message handed to a consumer: its payload and lease."""

    name: str
    queue: str
    payload: Any
    token: str
    deliveries: int
    deadline: int
    mechanism: str = "process"


@attrs.frozen
class LeaseRef:
    """Which lease a fenced call addresses: the message's queue and name, and the
    token it was claimed with ('' = unconditionally, for administrative use)."""

    queue: str
    name: str
    token: str


def lease_of(message: Message) -> LeaseRef:
    """The lease a claimed ``message`` holds (its ``lock`` is the claim token)."""
    return LeaseRef(message.queue, get_message_name(message), message.lock or "")


@attrs.frozen
class Slot:
    """One message in the model: its entry, payload and lease."""

    entry: IndexEntry
    payload: Any
    token: str | None = None
    deadline: int | None = None
    deliveries: int = 0


@attrs.frozen
class QueueModel:
    """The whole store: live slots by name, dead letters by name."""

    slots: Mapping[str, Slot] = attrs.field(factory=dict)
    dead: Mapping[str, tuple[Any, str]] = attrs.field(factory=dict)


def _with(model: QueueModel, name: str, slot: Slot | None) -> QueueModel:
    slots = dict(model.slots)
    if slot is None:
        slots.pop(name, None)
    else:
        slots[name] = slot
    return attrs.evolve(model, slots=slots)


def state_of(model: QueueModel, name: str, now: int) -> str:
    """``'ready'``, ``'delayed'``, ``'leased'`` or ``'gone'``."""
    slot = model.slots.get(name)
    if slot is None:
        return "gone"
    if slot.token is not None:
        return "leased"
    return "ready" if slot.entry.ready_at <= now else "delayed"


def enqueue(
    model: QueueModel, entry: IndexEntry, payload: Any, nx: bool = True
) -> tuple[QueueModel, bool]:
    """Add a message. With ``nx``, refuse (False) if the name is present."""
    if nx and entry.name in model.slots:
        return model, False
    return _with(model, entry.name, Slot(entry, payload)), True


def expire(model: QueueModel, queues: Iterable[str] | None, now: int) -> QueueModel:
    """Return leases that expired by ``now`` (in ``queues``, or all) to waiting."""
    wanted = None if queues is None else set(queues)
    slots = dict(model.slots)
    changed = False
    for name, slot in model.slots.items():
        if wanted is not None and slot.entry.queue not in wanted:
            continue
        if slot.token is not None and slot.deadline is not None and slot.deadline <= now:
            slots[name] = attrs.evolve(slot, token=None, deadline=None)
            changed = True
    return attrs.evolve(model, slots=slots) if changed else model


def _best(model: QueueModel, queue: str, mechanisms: Sequence[str], now: int) -> Slot | None:
    candidates = [
        slot
        for slot in model.slots.values()
        if slot.entry.queue == queue
        and slot.token is None
        and slot.entry.ready_at <= now
        and slot.entry.mechanism in mechanisms
    ]
    return min(candidates, key=lambda slot: slot.entry.sort_key, default=None)


def open_kinds(
    mechanisms: Sequence[str], caps: Mapping[str, int] | None, taken: Mapping[str, int]
) -> tuple[str, ...]:
    """The kinds a claim may still take: all of ``mechanisms`` without ``caps``, else
    those of which fewer than their cap were ``taken`` so far."""
    if caps is None:
        return tuple(mechanisms)
    return tuple(kind for kind in mechanisms if taken.get(kind, 0) < caps.get(kind, 0))


def claim(
    model: QueueModel,
    queues: Sequence[str],
    mechanisms: Sequence[str],
    now: int,
    lease_ms: int,
    tokens: Sequence[str],
    caps: Mapping[str, int] | None = None,
) -> tuple[QueueModel, tuple[Claim, ...]]:
    """Claim up to ``len(tokens)`` ready messages, one token each, in order, and with
    ``caps`` no more of a kind than its cap. A token that finds nothing has expired the
    leases of every queue on its way, even when no kind is open any more."""
    claims: list[Claim] = []
    taken: dict[str, int] = {}
    for token in tokens:
        found = None
        kinds = open_kinds(mechanisms, caps, taken)
        for queue in queues:
            model = expire(model, (queue,), now)
            found = _best(model, queue, kinds, now) if kinds else None
            if found is not None:
                break
        if found is None:
            break
        taken[found.entry.mechanism] = taken.get(found.entry.mechanism, 0) + 1
        held = attrs.evolve(
            found, token=token, deadline=now + lease_ms, deliveries=found.deliveries + 1
        )
        model = _with(model, found.entry.name, held)
        claims.append(
            Claim(
                found.entry.name,
                found.entry.queue,
                found.payload,
                token,
                held.deliveries,
                now + lease_ms,
                found.entry.mechanism,
            )
        )
    return model, tuple(claims)


def next_wake(model: QueueModel, queues: Sequence[str], now: int) -> int | None:
    """When a delayed message or a lease in ``queues`` next changes state (None if never).

    Messages already ready are not counted: a consumer that did not claim
    them has no free slot for their mechanism and waits for one instead.
    """
    times = []
    for slot in model.slots.values():
        if slot.entry.queue not in queues:
            continue
        if slot.token is None:
            if slot.entry.ready_at > now:
                times.append(slot.entry.ready_at)
        elif slot.deadline is not None:
            times.append(slot.deadline)
    return min(times, default=None)


def holds(model: QueueModel, name: str, token: str | None) -> bool:
    """Whether an operation with ``token`` on ``name`` is allowed."""
    slot = model.slots.get(name)
    if slot is None:
        return False
    return token is None or slot.token == token


def renew(
    model: QueueModel, name: str, token: str, now: int, lease_ms: int
) -> tuple[QueueModel, bool]:
    """Extend the lease held with ``token``; False when it no longer holds."""
    slot = model.slots.get(name)
    if slot is None or slot.token is None or slot.token != token:
        return model, False
    return _with(model, name, attrs.evolve(slot, deadline=now + lease_ms)), True


def ack(model: QueueModel, name: str, token: str | None) -> tuple[QueueModel, bool]:
    """Remove a finished message; refused when the lease no longer holds."""
    if not holds(model, name, token):
        return model, False
    return _with(model, name, None), True


def release(
    model: QueueModel,
    name: str,
    token: str | None,
    entry: IndexEntry,
    payload: Any = None,
    deliveries: DeliveryChange = "keep",
) -> tuple[QueueModel, bool]:
    """Make a message claimable again at ``entry.ready_at`` (new payload if given)."""
    if entry.name != name:
        raise ValidationError(f"release of {name!r} given the entry of {entry.name!r}")
    if not holds(model, name, token):
        return model, False
    slot = model.slots[name]
    count = deliveries_after(slot.deliveries, delivery_update(deliveries))
    new = Slot(entry, slot.payload if payload is None else payload, None, None, count)
    return _with(model, name, new), True


def dead_letter(
    model: QueueModel, name: str, token: str | None, reason: str
) -> tuple[QueueModel, bool]:
    """Move a message to the dead letters; refused when the lease no longer holds."""
    if not holds(model, name, token):
        return model, False
    payload = model.slots[name].payload
    model = _with(model, name, None)
    dead = dict(model.dead)
    dead[name] = (payload, reason)
    return attrs.evolve(model, dead=dead), True


def counts(model: QueueModel, queue: str, now: int) -> dict[str, int]:
    """How many messages of ``queue`` are ready, delayed and leased."""
    tally = {"ready": 0, "delayed": 0, "leased": 0}
    for name, slot in model.slots.items():
        if slot.entry.queue == queue:
            tally[state_of(model, name, now)] += 1
    return tally
