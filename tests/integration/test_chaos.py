"""Fault injection: real pools, real redis-server, real kills. Small sizes; see benchmarks/chaos.py.

Every accepted message must reach an outcome (a completed run or a dead
letter): lost == 0 in every scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import chaos

pytestmark = [pytest.mark.chaos, pytest.mark.usefixtures("redis_binary_present")]


@pytest.fixture()
def redis_binary_present() -> None:
    from tests.conftest import require_redis_binary

    require_redis_binary()


def test_killing_task_processes_loses_nothing(tmp_path: Path) -> None:
    figures = chaos.kill_task_processes(tmp_path, tasks=400, sleep_ms=20, every_s=0.5)
    verdict = figures["verdict"]
    assert figures["kills"] >= 3
    assert verdict.lost == ()
    assert verdict.duplicated <= figures["kills"]


def test_killing_whole_pools_loses_nothing(tmp_path: Path) -> None:
    figures = chaos.kill_whole_pools(tmp_path, tasks=300, sleep_ms=20, rounds=3, every_s=1.5)
    assert figures["verdict"].lost == ()


def test_a_paused_worker_cannot_record_stale_outcomes(tmp_path: Path) -> None:
    figures = chaos.pause_past_lease(tmp_path, tasks=4, sleep_ms=1_500, lease_ms=1_000)
    assert figures["verdict"].lost == ()
    # Every task the paused pool held finished elsewhere; its late outcomes were refused.
    assert figures["stale_outcomes_refused"] == 4
    assert figures["remaining"] == {"ready": 0, "delayed": 0, "leased": 0}
    assert figures["results"] == 4


def test_redis_restarts_lose_no_accepted_submission(tmp_path: Path) -> None:
    figures = chaos.restart_redis(tmp_path, tasks=600, restarts=2, every_s=1.5)
    assert figures["verdict"].lost == ()
    assert figures["accepted"] == 600
    assert figures["workers_alive"]


def test_delayed_tasks_never_start_early(tmp_path: Path) -> None:
    figures = chaos.delayed_tasks(tmp_path, tasks=150, max_delay_ms=2_000)
    assert figures["verdict"].lost == ()
    assert figures["verdict"].early == ()


def test_poison_messages_are_dead_lettered_never_run(tmp_path: Path) -> None:
    figures = chaos.poison(tmp_path, good=100)
    assert figures["verdict"].lost == ()
    assert figures["dead_lettered"], figures["reasons"]
    assert figures["executed_bad"] == []
    assert figures["same_worker"]
    reasons = " ".join(figures["reasons"].values())
    assert "undecodable payload" in reasons and "unknown task 'no_such_task'" in reasons
    assert "Message.retries" in reasons


def test_sigterm_hands_back_in_flight_work_at_once(tmp_path: Path) -> None:
    figures = chaos.sigterm_with_grace(tmp_path, grace_ms=1_000, lease_ms=60_000)
    assert figures["exit_code"] == 0
    assert figures["quick_done"]
    assert figures["stopped_after_s"] < 15
    # Claimable now, not after the 60 s lease.
    assert figures["counts"] == {"ready": 2, "delayed": 0, "leased": 0}


def test_a_full_pool_does_not_hold_what_it_cannot_run(tmp_path: Path) -> None:
    figures = chaos.saturation(tmp_path, tasks=100, sleep_ms=200, pools=2, slots=2)
    assert figures["verdict"].lost == ()
    assert figures["ratio"] <= 1.25, figures
