"""Every backend agrees with the pure queue model, step by step (Hypothesis stateful).

Rules: submit, claim, renew, ack, nack/retry (release), fail (dead letter),
crash a consumer (its tokens are simply forgotten), and advance the clock.
After every step the backend's answers and state must equal the model's:
no message lost, none held twice, dead letters exactly the failed ones.
"""

from __future__ import annotations

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
    rule,
    run_state_machine_as_test,
)

from alsek.effects.backends.base import Backend
from alsek.pure import queue_model as qm
from tests.integration.conftest import make_backend

QUEUES = ("qa", "qb")
MECHS = ("thread", "process", "async")
START = 1_700_000_000_000
LEASE = 1_000


def payload_of(e: qm.IndexEntry, version: int) -> dict[str, object]:
    return {
        "task_name": "t",
        "queue": e.queue,
        "uuid": e.name.rsplit(":", 1)[1],
        "priority": e.priority,
        "created_at": e.created_at,
        "updated_at": e.ready_at,
        "delay": 0,
        # As a message stores it: a coroutine's slot kind is a thread-mechanism task's.
        "mechanism": "thread" if e.mechanism == "async" else e.mechanism,
        "is_async": e.mechanism == "async",
        "version": version,
    }


def machine_for(factory: Callable[[], Backend]) -> type[RuleBasedStateMachine]:
    class QueueAgreement(RuleBasedStateMachine):
        tokens = Bundle("tokens")

        def __init__(self) -> None:
            super().__init__()
            self.backend = factory()
            self.backend.clear_namespace()
            self.model = qm.QueueModel()
            self.now = START
            self.counter = 0
            self.failed: set[str] = set()
            self.acked: set[str] = set()
            self.submitted: set[str] = set()
            self.live_tokens: dict[str, str] = {}  # token -> name

        @initialize()
        def start(self) -> None:
            assert self.backend.queue_counts("qa", self.now, virtual=True) == {
                "ready": 0,
                "delayed": 0,
                "leased": 0,
            }

        @rule(
            queue=st.sampled_from(QUEUES),
            priority=st.integers(-2, 2),
            delay=st.sampled_from([0, 0, 500, 2_000]),
            mechanism=st.sampled_from(MECHS),
        )
        def submit(self, queue: str, priority: int, delay: int, mechanism: str) -> None:
            self.counter += 1
            name = f"queues:{queue}:tasks:t:messages:m{self.counter:04d}"
            e = qm.IndexEntry(queue, name, mechanism, priority, self.now + delay, self.now)
            payload = payload_of(e, 0)
            self.model, expected = qm.enqueue(self.model, e, payload)
            assert self.backend.enqueue(e, payload, self.now, virtual=True) == expected
            self.submitted.add(name)

        @rule(
            target=tokens,
            n=st.integers(1, 3),
            order=st.sampled_from([("qa", "qb"), ("qb", "qa"), ("qa",)]),
            mechs=st.sampled_from(
                [MECHS, ("thread",), ("process",), ("async",), ("thread", "async")]
            ),
            capped=st.booleans(),
            data=st.data(),
        )
        def claim(
            self,
            n: int,
            order: tuple[str, ...],
            mechs: tuple[str, ...],
            capped: bool,
            data: st.DataObject,
        ) -> object:
            tokens = [f"tok{self.counter}-{self.now}-{i}" for i in range(n)]
            self.counter += 1
            caps = None
            if capped:  # at most so many of each kind (a pool's free slots)
                caps = {m: data.draw(st.integers(0, 2), label=f"cap {m}") for m in mechs}
            self.model, expected = qm.claim(
                self.model, order, mechs, self.now, LEASE, tokens, caps
            )
            got = self.backend.claim(
                list(order), mechs, self.now, LEASE, tokens, virtual=True, caps=caps
            )
            assert [(c.name, c.token, c.deliveries, c.deadline) for c in got.claims] == [
                (c.name, c.token, c.deliveries, c.deadline) for c in expected
            ]
            for claim in got.claims:
                assert claim.payload == self.model.slots[claim.name].payload
                self.live_tokens[claim.token] = claim.name
            if len(expected) < n:
                assert got.next_wake == qm.next_wake(self.model, order, self.now)
            return tokens[0]

        def _name(self, token: str) -> str | None:
            return self.live_tokens.get(token)

        @rule(token=tokens)
        def renew(self, token: str) -> None:
            name = self._name(token)
            if name is None:
                return
            queue = name.split(":")[1]
            self.model, expected = qm.renew(self.model, name, token, self.now, LEASE)
            assert self.backend.renew(queue, name, token, self.now, LEASE, virtual=True) == expected

        @rule(token=tokens)
        def ack(self, token: str) -> None:
            name = self._name(token)
            if name is None:
                return
            self.model, expected = qm.ack(self.model, name, token)
            assert self.backend.ack(name.split(":")[1], name, token) == expected
            if expected:
                self.acked.add(name)

        @rule(
            token=tokens,
            delay=st.sampled_from([0, 300]),
            change=st.sampled_from(["keep", "reset", "uncount"]),
        )
        def release(self, token: str, delay: int, change: qm.DeliveryChange) -> None:
            name = self._name(token)
            if name is None or name not in self.model.slots:
                return
            old = self.model.slots[name].entry
            e = qm.IndexEntry(
                old.queue, name, old.mechanism, old.priority, self.now + delay, old.created_at
            )
            payload = payload_of(e, self.counter)
            self.counter += 1
            self.model, expected = qm.release(self.model, name, token, e, payload, change)
            got = self.backend.release(
                old.queue, name, token, e, payload, change, self.now, virtual=True
            )
            assert got == expected

        @rule(token=tokens)
        def fail(self, token: str) -> None:
            name = self._name(token)
            if name is None:
                return
            self.model, expected = qm.dead_letter(self.model, name, token, "failed")
            got = self.backend.dead_letter(
                name.split(":")[1], name, token, "dlq:" + name, {"reason": "failed"}, None
            )
            assert got == expected
            if expected:
                self.failed.add(name)

        @rule(token=tokens)
        def crash(self, token: str) -> None:
            # The consumer vanishes: its lease just runs out.
            self.live_tokens.pop(token, None)

        @rule(ms=st.sampled_from([1, 250, 600, 1_500]))
        def advance(self, ms: int) -> None:
            self.now += ms

        @invariant()
        def every_message_in_exactly_one_state(self) -> None:
            live = set(self.model.slots)
            assert not live & self.acked and not live & self.failed
            assert not self.acked & self.failed
            assert self.submitted == live | self.acked | self.failed
            states = [qm.state_of(self.model, name, self.now) for name in self.submitted]
            tally = {s: states.count(s) for s in ("ready", "delayed", "leased")}
            assert sum(tally.values()) == len(live)

        @invariant()
        def at_most_one_valid_lease(self) -> None:
            # Of all tokens ever handed out for a name, at most one still works.
            holders: dict[str, int] = {}
            for token, name in self.live_tokens.items():
                if qm.holds(self.model, name, token):
                    holders[name] = holders.get(name, 0) + 1
            assert all(count == 1 for count in holders.values())

        @invariant()
        def agrees(self) -> None:
            for queue in QUEUES:
                assert self.backend.queue_counts(queue, self.now, virtual=True) == qm.counts(
                    self.model, queue, self.now
                )
            for name in self.model.slots:
                assert self.backend.exists(name), f"{name} was lost"
            dead = {n for n in self.backend.scan("dlq:*")}
            assert dead == {"dlq:" + n for n in self.failed}
            assert set(self.model.dead) == self.failed

    return QueueAgreement


@pytest.mark.parametrize("kind", ["redis", "disk", "custom"])
def test_backend_agrees_with_the_queue_model(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = make_backend(kind, request, tmp_path)
    machine = machine_for(lambda: backend)
    run_state_machine_as_test(
        machine, settings=settings(max_examples=25, stateful_step_count=40, deadline=None)
    )
