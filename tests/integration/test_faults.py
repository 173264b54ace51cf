"""A worker pool under every fault class a server gives: nothing lost, no extra runs
beyond the faults, no leaked slot, no dead thread.

The state machine (``tests/support/fault_machine.py``) drives a real pool on
each backend through injected faults (``tests/support/faults.py``) and
real-server ones; the plain tests below pin the scenarios of each fault
class. ``python benchmarks/chaos.py`` runs the same at full size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import require_redis_binary
from tests.support import faults
from tests.support.fault_machine import Env, machine_for
from tests.support.fault_plan import DISK_KINDS, REDIS_KINDS
from tests.support.fault_rig import Rig
from tests.support.fault_verdict import FaultVerdict, Spec, read_ledger
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.chaos]

#: Small in CI (about a minute for both backends); FAULT_EXAMPLES / FAULT_STEPS enlarge it.
MACHINE = settings(
    max_examples=int(os.environ.get("FAULT_EXAMPLES", "2")),
    stateful_step_count=int(os.environ.get("FAULT_STEPS", "8")),
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # a shrink would rerun a real pool many times
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A redis-server of this module's own, with AOF and fsync always (it is killed)."""
    require_redis_binary()
    with RedisServer(persistent=True) as running:
        yield running


def rig(kind: str, server: RedisServer, root: Path, **options: int) -> Rig:
    where = server.url if kind == "redis" else str(root / "diskcache")
    return Rig(kind, where, root, **options).start()


def wait_for_start(current: Rig, uuid: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while uuid not in read_ledger(current.ledger):
        assert time.monotonic() < deadline, f"{uuid} did not start within {timeout}s"
        time.sleep(0.02)


def report(verdict: FaultVerdict) -> str:
    return "\n".join([*verdict.problems(), *verdict.notes, verdict.summary()])


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["redis", "disk"])
def test_pool_survives_injected_and_real_faults(
    kind: str, server: RedisServer, tmp_path: Path
) -> None:
    env = Env(kind, tmp_path, server=server)
    run_state_machine_as_test(machine_for(env), settings=MACHINE)
    assert env.verdicts, "the machine ran no example"


# -- the two scenarios that started it, on real servers ---------------------------------


def test_out_of_memory_while_a_thread_task_runs_past_its_lease(
    server: RedisServer, tmp_path: Path
) -> None:
    """Lease 1.5 s, a 4 s thread task, 1 s of ``maxmemory 1``: one run, one outcome."""
    current = rig("redis", server, tmp_path, max_threads=2, max_processes=0, lease_ms=1_500)
    try:
        [uuid] = current.submit([Spec("thread", sleep_ms=4_000)])
        wait_for_start(current, uuid)
        time.sleep(0.3)
        current.real_fault(lambda: faults.hold(faults.out_of_memory(server), 1.0))
        verdict = current.finish()
    finally:
        current.close()
    runs = read_ledger(current.ledger)[uuid]
    assert len(runs.starts) == 1 and runs.ended == 1, report(verdict)
    assert current.dead() == {}
    assert verdict.problems() == [], report(verdict)


def test_no_replicas_while_a_process_task_finishes_leaks_no_slot(
    server: RedisServer, tmp_path: Path
) -> None:
    """``max_processes=1``; a process task finishes during 1.4 s of NOREPLICAS: the pool
    then runs further process tasks, and ``stop()`` returns promptly."""
    current = rig("redis", server, tmp_path, max_threads=1, max_processes=1)
    try:
        [uuid] = current.submit([Spec("process", sleep_ms=600)])
        wait_for_start(current, uuid)
        time.sleep(0.1)
        current.real_fault(lambda: faults.hold(faults.no_replicas(server), 1.4))
        current.submit([Spec("process", sleep_ms=50) for _ in range(3)])
        verdict = current.finish()
    finally:
        current.close()
    assert verdict.problems() == [], report(verdict)


def test_a_locked_database_while_a_thread_task_runs_past_its_lease(
    server: RedisServer, tmp_path: Path
) -> None:
    """DiskCache: another connection holds ``BEGIN EXCLUSIVE`` for 1 s while a 4 s thread
    task runs with a 1.5 s lease: one run, one outcome, no dead letter."""
    current = rig("disk", server, tmp_path, max_threads=2, max_processes=0, lease_ms=1_500)
    directory = str(tmp_path / "diskcache")
    try:
        [uuid] = current.submit([Spec("thread", sleep_ms=4_000)])
        wait_for_start(current, uuid)
        time.sleep(0.3)
        current.real_fault(lambda: faults.hold(faults.locked_database(directory), 1.0))
        verdict = current.finish()
    finally:
        current.close()
    runs = read_ledger(current.ledger)[uuid]
    assert len(runs.starts) == 1 and runs.ended == 1, report(verdict)
    assert current.dead() == {}
    assert verdict.problems() == [], report(verdict)


# -- every fault class, one at a time --------------------------------------------------


def one_fault_class(current: Rig, inject: Callable[[], None]) -> None:
    """A thread task running past its lease and a process task finishing, while ``inject``
    makes every operation of the pool fail for a second."""
    long, short = current.submit([Spec("thread", sleep_ms=2_500), Spec("process", sleep_ms=400)])
    wait_for_start(current, long)
    wait_for_start(current, short)
    inject()
    time.sleep(1.2)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "fault"),
    [("redis", k) for k in REDIS_KINDS] + [("disk", k) for k in DISK_KINDS],
)
def test_one_second_of_each_injected_fault_class(
    kind: str, fault: str, server: RedisServer, tmp_path: Path
) -> None:
    current = rig(kind, server, tmp_path, max_threads=2, max_processes=1, lease_ms=1_000)
    try:
        one_fault_class(current, lambda: current.injector.fail_for(1.0, fault))
        verdict = current.finish()
    finally:
        current.close()
    assert verdict.faults > 0, "the plan injected nothing"
    assert verdict.problems() == [], report(verdict)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(faults.REAL_FAULTS))
def test_one_second_of_each_real_redis_fault(
    name: str, server: RedisServer, tmp_path: Path
) -> None:
    current = rig("redis", server, tmp_path, max_threads=2, max_processes=1, lease_ms=1_000)
    apply = faults.REAL_FAULTS[name]
    try:
        one_fault_class(current, lambda: current.real_fault(lambda: apply(server, 1.0)))
        verdict = current.finish()
    finally:
        current.close()
    assert verdict.real_faults == 1
    assert verdict.problems() == [], report(verdict)
