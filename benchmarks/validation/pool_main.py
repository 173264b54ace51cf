"""One real worker pool of a validation run, in a process of its own.

    python -m benchmarks.validation.pool_main --index N --out FILE

The environment names the workload and the backend, as for
``benchmarks.calibration.tasks``. The pool is shaped like the workload's
(slots, batch, lease, consumer backoff); it also consumes a queue of its
own, ``warm-N``, last, where it warms every slot up (so every thread and
task process exists before the run, as the simulator assumes). Then it
prints ``ready``, runs until a line (or the end) on its stdin, stops, and
writes what its ``Recorder`` saw to FILE as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from alsek.calibration.probe import warm_up
from alsek.calibration.recorder import Recorder
from alsek.core.worker import WorkerPool
from alsek.pure.backoff import backoff_from_settings


def main() -> None:
    """Run one pool until told to stop, then write its events."""
    parser = argparse.ArgumentParser(prog="pool_main")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # planned failures are not news
    module = importlib.import_module("benchmarks.calibration.tasks")
    workload = module.WORKLOAD
    spec = workload.pool
    recorder = Recorder()
    warm_queue = f"warm-{args.index}"
    pool = WorkerPool(
        list(module.TASKS.values()),
        queues=[*workload.queue_order, warm_queue],
        max_threads=spec.max_threads,
        max_processes=spec.max_processes,
        max_async=spec.max_async,
        backoff=backoff_from_settings(workload.consumer_backoff),
        lease_ms=workload.lease_ms,
        batch=spec.batch,
        idle_ms=3_600_000,  # no worker retires mid-run (the simulator keeps them all)
        observers=[recorder],
    )
    pool.start()
    try:
        kinds = {kind.slot_kind: module.TASKS[kind.name] for kind in reversed(workload.tasks)}
        slots = {kind: spec.capacity.limit(kind) for kind in kinds}
        warm_up(slots, kinds, recorder, warm_queue)
        print("ready", flush=True)
        sys.stdin.readline()
    finally:
        pool.stop(grace_ms=5_000, timeout=60)
    args.out.write_text(json.dumps(recorder.dump()), encoding="utf-8")


if __name__ == "__main__":
    main()
