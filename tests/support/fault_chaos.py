"""Full-size fault-injection runs of a worker pool, for ``benchmarks/chaos.py``.

* ``fault_machine``: the CI state machine (``fault_machine.py``), many more
  examples and steps, every verdict collected instead of the first failure.
* ``random_faults``: thousands of tasks of every kind while faults of every
  class are injected at random into the pool's backend.
* ``real_faults``: tasks while each real-server fault is applied in turn,
  several times.

Each returns its figures; the pool's log goes to ``pool.log`` under ``root``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.support import faults
from tests.support.fault_machine import Env, machine_for
from tests.support.fault_plan import GROUPS, LOSABLE
from tests.support.fault_rig import Rig
from tests.support.fault_verdict import FaultVerdict, Spec
from tests.support.redis_server import RedisServer


@contextmanager
def logged(root: Path) -> Iterator[None]:
    """Send the pool's log to ``root/pool.log`` instead of the terminal."""
    handler = logging.FileHandler(root / "pool.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(name)s %(message)s"))
    loggers = [logging.getLogger("alsek"), logging.getLogger("tests.faults")]
    for each in loggers:
        each.addHandler(handler)
        each.propagate = False
    try:
        yield
    finally:
        for each in loggers:
            each.removeHandler(handler)
            each.propagate = True
        handler.close()


@contextmanager
def place(kind: str, root: Path) -> Iterator[tuple[str, RedisServer | None]]:
    """Where a run's store lives: its own persistent redis-server, or a directory."""
    root.mkdir(parents=True, exist_ok=True)
    if kind == "disk":
        yield str(root / "diskcache"), None
        return
    with RedisServer(persistent=True) as server:
        yield server.url, server


def total(verdicts: list[FaultVerdict]) -> FaultVerdict:
    """One verdict adding up several runs' figures."""
    return FaultVerdict(
        messages=sum(v.messages for v in verdicts),
        faults=sum(v.faults for v in verdicts),
        real_faults=sum(v.real_faults for v in verdicts),
        lost=tuple(u for v in verdicts for u in v.lost),
        doubled=tuple(u for v in verdicts for u in v.doubled),
        wrongly_dead=tuple(u for v in verdicts for u in v.wrongly_dead),
        excess=tuple(e for v in verdicts for e in v.excess),
        missing_results=tuple(u for v in verdicts for u in v.missing_results),
        orphan_callbacks=tuple(u for v in verdicts for u in v.orphan_callbacks),
        leaked_slots=sum(v.leaked_slots for v in verdicts),
        dead_threads=tuple(t for v in verdicts for t in v.dead_threads),
        stop_s=max((v.stop_s for v in verdicts), default=0.0),
        stop_limit_s=max((v.stop_limit_s for v in verdicts), default=0.0),
    )


def fault_machine(root: Path, kind: str, examples: int = 10, steps: int = 12) -> dict[str, Any]:
    """The state machine at full size; figures summed over its examples."""
    with place(kind, root) as (_, server), logged(root):
        env = Env(kind, root, server=server, strict=False, settle_s=45)
        run_state_machine_as_test(
            machine_for(env),
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )
    failing = [v for v in env.verdicts if v.problems()]
    return {
        "verdict": total(env.verdicts),
        "examples": len(env.verdicts),
        "failing_examples": len(failing),
        "first_problems": [*failing[0].problems(), *failing[0].notes] if failing else [],
    }


def mix(rng: random.Random, count: int) -> list[Spec]:
    """``count`` tasks: mostly quick, some past the lease, some failing, some with results
    or callbacks; about 60% threads."""
    specs = []
    for _ in range(count):
        specs.append(
            Spec(
                "thread" if rng.random() < 0.6 else "process",
                sleep_ms=3_000 if rng.random() < 0.004 else rng.choice([0, 0, 2, 10]),
                fail_times=rng.choices([0, 1, 3], weights=[93, 5, 2])[0],
                result=rng.random() < 0.3,
                callback=rng.random() < 0.1,
            )
        )
    return specs


def random_plan(rng: random.Random, injector: faults.FaultInjector) -> None:
    """Add one random rule: a few calls or a short window, any kind, any operations."""
    kind = rng.choice(injector.kinds)
    group = rng.choice(sorted(GROUPS))
    applied = kind in LOSABLE and rng.random() < 0.5
    if rng.random() < 0.5:
        injector.fail_calls(kind, group, rng.sample(range(1, 8), rng.randint(1, 3)), applied)
    else:
        injector.fail_for(rng.choice([0.05, 0.2, 0.5, 1.0]), kind, group, applied)


def random_faults(
    root: Path, kind: str, tasks: int = 5_000, every_s: float = 0.2, seed: int = 11
) -> dict[str, Any]:
    """``tasks`` tasks submitted in batches while random faults are injected throughout."""
    rng = random.Random(seed)
    with place(kind, root) as (where, _), logged(root):
        rig = Rig(kind, where, root, max_threads=8, max_processes=2, lease_ms=2_000).start()
        try:
            done = threading.Event()

            def monkey() -> None:
                while not done.wait(every_s):
                    random_plan(rng, rig.injector)

            injecting = threading.Thread(target=monkey, daemon=True)
            injecting.start()
            specs = mix(random.Random(seed + 1), tasks)
            for start in range(0, tasks, 250):
                rig.submit(specs[start : start + 250])
                time.sleep(0.5)
            rig.settle(120)  # faults go on until the work is done (or stalls)
            done.set()
            injecting.join()
            verdict = rig.finish(settle_s=180, width_timeout_s=30, stall_s=25)
        finally:
            rig.close()
    return {"verdict": verdict, "by_kind": rig.injector.by_kind()}


def real_faults(
    root: Path, kind: str, tasks: int = 2_000, rounds: int = 3, hold_s: float = 1.0
) -> dict[str, Any]:
    """Tasks while every real-server fault of the backend is applied ``rounds`` times."""
    rng = random.Random(5)
    with place(kind, root) as (where, server), logged(root):
        rig = Rig(kind, where, root, max_threads=6, max_processes=2, lease_ms=1_500).start()
        try:
            if server is not None:
                names = sorted(faults.REAL_FAULTS)
                order = [n for _ in range(rounds) for n in names]
            else:
                order = ["locked_database"] * (rounds * 3)
            specs = mix(rng, tasks)
            batch = max(len(specs) // len(order), 1)
            for number, name in enumerate(order):
                rig.submit(specs[number * batch : (number + 1) * batch])
                time.sleep(0.5)
                if server is not None:
                    apply = faults.REAL_FAULTS[name]
                    rig.real_fault(lambda apply=apply: apply(server, hold_s))  # type: ignore[misc]
                else:
                    rig.real_fault(
                        lambda: faults.hold(faults.locked_database(where), hold_s)
                    )
                time.sleep(0.5)
            rig.submit(specs[len(order) * batch :])
            verdict = rig.finish(settle_s=180, width_timeout_s=30, stall_s=25)
        finally:
            rig.close()
    return {"verdict": verdict, "faults_applied": len(order)}
