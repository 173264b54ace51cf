"""One state machine for worker pools, with two drivers: the pure policy, and a real pool.

The machine submits tasks of a few kinds (thread/process/coroutine on the
pool's event loop, succeeding, failing, crashing, timing out, slow), lets
the pool run, stops it, and checks what a user relies on:

* slots are never negative or over their maximum;
* every claimed delivery ends in exactly one of: recorded (acked, retried
  or dead-lettered), released (refused, let go, handed back);
* no ack is lost at shutdown: a success is never left in the queue;
* every submitted message ends acked, dead-lettered, or back in its queue.

``PureDriver`` (tests/property) carries out ``alsek.pure.pool`` and
``alsek.pure.lifecycle`` step by step, with Hypothesis choosing which
event happens next; ``RealDriver`` (tests/integration) runs a real
``WorkerPool`` on Redis or DiskCache.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

#: Task kinds: (slot kind, what a run does).
KINDS: dict[str, tuple[str, str]] = {
    "thread_ok": ("thread", "ok"),
    "process_ok": ("process", "ok"),
    "thread_fail": ("thread", "fail"),
    "process_crash": ("process", "crash"),
    "thread_timeout": ("thread", "timeout"),
    "thread_slow": ("thread", "slow"),
    "process_slow": ("process", "slow"),
    "async_ok": ("async", "ok"),
    "async_fail": ("async", "fail"),
    "async_timeout": ("async", "timeout"),
    "async_slow": ("async", "slow"),
}
#: Final states of a message.
ACKED, DEAD, QUEUED = "acked", "dead", "queued"


class Driver:
    """What the machine needs of a pool under test."""

    def submit(self, kind: str) -> str:
        """Submit one task of ``kind``; returns its message uuid."""
        raise NotImplementedError

    def run(self, data: st.DataObject, steps: int) -> None:
        """Let the pool work for a while (``steps`` events, or a short time)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the pool (grace period, then hand-back)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Run until every submitted message is settled, then stop."""
        raise NotImplementedError

    def drain(self) -> None:
        """The stopped pool's drain: flush acks, hand back what still runs."""
        raise NotImplementedError

    def load(self) -> dict[str, tuple[int, int]]:
        """Per slot kind (thread, process, async): (in use, maximum)."""
        raise NotImplementedError

    def deliveries(self) -> dict[str, list[str]]:
        """Per claimed delivery (by lease token), how it ended (``recorded``/``released``)."""
        raise NotImplementedError

    def final(self, uuid: str) -> str:
        """Where message ``uuid`` ended: ACKED, DEAD or QUEUED."""
        raise NotImplementedError

    def succeeded(self) -> set[str]:
        """Messages with a recorded success."""
        raise NotImplementedError

    def abandoned(self) -> set[str]:
        """Messages with a delivery the pool let go (an internal error): their crash-loop
        count grows, so they may end dead-lettered even if the task would succeed."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the driver holds."""


class PoolMachine(RuleBasedStateMachine):
    """Submit, run, stop; check slots, deliveries and final states."""

    def __init__(self) -> None:
        super().__init__()
        self.driver = self.make_driver()
        self.submitted: dict[str, str] = {}
        self.stopped = False

    def make_driver(self) -> Driver:
        raise NotImplementedError

    @rule(kind=st.sampled_from(sorted(KINDS)), count=st.integers(1, 3))
    def submit(self, kind: str, count: int) -> None:
        for _ in range(count):
            self.submitted[self.driver.submit(kind)] = kind

    @rule(data=st.data(), steps=st.integers(1, 30))
    def run(self, data: st.DataObject, steps: int) -> None:
        self.driver.run(data, steps)

    @precondition(lambda self: not self.stopped and len(self.submitted) > 0)
    @rule()
    def stop(self) -> None:
        self.driver.stop()
        self.stopped = True

    @invariant()
    def slots_stay_within_capacity(self) -> None:
        for kind, (used, most) in self.driver.load().items():
            assert 0 <= used <= most, (kind, used, most)

    def teardown(self) -> None:
        try:
            if self.submitted:
                self.check_settled()
        finally:
            self.driver.close()

    def check_settled(self) -> None:
        if self.stopped:
            self.driver.drain()
        else:
            self.driver.finish()
        for token, ends in self.driver.deliveries().items():
            assert len(ends) == 1, f"delivery {token} ended {ends}"
        succeeded = self.driver.succeeded()
        for uuid, kind in self.submitted.items():
            where = self.driver.final(uuid)
            assert where in (ACKED, DEAD, QUEUED), (uuid, kind, where)
            if uuid in succeeded:
                assert where == ACKED, f"{kind} {uuid} succeeded but is {where}: an ack was lost"
            if not self.stopped:
                expected = ACKED if KINDS[kind][1] in ("ok", "slow") else DEAD
                if uuid in self.driver.abandoned():
                    assert where in (ACKED, DEAD), (uuid, kind, where)
                else:
                    assert where == expected, (uuid, kind, where)


def any_of(data: Any, options: list[Any], label: str) -> Any:
    """One of ``options``, chosen by Hypothesis."""
    return data.draw(st.sampled_from(options), label=label)
