"""Calibration: the simulator's overheads, measured on a real worker pool.

``python -m alsek calibrate --redis URL | --disk DIR --out profile.json``
runs a short, standard probe workload (``run``) on a real pool against each
backend given and writes a profile (``alsek.sim.profile``): per backend, the
overheads the simulator needs (the claim round trip, the wake-up latency,
each slot kind's cost per task, the backend's timer tick). Every time comes
from the pool's own observer events (``recorder``); the probe tasks
(``tasks``) sleep as planned. ``simulate WORKLOAD --profile profile.json``
then predicts with those overheads, for any workload.

The probes use a queue of their own (``tasks.PROBE_QUEUE``); run them on a
backend no other pool consumes every queue of (a Redis database of its own,
another DiskCache directory), on the machine the pools will run on.
"""

from __future__ import annotations

from alsek.calibration.run import SHAPE, backend_name, calibrate_backend

__all__ = ["SHAPE", "backend_name", "calibrate_backend"]
