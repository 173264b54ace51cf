"""The queue model as a state machine, held to an independent mirror.

Consumers submit, claim, renew, ack, nack, retry and fail messages while the
clock advances and consumers crash (forgetting their tokens, so the leases
just run out). The mirror below restates the documented rules in the
simplest possible form; after every step the model must agree with it, and
the invariants every backend relies on must hold.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from alsek.pure import queue_model as qm
from alsek.pure.backoff import LinearBackoff
from alsek.pure.keys import get_message_name
from alsek.pure.message import MECHANISMS, SLOT_KINDS, Message
from alsek.pure.transitions import nack, retry

QUEUES = ("a", "b")
SMALL_BACKOFF = LinearBackoff(factor=7, floor=0, ceiling=40, zero_override=True).settings


@attrs.define
class Mirror:
    """What the test believes about one live message."""

    message: Message
    ready_at: int
    token: str | None = None
    deadline: int | None = None
    deliveries: int = 0

    def sort_key(self, name: str) -> tuple[int, int, int, str, str]:
        uuid = name.rsplit(":", 1)[-1]
        return (self.message.priority, self.ready_at, self.message.created_at, uuid, name)


queue_orders = st.lists(st.sampled_from(QUEUES), min_size=1, max_size=3)
mechanism_sets = st.sampled_from(
    [SLOT_KINDS, ("process",), ("thread",), ("async",), ("thread", "async"), SLOT_KINDS]
)
#: (queue, priority, delay, (mechanism, is_async), backoff) of one submission; few
#: distinct values so that ties in priority and time (settled by the name) happen.
submissions = st.tuples(
    st.sampled_from(QUEUES),
    st.integers(-1, 1),
    st.sampled_from([0, 0, 1, 5, 20, 45]),
    st.sampled_from([(m, a) for m in MECHANISMS for a in (False, True)]),
    st.sampled_from([None, SMALL_BACKOFF]),
)
batches = st.lists(submissions, min_size=1, max_size=4)
leases = st.sampled_from([1, 10, 30]) | st.integers(1, 60)


class QueueModelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = qm.QueueModel()
        self.now = 0
        self.serial = 0
        self.mirror: dict[str, Mirror] = {}
        self.submitted: set[str] = set()
        self.acked: set[str] = set()
        self.failed: set[str] = set()
        self.held: dict[str, str] = {}  # claims a live consumer believes valid
        self.orphaned: dict[str, str] = {}  # tokens of crashed consumers
        self.stale: list[tuple[str, str]] = []  # tokens known to be superseded

    # -- helpers --------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def mirror_holds(self, name: str, token: str | None) -> bool:
        slot = self.mirror.get(name)
        return slot is not None and (token is None or slot.token == token)

    def lose_lease(self, name: str) -> None:
        """The lease on ``name`` ended: whoever held it now holds a stale token."""
        slot = self.mirror[name]
        for owners in (self.held, self.orphaned):
            if owners.get(name) == slot.token:
                self.stale.append((name, owners.pop(name)))
        slot.token = slot.deadline = None

    def forget(self, name: str) -> None:
        """``name`` left the live set (acked or dead-lettered)."""
        del self.mirror[name]
        for owners in (self.held, self.orphaned):
            if name in owners:
                self.stale.append((name, owners.pop(name)))

    def mirror_expire(self, queue: str) -> None:
        for name, slot in self.mirror.items():
            if (
                slot.message.queue == queue
                and slot.deadline is not None
                and slot.deadline <= self.now
            ):
                self.lose_lease(name)

    def expected_claims(
        self,
        queues: list[str],
        mechanisms: tuple[str, ...],
        tokens: list[str],
        lease_ms: int,
        caps: dict[str, int] | None = None,
    ) -> list[tuple[str, str, int, int]]:
        claims = []
        taken: dict[str, int] = {}
        for token in tokens:
            found = None
            for queue in queues:
                allowed = [
                    m for m in mechanisms if caps is None or taken.get(m, 0) < caps.get(m, 0)
                ]
                self.mirror_expire(queue)
                candidates = [
                    name
                    for name, slot in self.mirror.items()
                    if slot.message.queue == queue
                    and slot.token is None
                    and slot.ready_at <= self.now
                    and slot.message.slot_kind in allowed
                ]
                if candidates:
                    found = min(candidates, key=lambda n: self.mirror[n].sort_key(n))
                    break
            if found is None:
                break
            slot = self.mirror[found]
            kind = slot.message.slot_kind
            taken[kind] = taken.get(kind, 0) + 1
            slot.token, slot.deadline = token, self.now + lease_ms
            slot.deliveries += 1
            claims.append((found, token, slot.deliveries, slot.deadline))
        return claims

    def all_tokens(self) -> list[tuple[str, str]]:
        return sorted(self.held.items()) + sorted(self.orphaned.items()) + self.stale

    # -- rules ----------------------------------------------------------

    def add(self, queue: str, priority: int, delay: int, kind: Any, backoff: Any) -> None:
        mechanism, is_async = kind
        message = Message(
            task_name="task",
            queue=queue,
            uuid=self.fresh("m"),
            created_at=self.now,
            delay=delay,
            priority=priority,
            mechanism=mechanism,
            is_async=is_async,
            backoff_settings=backoff,
        )
        name = get_message_name(message)
        self.model, added = qm.enqueue(self.model, qm.entry_for(message, name), message)
        assert added
        self.submitted.add(name)
        self.mirror[name] = Mirror(message, message.ready_at)

    @initialize(batch=batches)
    def start(self, batch: list[tuple[Any, ...]]) -> None:
        for submission in batch:
            self.add(*submission)

    @rule(batch=batches, again=st.booleans())
    def submit(self, batch: list[tuple[Any, ...]], again: bool) -> None:
        for submission in batch:
            self.add(*submission)
        if again:  # submitting a live name again is refused (nx), whatever the payload
            name = min(self.mirror)
            message = Message(task_name="task", uuid="again", created_at=self.now)
            before = self.model
            self.model, added = qm.enqueue(self.model, qm.entry_for(message, name), message)
            assert not added and self.model == before

    @rule(
        queues=queue_orders,
        mechanisms=mechanism_sets,
        count=st.integers(1, 3),
        lease_ms=leases,
        data=st.data(),
    )
    def claim(
        self,
        queues: list[str],
        mechanisms: tuple[str, ...],
        count: int,
        lease_ms: int,
        data: st.DataObject,
    ) -> None:
        tokens = [self.fresh("t") for _ in range(count)]
        caps = data.draw(
            st.none() | st.fixed_dictionaries({m: st.integers(0, 2) for m in mechanisms}),
            label="caps",
        )
        expected = self.expected_claims(queues, mechanisms, tokens, lease_ms, caps)
        self.model, claims = qm.claim(
            self.model, queues, mechanisms, self.now, lease_ms, tokens, caps
        )
        got = [(c.name, c.token, c.deliveries, c.deadline) for c in claims]
        assert got == expected
        for found in claims:
            slot = self.mirror[found.name]
            assert found.payload == slot.message
            assert found.queue == slot.message.queue
            assert slot.ready_at <= self.now  # never handed out early
            assert found.name not in self.held  # lost leases were made stale above
            self.held[found.name] = found.token

    @precondition(lambda self: self.held)
    @rule(data=st.data(), lease_ms=leases)
    def renew(self, data: st.DataObject, lease_ms: int) -> None:
        name, token = data.draw(st.sampled_from(sorted(self.held.items())), label="held")
        self.model, ok = qm.renew(self.model, name, token, self.now, lease_ms)
        assert ok
        self.mirror[name].deadline = self.now + lease_ms

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        name, token = data.draw(st.sampled_from(sorted(self.held.items())), label="held")
        self.model, ok = qm.ack(self.model, name, token)
        assert ok
        self.acked.add(name)
        self.forget(name)

    @precondition(lambda self: self.held)
    @rule(
        data=st.data(),
        delay=st.integers(0, 50),
        change=st.sampled_from(["keep", "uncount"]),
        new_payload=st.booleans(),
    )
    def nack(self, data: st.DataObject, delay: int, change: str, new_payload: bool) -> None:
        name, token = data.draw(st.sampled_from(sorted(self.held.items())), label="held")
        slot = self.mirror[name]
        message = nack(slot.message, self.now, delay)
        entry = qm.entry_for(message, name)
        payload = message if new_payload else None
        self.model, ok = qm.release(self.model, name, token, entry, payload, change)  # type: ignore[arg-type]
        assert ok
        del self.held[name]
        self.stale.append((name, token))
        if new_payload:
            slot.message = message
        slot.ready_at, slot.token, slot.deadline = self.now + delay, None, None
        if change == "uncount":
            slot.deliveries = max(slot.deliveries - 1, 0)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        name, token = data.draw(st.sampled_from(sorted(self.held.items())), label="held")
        slot = self.mirror[name]
        message = retry(slot.message, self.now)
        self.model, ok = qm.release(
            self.model, name, token, qm.entry_for(message, name), message, "reset"
        )
        assert ok
        del self.held[name]
        self.stale.append((name, token))
        self.mirror[name] = Mirror(message, message.ready_at)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), admin=st.booleans())
    def fail(self, data: st.DataObject, admin: bool) -> None:
        """Dead-letter a held message, or (admin: no token) any live message."""
        if admin:
            name = data.draw(st.sampled_from(sorted(self.mirror)), label="name")
            token = None
        else:
            name, token = data.draw(st.sampled_from(sorted(self.held.items())), label="held")
        payload = self.mirror[name].message
        self.model, ok = qm.dead_letter(self.model, name, token, "boom")
        assert ok
        assert self.model.dead[name] == (payload, "boom")
        self.failed.add(name)
        self.forget(name)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def crash_consumer(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.held)), label="name")
        self.orphaned[name] = self.held.pop(name)

    @precondition(lambda self: self.orphaned or self.stale)
    @rule(data=st.data(), op=st.sampled_from(["renew", "ack", "release", "dead_letter"]))
    def late_consumer(self, data: st.DataObject, op: str) -> None:
        """A crashed or superseded consumer comes back and acts with its token."""
        name, token = data.draw(
            st.sampled_from(sorted(self.orphaned.items()) + self.stale), label="token"
        )
        superseded = (name, token) in self.stale
        allowed = self.mirror_holds(name, token)
        assert not (superseded and allowed)
        before = self.model
        if op == "renew":
            self.model, ok = qm.renew(self.model, name, token, self.now, 10)
        elif op == "ack":
            self.model, ok = qm.ack(self.model, name, token)
        elif op == "release":
            entry = qm.IndexEntry("a", name, "thread", 0, self.now, 0)
            slot = self.model.slots.get(name)
            entry = slot.entry if slot is not None else entry
            self.model, ok = qm.release(self.model, name, token, entry)
        else:
            self.model, ok = qm.dead_letter(self.model, name, token, "late")
        assert ok == allowed
        if not ok:
            assert self.model == before
            return
        # A crashed consumer whose lease was never taken over may still act.
        slot = self.mirror[name]
        if op == "renew":
            slot.deadline = self.now + 10
        elif op == "ack":
            self.acked.add(name)
            self.forget(name)
        elif op == "release":
            del self.orphaned[name]
            self.stale.append((name, token))
            slot.token = slot.deadline = None
        else:
            self.failed.add(name)
            self.forget(name)

    @rule(
        step=st.sampled_from([1, 7, 25, 61]) | st.integers(1, 61),
        expire_queues=st.sampled_from(["none", "all"]) | queue_orders,
    )
    def advance_clock(self, step: int, expire_queues: str | list[str]) -> None:
        """Time passes; then, perhaps, a sweep returns expired leases to waiting."""
        self.now += step
        if expire_queues == "none":
            return
        queues = None if expire_queues == "all" else expire_queues
        self.model = qm.expire(self.model, queues, self.now)
        for queue in QUEUES if queues is None else set(queues):
            self.mirror_expire(queue)

    def upcoming(self) -> list[int]:
        """Times at which a delayed message becomes ready or a lease runs out."""
        times = [slot.deadline for slot in self.mirror.values() if slot.deadline is not None]
        times += [slot.ready_at for slot in self.mirror.values() if slot.token is None]
        return [time for time in times if time > self.now]

    @precondition(lambda self: self.upcoming())
    @rule()
    def advance_to_next_event(self) -> None:
        """Jump exactly to the next boundary: ``ready_at == now``, ``deadline == now``."""
        self.now = min(self.upcoming())

    # -- invariants -----------------------------------------------------

    @invariant()
    def every_message_is_in_exactly_one_state(self) -> None:
        tally = {"ready": 0, "delayed": 0, "leased": 0}
        for queue in QUEUES:
            for state, count in qm.counts(self.model, queue, self.now).items():
                tally[state] += count
        gone = 0
        for name in self.submitted:
            state = qm.state_of(self.model, name, self.now)
            slot = self.mirror.get(name)
            if slot is None:
                expected = "gone"
            elif slot.token is not None:
                expected = "leased"
            else:
                expected = "ready" if slot.ready_at <= self.now else "delayed"
            assert state == expected, (name, state, expected)
            gone += state == "gone"
        assert sum(tally.values()) + gone == len(self.submitted)

    @invariant()
    def submitted_equals_acked_plus_dead_plus_live(self) -> None:
        assert len(self.submitted) == len(self.acked) + len(self.model.dead) + len(self.model.slots)
        assert set(self.model.slots) == set(self.mirror)
        assert not (self.acked & self.failed)

    @invariant()
    def dead_letters_are_exactly_the_failed(self) -> None:
        assert set(self.model.dead) == self.failed

    @invariant()
    def at_most_one_valid_lease_per_name(self) -> None:
        valid: dict[str, set[str]] = {}
        for name, token in self.all_tokens():
            if qm.holds(self.model, name, token):
                valid.setdefault(name, set()).add(token)
        assert all(len(tokens) == 1 for tokens in valid.values()), valid
        for name, token in self.held.items():
            assert qm.holds(self.model, name, token)
        for name, token in self.stale:
            assert not qm.holds(self.model, name, token)

    @invariant()
    def slots_match_the_mirror(self) -> None:
        for name, slot in self.model.slots.items():
            mine = self.mirror[name]
            assert slot.entry.name == name
            assert slot.entry.ready_at == mine.ready_at
            assert slot.entry.sort_key == mine.sort_key(name)
            assert (slot.token, slot.deadline, slot.deliveries) == (
                mine.token,
                mine.deadline,
                mine.deliveries,
            )
            assert slot.payload == mine.message

    @invariant()
    def next_wake_is_the_earliest_change(self) -> None:
        for queue in QUEUES:
            times = [
                slot.deadline if slot.token is not None else slot.ready_at
                for slot in self.mirror.values()
                if slot.message.queue == queue
                and (slot.token is not None or slot.ready_at > self.now)
            ]
            assert qm.next_wake(self.model, [queue], self.now) == min(times, default=None)


TestQueueModel = QueueModelMachine.TestCase
TestQueueModel.settings = settings(
    max_examples=max(10, settings.default.max_examples // 2),
    stateful_step_count=30,
    deadline=None,
)
