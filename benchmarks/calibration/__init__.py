"""Calibration: the simulator's predictions against a real worker pool.

Runs ONE workload (``benchmarks/calibration/workload.toml``) for real, on
DiskCache and on Redis, and in the simulator, and prints predicted against
measured makespan and p50/p95 latency (submit to final outcome recorded).

    python benchmarks/calibrate.py [--backend redis|disk|both] [--seed N] [--workload PATH]

Every timing of the real pool comes from its observer events
(``alsek.effects.events``: ``ClaimAnswered``, ``Claimed``,
``Finished``), collected by ``recorder.Recorder``; the pool is used as is.
For each backend, in a child process of its own (``run``), the package

1. starts a worker pool shaped like the workload's (threads, processes,
   batch, lease, consumer backoff) and warms it up until every thread and
   process slot has a live worker;
2. measures the simulator's overheads (``probe``), one message at a time
   into the idle pool: the claim round trip (claims that did not wait
   first: a process runner's own next claim, the dispatcher's after a
   freed slot), the wake latency (submit -> claim answered, less a round
   trip) and, per mechanism, the slot cost (claim answered -> outcome in
   the pool, beyond the duration: hand-off and decoding, sleep overshoot,
   the outcome's way back) and the recording (outcome in the pool ->
   recorded: an ack riding on the next claim, or a round trip of its
   own). The simulator gets them in whole ms, each path (submit -> claim
   answered, claim answered -> outcome recorded) rounded as a whole, with
   the backend's timer tick (Redis: 1000 / hz ms; a wait that runs out
   ends at the next request it serves, or on that tick);
3. simulates the workload with those overheads and takes, from the trace,
   every message's submit time and every attempt's duration and failure;
4. replays exactly those inputs for real (``replay``): a producer thread
   submits each message at its time, the task sleeps each attempt's
   duration and fails when the trace says so. An outcome counts as
   recorded when the round trip carrying it answered: for a success whose
   only effect is an ack, the claim it rode along with (the
   ``ClaimAnswered`` listing its lease token in ``acked``); otherwise its
   own round trip (``Finished``). That is when the simulator records it
   too (``alsek.sim.completion``).

Redis runs on its own redis-server on a free loopback port; DiskCache in a
temporary directory. Both are removed at the end.

Besides the table, each backend prints the overheads seen during the run
(they grow under load: two cores shared by the pool, its task processes,
the producer and the backend), the slot time left idle while ready messages
of that mechanism waited, real against simulated (``idle``), and the
latency per task kind.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WORKLOAD = Path(__file__).with_name("workload.toml")
