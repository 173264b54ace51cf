"""A Hypothesis state machine driving a real worker pool under injected and real faults.

Rules submit batches of tasks (thread and process; quick, past the lease,
failing then retrying, failing for good, keeping results, with callbacks),
add fault plans to the faulting backend, hold a real-server fault, and let
time pass. ``teardown`` stops the faults and judges the run (``Rig.finish``).
``machine_for(env)`` builds the machine for one backend; the CI test runs it
small and strict, ``benchmarks/chaos.py`` large, collecting the verdicts.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from tests.support import faults
from tests.support.fault_plan import DISK_KINDS, GROUPS, LOSABLE, REDIS_KINDS
from tests.support.fault_rig import Rig
from tests.support.fault_tasks import MAX_RETRIES
from tests.support.fault_verdict import FaultVerdict, Spec
from tests.support.redis_server import RedisServer

#: Most task time (ms, per slot) one example may submit, so that it can settle.
BUDGET_MS = 5_000
MAX_MESSAGES = 24


@attrs.define
class Env:
    """Where a machine runs: the backend kind, its server or directory root, the pool size."""

    kind: str
    root: Path
    server: RedisServer | None = None
    max_threads: int = 3
    max_processes: int = 2
    lease_ms: int = 1_500
    strict: bool = True
    settle_s: float = 20
    verdicts: list[FaultVerdict] = attrs.field(factory=list)
    counter: Any = attrs.field(factory=itertools.count)

    def rig(self) -> Rig:
        number = next(self.counter)
        root = self.root / f"example-{number}"
        if self.kind == "redis":
            assert self.server is not None
            where = self.server.url
        else:
            where = str(root / "diskcache")
        return Rig(
            self.kind,
            where,
            root,
            max_threads=self.max_threads,
            max_processes=self.max_processes,
            lease_ms=self.lease_ms,
        )


@attrs.frozen
class Plan:
    """A fault plan as Hypothesis shows it: calls to fail, or a window in seconds."""

    kind: str
    group: str
    calls: tuple[int, ...] = ()
    seconds: float = 0.0
    applied: bool = False


specs = st.builds(
    Spec,
    mechanism=st.sampled_from(["thread", "process"]),
    sleep_ms=st.sampled_from([0, 0, 50, 300, 2_500]),
    fail_times=st.sampled_from([0, 0, 0, 1, MAX_RETRIES + 1]),
    result=st.booleans(),
    callback=st.booleans(),
)


def plans(kinds: tuple[str, ...]) -> st.SearchStrategy[Plan]:
    calls = st.builds(
        Plan,
        kind=st.sampled_from(kinds),
        group=st.sampled_from(sorted(GROUPS)),
        calls=st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True).map(
            lambda xs: tuple(sorted(xs))
        ),
        applied=st.booleans(),
    )
    window = st.builds(
        Plan,
        kind=st.sampled_from(kinds),
        group=st.sampled_from(sorted(GROUPS)),
        seconds=st.sampled_from([0.1, 0.3, 0.8, 1.5]),
        applied=st.booleans(),
    )
    return st.one_of(calls, window).map(
        lambda p: attrs.evolve(p, applied=p.applied and p.kind in LOSABLE)
    )


def _cost(spec: Spec) -> int:
    return (min(spec.fail_times, MAX_RETRIES) + 1) * (spec.sleep_ms + 100)


def real_faults(env: Env) -> dict[str, Callable[[float], None]]:
    """The real-server faults for ``env``: name -> hold it for so many seconds."""
    if env.kind == "redis":
        server = env.server
        assert server is not None
        return {
            name: (lambda seconds, apply=apply: apply(server, seconds))
            for name, apply in faults.REAL_FAULTS.items()
        }
    return {}


def machine_for(env: Env) -> type[RuleBasedStateMachine]:
    """The state machine class for ``env``."""
    kinds = REDIS_KINDS if env.kind == "redis" else DISK_KINDS
    redis_real = sorted(faults.REAL_FAULTS) if env.kind == "redis" else ["locked_database"]

    class PoolUnderFaults(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.rig = env.rig().start()
            self.load_ms = {"thread": 0, "process": 0}
            self.steps: list[str] = []

        @initialize(batch=st.lists(specs, min_size=2, max_size=5), plan=plans(kinds))
        def begin(self, batch: list[Spec], plan: Plan) -> None:
            self.submit(batch)
            self.inject(plan)

        @precondition(lambda self: len(self.rig.sent) < MAX_MESSAGES)
        @rule(batch=st.lists(specs, min_size=1, max_size=5))
        def submit(self, batch: list[Spec]) -> None:
            slots = {"thread": env.max_threads, "process": env.max_processes}
            accepted = []
            for spec in batch:
                cost = _cost(spec) // max(slots[spec.mechanism], 1)
                if slots[spec.mechanism] and self.load_ms[spec.mechanism] + cost <= BUDGET_MS:
                    self.load_ms[spec.mechanism] += cost
                    accepted.append(spec)
            self.rig.submit(accepted)
            self.steps.append(f"submit {accepted}")

        @rule(plan=plans(kinds))
        def inject(self, plan: Plan) -> None:
            self.steps.append(f"inject {plan}")
            if plan.calls:
                self.rig.injector.fail_calls(plan.kind, plan.group, plan.calls, plan.applied)
            else:
                self.rig.injector.fail_for(plan.seconds, plan.kind, plan.group, plan.applied)

        @rule(name=st.sampled_from(redis_real), seconds=st.sampled_from([0.3, 0.8, 1.4]))
        def real_fault(self, name: str, seconds: float) -> None:
            self.steps.append(f"real fault {name} for {seconds}s")
            if env.kind == "redis":
                apply = real_faults(env)[name]
                self.rig.real_fault(lambda: apply(seconds))
            else:
                directory = self.rig.producer.backend.directory  # type: ignore[attr-defined]
                self.rig.real_fault(
                    lambda: faults.hold(faults.locked_database(directory), seconds)
                )

        @rule(seconds=st.sampled_from([0.1, 0.5, 1.0]))
        def advance(self, seconds: float) -> None:
            self.steps.append(f"advance {seconds}s")
            time.sleep(seconds)

        def teardown(self) -> None:
            try:
                verdict = self.rig.finish(settle_s=env.settle_s)
            finally:
                self.rig.close()
            verdict = attrs.evolve(verdict, notes=(*verdict.notes, *self.steps))
            env.verdicts.append(verdict)
            if env.strict:
                problems = verdict.problems()
                assert not problems, "\n".join([*problems, *verdict.notes, verdict.summary()])

    PoolUnderFaults.__name__ = f"PoolUnderFaults_{env.kind}"
    return PoolUnderFaults
