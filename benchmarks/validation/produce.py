"""The producer of a validation run, in a process of its own.

    python -m benchmarks.validation.produce --plan PLAN.json --out OUT.json --timeout S

The environment names the workload and the backend, as for
``benchmarks.calibration.tasks``. PLAN holds the simulated run's messages
(``replay.Planned``: key, task, submit time, each attempt's duration and
failure) and how to submit them:

* ``burst``: every message at once, stamped with the moment the first is
  sent: in ``submit_many`` calls of ``CHUNK`` (DiskCache: a transaction each;
  Redis: a pipeline each), so the first are queued within milliseconds and
  all of them long before the pools could have taken them (one call of
  5,000 spends a second encoding before the backend sees the first);
* ``replay``: each at its planned time, from the moment the plan starts.

Then it waits until the workload's queues are empty (every message acked
or dead-lettered) and writes the submit stamps (``time.monotonic``
seconds, the clock of the pools' events) to OUT.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from alsek.calibration.recorder import Recorder
from benchmarks.calibration.replay import Planned, produce

POLL_S = 0.1
CHUNK = 250


def submit_burst(plan: list[Planned], tasks: dict[str, Any], recorder: Recorder) -> None:
    """Every message of ``plan`` at once, all counted as submitted when the first is sent."""
    messages = [
        tasks[item.task].generate(args=(item.key, [list(s) for s in item.attempts]), submit=False)
        for item in plan
    ]
    broker = next(iter(tasks.values())).broker
    at = time.monotonic()
    for start in range(0, len(messages), CHUNK):
        broker.submit_many(messages[start : start + CHUNK])
    for item, message in zip(plan, messages, strict=True):
        recorder.submit(item.key, message.uuid, at)


def drained(broker: Any, queues: list[str]) -> bool:
    """Whether nothing is left in ``queues``: nothing ready, delayed or leased."""
    now = broker.clock.now()
    return all(not any(broker.backend.queue_counts(q, now).values()) for q in queues)


def main() -> None:
    """Submit the plan, wait for the queues to drain, write the stamps."""
    parser = argparse.ArgumentParser(prog="produce")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    module = importlib.import_module("benchmarks.calibration.tasks")
    data = json.loads(args.plan.read_text(encoding="utf-8"))
    plan = [
        Planned(key, task, at_ms, tuple((int(d), bool(f)) for d, f in attempts))
        for key, task, at_ms, attempts in data["items"]
    ]
    recorder = Recorder()
    started = time.monotonic()
    if data["mode"] == "burst":
        submit_burst(plan, module.TASKS, recorder)
    else:
        produce(plan, module.TASKS, recorder, time.monotonic() + 0.2)
    broker = module.broker
    queues = list(module.WORKLOAD.queue_order)
    deadline = started + args.timeout
    while not (finished := drained(broker, queues)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    stamps = {"submitted": recorder.submitted, "finished": finished}
    args.out.write_text(json.dumps(stamps), encoding="utf-8")


if __name__ == "__main__":
    main()
