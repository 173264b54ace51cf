"""Reading a workload from a TOML or JSON file (chosen by suffix).

Hand-written structuring, so that every error names its place in the file:
``tasks[1].duration.kind: unknown distribution 'gaussian' (expected one of
...)``. Tables are checked for unknown keys (typos must not pass silently);
values are checked by the records' own validators, whose ``FieldError`` is
re-homed at the path of the table it came from.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from alsek.exceptions import ValidationError
from alsek.sim.checks import FieldError
from alsek.sim.distributions import ARRIVALS, DURATIONS, Burst
from alsek.sim.workload import Arrival, Kill, Overheads, PoolSpec, TaskKind, Workload

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

T = TypeVar("T")


def load_workload(path: str | Path) -> Workload:
    """Read and validate the workload in ``path`` (``.toml`` or ``.json``).

    Raises:
        ValidationError: the file is missing, unparsable, or names a bad field.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ValidationError(f"{path}: a workload file must end in .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValidationError(f"{path}: cannot read the workload file ({error.strerror})") from None
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ValidationError(f"{path}: not valid {suffix[1:].upper()}: {error}") from None
    return workload_from_dict(data)


def workload_from_dict(data: Any) -> Workload:
    """Build a ``Workload`` from plain data (a parsed file), naming any bad field."""
    table = _table(data, "workload")
    fields: dict[str, Any] = {}
    fields["tasks"] = _list(table.pop("tasks", None), "tasks", _task, required=True)
    fields["arrivals"] = _list(table.pop("arrivals", None), "arrivals", _arrival)
    fields["kills"] = _list(table.pop("kills", None), "kills", _kill)
    if "pool" in table:
        fields["pool"] = _record(PoolSpec, table.pop("pool"), "pool")
    if "overheads" in table:
        fields["overheads"] = overheads_from_dict(table.pop("overheads"))
    if "consumer_backoff" in table:
        fields["consumer_backoff"] = _backoff(table.pop("consumer_backoff"))
    return _record(Workload, {**table, **fields}, "")


def overheads_from_dict(data: Any, path: str = "overheads") -> Overheads:
    """An ``Overheads`` from plain data (a workload's ``[overheads]`` or a profile's),
    with every problem reported at ``path``."""
    return _record(Overheads, data, path)


def _task(data: Any, path: str) -> TaskKind:
    table = _table(data, path)
    if "duration" in table:
        duration = table["duration"]
        table["duration"] = _tagged(duration, f"{path}.duration", DURATIONS, "distribution")
    if "backoff" in table:
        table["backoff"] = _backoff(table["backoff"])
    return _record(TaskKind, table, path)


def _arrival(data: Any, path: str) -> Arrival:
    table = _table(data, path)
    if "task" not in table:
        raise ValidationError(f"{path}.task: missing (which task kind arrives)")
    task = table.pop("task")
    if table.get("kind") == "bursts" and isinstance(table.get("bursts"), list):
        table["bursts"] = [
            _record(Burst, item, f"{path}.bursts[{index}]")
            for index, item in enumerate(table["bursts"])
        ]
    pattern = _tagged(table, path, ARRIVALS, "arrival kind")
    return _record(Arrival, {"task": task, "pattern": pattern}, path)


def _kill(data: Any, path: str) -> Kill:
    return _record(Kill, data, path)


def _backoff(value: Any) -> Any:
    """``"none"``, ``false`` or ``null`` disable a backoff; anything else is settings."""
    disabled = value is None or value is False or (isinstance(value, str) and value == "none")
    return None if disabled else value


def _table(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        shown = repr(data) if len(repr(data)) <= 60 else repr(data)[:57] + "..."
        raise ValidationError(f"{path}: expected a table, got {type(data).__name__} {shown}")
    return dict(data)


def _list(data: Any, path: str, build: Callable[[Any, str], T], required: bool = False) -> list[T]:
    if data is None:
        if required:
            raise ValidationError(f"{path}: missing (at least one entry is needed)")
        return []
    if not isinstance(data, list):
        raise ValidationError(f"{path}: expected a list, got {type(data).__name__}")
    return [build(item, f"{path}[{index}]") for index, item in enumerate(data)]


def _tagged(
    data: Any,
    path: str,
    classes: Mapping[str, type[Any]],
    what: str,
) -> Any:
    table = _table(data, path)
    expected = ", ".join(repr(name) for name in sorted(classes))
    if "kind" not in table:
        raise ValidationError(f"{path}.kind: missing (expected one of {expected})")
    kind = table.pop("kind")
    if kind not in classes:
        raise ValidationError(f"{path}.kind: unknown {what} {kind!r} (expected one of {expected})")
    return _record(classes[kind], table, path, extra=("kind",))


def _record(
    cls: type[T],
    data: Any,
    path: str,
    extra: tuple[str, ...] = (),
) -> T:
    """``cls(**data)`` with unknown, missing and invalid fields reported at ``path``."""
    table = _table(data, path or "workload")
    fields = {f.name: f for f in attrs.fields(cls)}  # type: ignore[arg-type,misc]
    names = [*fields, *extra]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ValidationError(
            f"{where}{unknown[0]}: unknown field (expected one of {', '.join(sorted(names))})"
        )
    missing = [n for n, f in fields.items() if f.default is attrs.NOTHING and n not in table]
    if missing:
        where = f"{path}." if path else ""
        raise ValidationError(f"{where}{missing[0]}: missing (required)")
    try:
        return cls(**table)
    except FieldError as error:
        where = f"{path}." if path else ""
        raise ValidationError(f"{where}{error.field}: {error.problem}") from None
    except ValidationError as error:
        raise ValidationError(f"{path or 'workload'}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{path or 'workload'}: {error}") from None
