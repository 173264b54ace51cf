"""The Broker on real backends: names, submit, ack/remove, leases, nack, retry, fail, dead letters.

Every test drives a ``Broker`` with a ``ManualClock`` so that ready times and
lease expiries are exact. The last test runs a Hypothesis state machine that
drives the real Broker (Redis and DiskCache) and the pure queue model side by
side and checks they agree after every step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from alsek.core import Broker
from alsek.effects.backends.base import Backend
from alsek.effects.clock import ManualClock
from alsek.exceptions import LeaseLostError, MessageExistsError, NotFoundError, ValidationError
from alsek.pure import queue_model as qm
from alsek.pure.backoff import Backoff, ConstantBackoff, ExponentialBackoff, LinearBackoff
from alsek.pure.codec import message_from_data
from alsek.pure.message import Message
from alsek.pure.transitions import claimed, unclaimed
from alsek.pure.transitions import nack as nacked
from alsek.pure.transitions import retry as retried
from tests.integration.conftest import make_backend

START = 1_700_000_000_000
LEASE = 1_000
EMPTY = {"ready": 0, "delayed": 0, "leased": 0}


def new_message(clock: ManualClock, uuid: str, queue: str = "q", **fields: object) -> Message:
    """A message created at the clock's current time."""
    return Message(task_name="t", queue=queue, uuid=uuid, created_at=clock.now(), **fields)


def claim_one(broker: Broker, token: str, lease_ms: int = LEASE) -> Message | None:
    """Claim the first ready message of any queue under ``token``, decoded as a worker would."""
    batch = broker.claim(None, ("process", "thread"), lease_ms, [token])
    if not batch.claims:
        return None
    (claim,) = batch.claims
    return claimed(message_from_data(claim.payload), claim.token, claim.deliveries)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture()
def broker(any_backend: Backend, clock: ManualClock) -> Broker:
    return Broker(any_backend, clock=clock)


# -- names, submit, exists, sync ------------------------------------------------------


def test_submit_stores_the_message_under_its_name(broker: Broker, clock: ManualClock) -> None:
    message = new_message(clock, "u-1", queue="math", args=(1, 2), kwargs={"k": "v"}, priority=4)
    assert broker.get_subnamespace("math") == "queues:math"
    assert broker.get_subnamespace("math", "t") == "queues:math:tasks:t"
    assert broker.get_message_name(message) == "queues:math:tasks:t:messages:u-1"
    assert not broker.exists(message)

    assert broker.submit(message) == message

    assert broker.exists(message)
    assert broker.backend.exists("queues:math:tasks:t:messages:u-1")
    assert list(broker.backend.scan(broker.get_subnamespace("math", "t"))) == [
        "queues:math:tasks:t:messages:u-1"
    ]
    assert broker.sync(message) == message
    assert broker.counts("math") == {"ready": 1, "delayed": 0, "leased": 0}
    assert "math" in broker.queues()


def test_sync_of_an_unknown_message_raises_not_found(broker: Broker, clock: ManualClock) -> None:
    with pytest.raises(NotFoundError, match="u-missing"):
        broker.sync(new_message(clock, "u-missing"))


def test_a_delayed_message_is_counted_delayed_until_its_ready_time(
    broker: Broker, clock: ManualClock
) -> None:
    broker.submit(new_message(clock, "u-1", delay=500))
    assert broker.counts("q") == {"ready": 0, "delayed": 1, "leased": 0}
    assert claim_one(broker, "tok") is None
    clock.advance(499)
    assert claim_one(broker, "tok") is None
    clock.advance(1)
    got = claim_one(broker, "tok")
    assert got is not None and got.uuid == "u-1"


def test_submitting_the_same_message_twice_raises_and_keeps_one(
    broker: Broker, clock: ManualClock
) -> None:
    message = new_message(clock, "dup", args=("first",))
    broker.submit(message)
    again = new_message(clock, "dup", args=("second",))
    with pytest.raises(MessageExistsError) as info:
        broker.submit(again)
    assert isinstance(info.value, KeyError)
    assert "queues:q:tasks:t:messages:dup" in str(info.value)
    assert broker.counts("q") == {"ready": 1, "delayed": 0, "leased": 0}
    assert list(broker.backend.scan("queues:q")) == ["queues:q:tasks:t:messages:dup"]
    assert broker.sync(message).args == ("first",)  # the original is untouched


@pytest.mark.parametrize(
    ("options", "match"),
    [({"dlq_ttl": 0}, "dlq_ttl"), ({"dlq_ttl": -5}, "dlq_ttl"), ({"dlq_ttl": 1.5}, "dlq_ttl")],
)
def test_broker_options_are_validated(
    any_backend: Backend, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        Broker(any_backend, **options)  # type: ignore[arg-type]


def test_a_broker_needs_a_backend() -> None:
    with pytest.raises(ValidationError, match="Broker needs a Backend"):
        Broker("redis://localhost")  # type: ignore[arg-type]


def test_a_submitted_claimed_message_is_stored_without_its_lease(
    broker: Broker, clock: ManualClock
) -> None:
    message = claimed(new_message(clock, "a"), "someone-elses-token", 1)
    broker.submit(message)
    assert broker.backend.get(broker.get_message_name(message))["lock"] is None
    held = claim_one(broker, "mine")
    assert held is not None and held.lock == "mine"


# -- ack / remove, fenced by the lease ---------------------------------------------------


def test_ack_and_remove_take_the_message_out(broker: Broker, clock: ManualClock) -> None:
    a, b = new_message(clock, "a"), new_message(clock, "b")
    broker.submit(a)
    broker.submit(b)
    assert broker.ack(a) is True
    assert not broker.exists(a)
    assert broker.remove(b) is True
    assert not broker.exists(b)
    assert broker.ack(a) is False  # already gone
    assert broker.counts("q") == EMPTY


def test_a_claimed_message_is_acked_with_its_token(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a"))
    held = claim_one(broker, "tok-1")
    assert held is not None and held.lock == "tok-1" and held.deliveries == 1
    assert broker.counts("q") == {"ready": 0, "delayed": 0, "leased": 1}
    assert claim_one(broker, "tok-2") is None  # nobody else gets it while the lease holds
    assert broker.ack(held) is True
    assert not broker.exists(held)
    assert broker.counts("q") == EMPTY


def test_operations_with_a_lease_taken_over_are_refused(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a"))
    first = claim_one(broker, "tok-1", lease_ms=100)
    assert first is not None
    clock.advance(101)  # the lease runs out; another consumer takes the message
    second = claim_one(broker, "tok-2", lease_ms=10_000)
    assert second is not None and second.uuid == first.uuid and second.deliveries == 2

    assert broker.ack(first) is False
    assert broker.remove(first) is False
    assert broker.nack(first) is False
    assert broker.fail(first, "stale") is False
    with pytest.raises(LeaseLostError):
        broker.retry(first)
    assert broker.exists(first)
    assert broker.sync(second).retries == 0  # the refused retry changed nothing
    assert list(broker.dead_letters()) == []
    assert broker.counts("q") == {"ready": 0, "delayed": 0, "leased": 1}

    assert broker.ack(second) is True
    assert not broker.exists(second)


def test_claim_with_an_explicit_now_expires_old_leases(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a"))
    first = claim_one(broker, "tok-1", lease_ms=100)
    assert first is not None
    batch = broker.claim(["q"], ("process",), 100, ["tok-2"], now=clock.now() + 99)
    assert batch.claims == ()
    batch = broker.claim(["q"], ("process",), 100, ["tok-2"], now=clock.now() + 100)
    assert [c.token for c in batch.claims] == ["tok-2"]
    assert broker.ack(first) is False


# -- nack ---------------------------------------------------------------------------------


def test_nack_makes_the_message_claimable_again(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a"))
    held = claim_one(broker, "tok-1")
    assert held is not None
    assert broker.nack(held) is True
    assert broker.counts("q") == {"ready": 1, "delayed": 0, "leased": 0}
    again = claim_one(broker, "tok-2")
    assert again is not None and again.uuid == "a"
    assert again.deliveries == 2  # a nack keeps the delivery count
    assert again.retries == 0
    assert broker.nack(held) is False  # the old token no longer holds


def test_nack_with_a_delay(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a"))
    held = claim_one(broker, "tok-1")
    assert held is not None
    assert broker.nack(held, delay=700) is True
    assert broker.counts("q") == {"ready": 0, "delayed": 1, "leased": 0}
    assert broker.sync(held).ready_at == clock.now() + 700
    clock.advance(699)
    assert claim_one(broker, "tok-2") is None
    clock.advance(1)
    again = claim_one(broker, "tok-2")
    assert again is not None and again.uuid == "a"
    with pytest.raises(ValidationError, match="delay must be >= 0"):
        broker.nack(again, delay=-1)


# -- retry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backoff",
    [
        ExponentialBackoff(base=2, factor=1_000, floor=0, ceiling=None),
        LinearBackoff(factor=300, floor=0, ceiling=None),
        ConstantBackoff(constant=250, floor=0, ceiling=None),
        ExponentialBackoff(),
    ],
    ids=["exponential", "linear", "constant", "default"],
)
def test_retry_counts_up_and_waits_the_backoff(
    broker: Broker, clock: ManualClock, backoff: Backoff
) -> None:
    broker.submit(new_message(clock, "a", backoff_settings=backoff.settings))
    held = claim_one(broker, "tok-0", lease_ms=100)
    assert held is not None
    clock.advance(100)  # a crash: the lease lapses and the message is delivered again
    held = claim_one(broker, "tok-1", lease_ms=100)
    assert held is not None and held.deliveries == 2

    for attempt in (1, 2, 3):
        now = clock.now()
        new = broker.retry(held)
        assert new.retries == attempt
        stored = broker.sync(new)
        assert stored.retries == attempt
        assert stored.ready_at == now + backoff.get(attempt)
        assert broker.counts("q") == {"ready": 0, "delayed": 1, "leased": 0}
        clock.advance(backoff.get(attempt) - 1)
        assert claim_one(broker, f"early-{attempt}") is None
        clock.advance(1)
        held = claim_one(broker, f"tok-{attempt + 1}", lease_ms=100)
        assert held is not None and held.retries == attempt
        assert held.deliveries == 1  # a retry starts a fresh delivery count


def test_retry_without_backoff_is_ready_at_once(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a", backoff_settings=None))
    held = claim_one(broker, "tok-1")
    assert held is not None
    broker.retry(held)
    again = claim_one(broker, "tok-2")
    assert again is not None and again.retries == 1


# -- fail and the dead-letter queue ----------------------------------------------------------


def test_fail_moves_the_message_to_the_dead_letters(broker: Broker, clock: ManualClock) -> None:
    message = new_message(clock, "a", args=(1,), retries=2)
    broker.submit(message)
    held = claim_one(broker, "tok-1")
    assert held is not None
    clock.advance(5)
    assert broker.fail(held, reason="ValueError: boom") is True
    assert not broker.exists(message)
    assert broker.counts("q") == EMPTY
    (record,) = broker.dead_letters("q")
    assert record.name == broker.get_message_name(message)
    assert record.reason == "ValueError: boom"
    assert record.failed_at == clock.now()
    assert record.uuid == "a"
    assert record.message is not None and record.message["lock"] is None
    assert message_from_data(record.message) == unclaimed(held)
    assert broker.get_dead_letter("a") == record


def test_fail_without_a_reason_says_failed(broker: Broker, clock: ManualClock) -> None:
    broker.submit(new_message(clock, "a"))
    assert broker.fail(new_message(clock, "a")) is True  # no token: unconditional
    assert broker.get_dead_letter("a").reason == "failed"


def test_dead_letters_expire_after_dlq_ttl(any_backend: Backend, clock: ManualClock) -> None:
    broker = Broker(any_backend, dlq_ttl=300, clock=clock)
    broker.submit(new_message(clock, "a"))
    assert broker.fail(new_message(clock, "a"), "gone soon") is True
    assert [r.uuid for r in broker.dead_letters()] == ["a"]
    wait_until(lambda: list(broker.dead_letters()) == [], 5.0, "the dead letter to expire")
    with pytest.raises(NotFoundError):
        broker.get_dead_letter("a")


def test_dead_letters_are_kept_a_week_by_default(broker: Broker, clock: ManualClock) -> None:
    assert broker.dlq_ttl == 7 * 24 * 3600 * 1000
    broker.submit(new_message(clock, "a"))
    broker.fail(new_message(clock, "a"))
    time.sleep(0.4)
    assert [r.uuid for r in broker.dead_letters()] == ["a"]


def test_without_a_dlq_failed_messages_are_dropped(
    any_backend: Backend, clock: ManualClock
) -> None:
    broker = Broker(any_backend, dlq_ttl=None, clock=clock)
    broker.submit(new_message(clock, "a"))
    held = claim_one(broker, "tok-1")
    assert held is not None
    assert broker.fail(held, "nobody keeps this") is True
    assert not broker.exists(held)
    assert list(broker.dead_letters()) == []
    assert list(any_backend.scan("dlq:*")) == []
    assert broker.counts("q") == EMPTY


def test_dead_letters_of_a_queue_oldest_first(broker: Broker, clock: ManualClock) -> None:
    for uuid, queue in [("c", "q1"), ("a", "q1"), ("x", "q10"), ("b", "q1"), ("y", "q2")]:
        broker.submit(new_message(clock, uuid, queue=queue))
    for uuid, queue in [("b", "q1"), ("x", "q10"), ("c", "q1"), ("y", "q2"), ("a", "q1")]:
        clock.advance(10)
        assert broker.fail(new_message(clock, uuid, queue=queue), f"reason {uuid}")
    q1 = list(broker.dead_letters("q1"))
    assert [r.uuid for r in q1] == ["b", "c", "a"]  # q10 is a different queue
    assert [r.reason for r in q1] == ["reason b", "reason c", "reason a"]
    assert [r.failed_at for r in q1] == sorted(r.failed_at for r in q1)
    assert [r.uuid for r in broker.dead_letters("q10")] == ["x"]
    assert [r.uuid for r in broker.dead_letters()] == ["b", "x", "c", "y", "a"]


def test_resubmit_a_dead_letter(broker: Broker, clock: ManualClock) -> None:
    message = new_message(clock, "a", args=(7,), retries=3, delay=50)
    broker.submit(message)
    clock.advance(50)
    held = claim_one(broker, "tok-1")
    assert held is not None
    broker.fail(held, "gave up")
    clock.advance(1_000)

    back = broker.resubmit_dead_letter("a")

    assert back.uuid == "a" and back.retries == 0 and back.args == (7,)
    assert broker.exists(back)
    assert broker.sync(back).retries == 0
    assert broker.counts("q") == {"ready": 1, "delayed": 0, "leased": 0}
    with pytest.raises(NotFoundError):
        broker.get_dead_letter("a")
    assert list(broker.dead_letters()) == []
    again = claim_one(broker, "tok-2")
    assert again is not None and again.uuid == "a" and again.retries == 0
    assert again.deliveries == 1


def test_resubmitting_over_a_live_message_is_refused_and_keeps_the_dead_letter(
    broker: Broker, clock: ManualClock
) -> None:
    broker.submit(new_message(clock, "a"))
    broker.fail(new_message(clock, "a"), "first life")
    broker.submit(new_message(clock, "a"))  # the same uuid, queued again meanwhile
    with pytest.raises(MessageExistsError):
        broker.resubmit_dead_letter("a")
    assert broker.get_dead_letter("a").reason == "first life"
    assert broker.counts("q") == {"ready": 1, "delayed": 0, "leased": 0}


def test_remove_a_dead_letter(broker: Broker, clock: ManualClock) -> None:
    for uuid in ("a", "b"):
        broker.submit(new_message(clock, uuid))
        broker.fail(new_message(clock, uuid))
    broker.remove_dead_letter("a")
    assert [r.uuid for r in broker.dead_letters()] == ["b"]
    assert not broker.exists(new_message(clock, "a"))
    with pytest.raises(NotFoundError):
        broker.remove_dead_letter("a")
    with pytest.raises(NotFoundError):
        broker.resubmit_dead_letter("a")


# -- the real Broker against the pure queue model ----------------------------------------------

QUEUES = ("qa", "qb")
BACKOFFS = (None, ConstantBackoff(constant=400, floor=0, ceiling=None).settings,
            ExponentialBackoff(base=2, factor=200, floor=0, ceiling=5_000).settings)
NEW_MESSAGE = st.tuples(
    st.sampled_from(QUEUES),
    st.integers(-2, 2),
    st.sampled_from([0, 0, 300, 1_500]),
    st.sampled_from(["process", "thread"]),
    st.sampled_from(BACKOFFS),
)


def broker_machine(factory: Callable[[], Backend]) -> type[RuleBasedStateMachine]:
    class BrokerAgreesWithModel(RuleBasedStateMachine):
        tokens = Bundle("tokens")

        def __init__(self) -> None:
            super().__init__()
            backend = factory()
            backend.clear_namespace()
            self.clock = ManualClock(START)
            self.broker = Broker(backend, clock=self.clock)
            self.model = qm.QueueModel()
            self.counter = 0
            self.submitted = 0
            self.acked = 0
            self.failed: dict[str, str] = {}  # message name -> reason
            self.held: dict[str, Message] = {}  # token -> message as claimed

        def _submit(self, queue: str, priority: int, delay: int, mechanism: str,
                    backoff: dict[str, object] | None) -> None:
            self.counter += 1
            message = Message(task_name="t", queue=queue, uuid=f"m{self.counter:03d}",
                              created_at=self.clock.now(), priority=priority, delay=delay,
                              mechanism=mechanism, backoff_settings=backoff)  # type: ignore[arg-type]
            name = self.broker.get_message_name(message)
            self.model, accepted = qm.enqueue(self.model, qm.entry_for(message, name), message)
            assert accepted
            assert self.broker.submit(message) == message
            self.submitted += 1

        @initialize(seed=st.lists(NEW_MESSAGE, min_size=1, max_size=6))
        def start(self, seed: list[tuple[str, int, int, str, dict[str, object] | None]]) -> None:
            for queue in QUEUES:
                assert self.broker.counts(queue) == EMPTY
            for fields in seed:
                self._submit(*fields)

        @rule(fields=NEW_MESSAGE, roll=st.integers(0, 3), data=st.data())
        def submit(self, fields: tuple[str, int, int, str, dict[str, object] | None],
                   roll: int, data: st.DataObject) -> None:
            if roll or not self.model.slots:
                self._submit(*fields)
                return
            # One roll in four submits a live message again: refused, nothing changes.
            name = data.draw(st.sampled_from(sorted(self.model.slots)))
            with pytest.raises(MessageExistsError):
                self.broker.submit(self.model.slots[name].payload)

        @rule(target=tokens, n=st.integers(1, 3),
              order=st.sampled_from([None, ("qa", "qb"), ("qb", "qa"), ("qb",)]),
              mechanisms=st.sampled_from([("process", "thread"), ("thread",), ("process",)]))
        def claim(self, n: int, order: tuple[str, ...] | None,
                  mechanisms: tuple[str, ...]) -> object:
            tokens = [f"tok{self.counter}-{i}" for i in range(n)]
            self.counter += 1
            now = self.clock.now()
            queues = QUEUES if order is None else order
            self.model, expected = qm.claim(self.model, queues, mechanisms, now, LEASE, tokens)
            got = self.broker.claim(order, mechanisms, LEASE, tokens)
            assert [(c.name, c.queue, c.token, c.deliveries, c.deadline) for c in got.claims] == [
                (c.name, c.queue, c.token, c.deliveries, c.deadline) for c in expected]
            for claim in got.claims:
                message = message_from_data(claim.payload)
                assert message == self.model.slots[claim.name].payload
                self.held[claim.token] = claimed(message, claim.token, claim.deliveries)
            return multiple(*(c.token for c in got.claims))

        @rule(token=tokens)
        def ack(self, token: str) -> None:
            message = self.held[token]
            self.model, expected = qm.ack(self.model, self.broker.get_message_name(message),
                                          token)
            assert self.broker.ack(message) == expected
            self.acked += expected

        @rule(token=tokens, delay=st.sampled_from([0, 250]))
        def nack(self, token: str, delay: int) -> None:
            message = self.held[token]
            name = self.broker.get_message_name(message)
            new = unclaimed(nacked(message, self.clock.now(), delay))
            self.model, expected = qm.release(self.model, name, token, qm.entry_for(new, name),
                                              new, "keep")
            assert self.broker.nack(message, delay) == expected

        @rule(token=tokens)
        def retry(self, token: str) -> None:
            message = self.held[token]
            name = self.broker.get_message_name(message)
            new = retried(message, self.clock.now())
            self.model, expected = qm.release(self.model, name, token, qm.entry_for(new, name),
                                              new, "reset")
            if expected:
                assert self.broker.retry(message) == new
            else:
                with pytest.raises(LeaseLostError):
                    self.broker.retry(message)

        @rule(token=tokens)
        def fail(self, token: str) -> None:
            message = self.held[token]
            name = self.broker.get_message_name(message)
            reason = f"failed with {token}"
            self.model, expected = qm.dead_letter(self.model, name, token, reason)
            assert self.broker.fail(message, reason) == expected
            if expected:
                self.failed[name] = reason

        @rule(ms=st.sampled_from([1, 300, 700, 1_500]))
        def advance(self, ms: int) -> None:
            self.clock.advance(ms)

        @invariant()
        def counts_agree(self) -> None:
            now = self.clock.now()
            for queue in QUEUES:
                assert self.broker.counts(queue) == qm.counts(self.model, queue, now)

        @invariant()
        def no_message_is_lost(self) -> None:
            for name, slot in self.model.slots.items():
                assert self.broker.backend.exists(name), f"{name} was lost"
                assert self.broker.sync(slot.payload) == slot.payload

        @invariant()
        def no_name_is_held_by_two_tokens(self) -> None:
            # Probe each unexpired lease with a renewal to its current deadline:
            # it changes nothing, and only the one current holder may succeed.
            now = self.clock.now()
            holders: dict[str, list[str]] = {}
            for token, message in self.held.items():
                name = self.broker.get_message_name(message)
                slot = self.model.slots.get(name)
                if slot is not None and slot.token == token:
                    assert slot.deadline is not None
                    if slot.deadline <= now:
                        continue  # lapsed: a renewal could not leave it unchanged
                    lease_ms, expected = slot.deadline - now, True
                else:
                    lease_ms, expected = LEASE, False
                (held,) = self.broker.renew([message], lease_ms)
                assert held == expected, f"{token} on {name}: backend says {held}"
                if held:
                    holders.setdefault(name, []).append(token)
            assert all(len(tokens) == 1 for tokens in holders.values()), holders

        @invariant()
        def dead_letters_are_exactly_the_failed_messages(self) -> None:
            records = list(self.broker.dead_letters())
            assert {r.name: r.reason for r in records} == self.failed
            assert set(self.model.dead) == set(self.failed)
            assert [r.failed_at for r in records] == sorted(r.failed_at for r in records)

        @invariant()
        def every_submitted_message_is_accounted_for(self) -> None:
            live = sum(sum(self.broker.counts(q).values()) for q in QUEUES)
            assert live == len(self.model.slots)
            assert self.submitted == self.acked + len(self.failed) + live

    return BrokerAgreesWithModel


@pytest.mark.parametrize("kind", ["redis", "disk"])
def test_broker_agrees_with_the_queue_model(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = make_backend(kind, request, tmp_path)
    run_state_machine_as_test(
        broker_machine(lambda: backend),
        settings=settings(max_examples=20, stateful_step_count=30, deadline=None),
    )
