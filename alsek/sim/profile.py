"""Calibration profiles: overheads measured on a real pool, kept in a file for later runs.

``python -m alsek calibrate`` runs a short probe workload on a real worker
pool and writes what it measured, per backend, to a JSON file;
``python -m alsek simulate WORKLOAD --profile FILE`` then simulates with
those overheads in place of the workload's ``[overheads]``. A profile
describes the machine and backend, not a workload, so one file serves any
number of workloads (and predictions made long after it was measured)::

    {
      "kind": "alsek-simulator-profile",
      "version": 1,
      "measured_at": "2024-05-01T12:00:00Z",
      "host": {"cpus": 2, "load_average": 0.4, ...},
      "backends": {
        "redis": {"overheads": {"claim_rtt_ms": 1, ...}, "measured": {...}},
        "disk": {"overheads": {...}, "measured": {...}}
      }
    }

``overheads`` is an ``Overheads`` table (the same keys as a workload's);
``measured`` holds the raw figures behind it, for people to read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from alsek.exceptions import ValidationError
from alsek.sim.load import overheads_from_dict
from alsek.sim.workload import Overheads, Workload

KIND = "alsek-simulator-profile"
VERSION = 1
BACKENDS = ("redis", "disk")


@attrs.frozen
class BackendProfile:
    """What was measured on one backend: the simulator's overheads, and the raw figures."""

    overheads: Overheads
    measured: dict[str, Any] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class Profile:
    """A calibration profile: overheads per backend (``"redis"``, ``"disk"``)."""

    backends: dict[str, BackendProfile] = attrs.field(hash=False)
    measured_at: str = ""
    host: dict[str, Any] = attrs.field(factory=dict, hash=False)

    def overheads(self, backend: str | None = None) -> Overheads:
        """The overheads of ``backend`` (may be omitted when the profile has only one).

        Raises:
            ValidationError: no such backend in the profile, or several and none chosen.
        """
        names = sorted(self.backends)
        if backend is None:
            if len(names) != 1:
                shown = ", ".join(names)
                raise ValidationError(f"the profile has overheads for {shown}: say which backend")
            backend = names[0]
        if backend not in self.backends:
            raise ValidationError(
                f"the profile has no overheads for backend {backend!r} "
                f"(it has: {', '.join(names) or 'none'})"
            )
        return self.backends[backend].overheads

    def apply(self, workload: Workload, backend: str | None = None) -> Workload:
        """``workload`` with the profile's overheads of ``backend`` in place of its own."""
        return attrs.evolve(workload, overheads=self.overheads(backend))

    def to_dict(self) -> dict[str, Any]:
        """The profile as plain data (what ``save_profile`` writes)."""
        return {
            "kind": KIND,
            "version": VERSION,
            "measured_at": self.measured_at,
            "host": dict(self.host),
            "backends": {
                name: {
                    "overheads": attrs.asdict(entry.overheads),
                    "measured": dict(entry.measured),
                }
                for name, entry in sorted(self.backends.items())
            },
        }


def profile_from_dict(data: Any, where: str = "profile") -> Profile:
    """Build a ``Profile`` from plain data (a parsed file), naming any bad field."""
    if not isinstance(data, dict):
        raise ValidationError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("kind") != KIND:
        raise ValidationError(f"{where}: not a simulator profile (kind is {data.get('kind')!r})")
    if data.get("version") != VERSION:
        raise ValidationError(
            f"{where}.version: {data.get('version')!r} is not supported (expected {VERSION})"
        )
    backends = data.get("backends")
    if not isinstance(backends, dict) or not backends:
        raise ValidationError(f"{where}.backends: expected a non-empty object of backends")
    parsed = {}
    for name, entry in backends.items():
        path = f"{where}.backends.{name}"
        if name not in BACKENDS:
            expected = ", ".join(BACKENDS)
            raise ValidationError(f"{path}: unknown backend (expected one of {expected})")
        if not isinstance(entry, dict) or "overheads" not in entry:
            raise ValidationError(f"{path}.overheads: missing")
        measured = entry.get("measured", {})
        if not isinstance(measured, dict):
            raise ValidationError(f"{path}.measured: expected an object")
        overheads = overheads_from_dict(entry["overheads"], f"{path}.overheads")
        parsed[name] = BackendProfile(overheads, measured)
    host = data.get("host", {})
    return Profile(parsed, str(data.get("measured_at", "")), host if isinstance(host, dict) else {})


def load_profile(path: str | Path) -> Profile:
    """Read and validate the profile in ``path`` (JSON).

    Raises:
        ValidationError: the file is missing, not JSON, or not a valid profile.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError(f"{path}: cannot read the profile ({error.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(f"{path}: not valid JSON: {error}") from None
    return profile_from_dict(data, str(path))


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write ``profile`` to ``path`` as JSON (replacing the file)."""
    text = json.dumps(profile.to_dict(), indent=2, sort_keys=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")
