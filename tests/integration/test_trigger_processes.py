"""Three scheduler processes, started at different times, run the same interval trigger:
every tick becomes exactly one message, on Redis and on DiskCache, with and without jitter."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alsek.effects.scheduler import tick_uuid
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend
from tests.support.harness import base_env

SCHEDULER = """
import json, os, sys, time
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from alsek.core import Broker, task
from alsek.storage.backends.disk import DiskCacheBackend
from alsek.storage.backends.redis import RedisBackend

kind, where, go, out, jitter = sys.argv[1:]
attempts = []


class Recording(Broker):
    def submit(self, message):
        try:
            super().submit(message)
        except KeyError:
            attempts.append([message.created_at, False])
            raise
        attempts.append([message.created_at, True])
        return message


backend = RedisBackend(where) if kind == "redis" else DiskCacheBackend(where)
trigger = IntervalTrigger(seconds=1, jitter=float(jitter) if jitter != "-" else None)
# Late fires still run (no misfire window), so a loaded machine cannot drop a tick.
scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None})


@task(Recording(backend), name="tp_tick", queue="tp", trigger=trigger, scheduler=scheduler)
def tp_tick() -> None:
    return None


# Ready (imports done, which a loaded machine can make slow): wait for the go, which
# carries the shared deadline (written whole, then renamed into place).
open(out + ".ready", "w").close()
limit = time.time() + 120
while not os.path.exists(go):
    if time.time() > limit:
        sys.exit("no go within 120 s")
    time.sleep(0.01)
deadline = float(open(go).read())
tp_tick.generate()
started = time.time()
while time.time() < deadline:
    time.sleep(0.02)
tp_tick.shutdown()
with open(out, "w") as handle:
    json.dump({"started": started, "attempts": attempts}, handle)
"""


@pytest.mark.parametrize(
    ("kind", "jitter"), [("redis", None), ("disk", None), ("disk", 0.4)], ids=str
)
def test_three_schedulers_submit_one_message_per_tick(
    kind: str, jitter: float | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = request.getfixturevalue("redis_url") if kind == "redis" else str(tmp_path / "dc")
    script = tmp_path / "scheduler.py"
    script.write_text(SCHEDULER)
    processes, outputs, gos = [], [], []
    for i in range(3):
        outputs.append(tmp_path / f"out-{i}.json")
        gos.append(tmp_path / f"go-{i}")
        args = [kind, where, str(gos[-1]), str(outputs[-1]), "-" if jitter is None else str(jitter)]
        processes.append(
            subprocess.Popen([sys.executable, str(script), *args], env=base_env(), cwd=tmp_path)
        )
    # Start the schedulers' clocks only once all three have imported what they need.
    limit = time.monotonic() + 120
    while not all(Path(f"{out}.ready").exists() for out in outputs):
        assert time.monotonic() < limit, "the scheduler processes did not start within 120 s"
        assert all(p.poll() is None for p in processes), "a scheduler process exited early"
        time.sleep(0.02)
    deadline = math.floor(time.time()) + 4.5  # between two ticks: no race at the end
    for go, pause in zip(gos, (0.0, 0.3, 0.4), strict=True):  # go at about 0, 0.3 and 0.7 s
        time.sleep(pause)
        staged = go.with_suffix(".tmp")
        staged.write_text(str(deadline))
        staged.rename(go)
    for process in processes:
        assert process.wait(timeout=deadline - time.time() + 60) == 0
    reports = [json.loads(out.read_text()) for out in outputs]

    backend = RedisBackend(where) if kind == "redis" else DiskCacheBackend(where)
    messages = [backend.get(name) for name in backend.scan("queues:tp:*")]
    ticks = sorted(m["created_at"] for m in messages)

    # One message per tick, each on the shared one-second grid, named by its tick.
    assert ticks and all(t % 1000 == 0 for t in ticks)
    assert ticks == list(range(ticks[0], ticks[-1] + 1000, 1000))
    assert {m["uuid"] for m in messages} == {tick_uuid("tp_tick", t) for t in ticks}
    assert ticks[-1] < deadline * 1000
    # Every scheduler fired every tick of its own run, and they overlapped: the
    # backend refused all but the first submission of each tick.
    fired = [sorted(a[0] for a in report["attempts"]) for report in reports]
    for own in fired:
        assert own and own == list(range(own[0], own[-1] + 1000, 1000))
        assert own[0] >= math.floor(min(r["started"] for r in reports)) * 1000 - 1000
    assert set.intersection(*(set(own) for own in fired))
    assert set().union(*fired) == set(ticks)
    accepted = [a[0] for report in reports for a in report["attempts"] if a[1]]
    assert sorted(accepted) == ticks
    assert sum(len(own) for own in fired) > len(ticks)
