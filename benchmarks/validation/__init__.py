"""Out-of-sample validation of the simulator, where it matters: under backlog and load.

    python benchmarks/validate_sim.py [--profile FILE] [--backend redis|disk|both]
                                      [--seed N] [--redis URL] [--only NAME ...]

1. **One profile, measured once.** ``python -m alsek calibrate`` runs its
   standard probe workload in a process of its own, before anything else,
   on each backend (``--profile`` reuses a file measured earlier). Nothing
   is measured again: every prediction below uses that profile.
2. **Workloads unlike the probe** (``workloads/``): a saturated burst of
   5,000 thread and process tasks already queued, drained by one pool and
   by two (the makespan is bound by capacity); a steady state at 80-90%
   utilisation (the latency tail is queueing); a retry storm, 30% of
   attempts failing with backoff, with a priority mix.
3. **Predicted, then run.** For each backend and workload the simulator
   predicts the run with the profile's overheads; its inputs (when each
   message is submitted, each attempt's duration and failure, from the
   trace) are then replayed on real pools, each in a process of its own
   (``pool_main``), fed by a producer process (``produce``): the burst in
   one call, the others at their planned times.

It prints, per backend and workload, the makespan and the p50, p95 and p99
latency (submit to final outcome recorded), measured against predicted,
and ends with ``max abs error: X%``.

Redis runs on a redis-server of its own on a free loopback port (or
``--redis URL``: its database is flushed before each run); DiskCache in
temporary directories. Both are removed at the end.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = Path(__file__).with_name("workloads")
