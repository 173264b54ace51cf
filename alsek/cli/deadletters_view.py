"""How ``alsek deadletters`` shows dead letters: table rows, the ``show`` page, JSON."""

from __future__ import annotations

import json
from typing import Any

from alsek.pure import codec
from alsek.pure.dead_letter import DeadLetterRecord
from alsek.pure.display import duration, timestamp

#: Longest reason (or problem) shown in a table row; ``show`` and ``--json`` have all.
REASON_WIDTH = 100
#: Columns of ``list``, and which are numbers (right-aligned).
HEADERS = ["FAILED", "UUID", "TASK", "QUEUE", "ATTEMPTS", "REASON"]
NUMERIC = [False, False, False, False, True, False]


def one_line(text: str, width: int = REASON_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def row(record: DeadLetterRecord) -> list[str]:
    """The ``list`` table's cells for ``record`` (an unreadable one with its key)."""
    reason = (
        one_line(record.reason)
        if record.readable
        else f"UNREADABLE {record.key}: {one_line(record.problem or '')}"
    )
    return [
        timestamp(record.failed_at) if record.failed_at else "-",
        record.uuid,
        record.task_name or "?",
        record.queue or "?",
        "-" if record.attempts is None else str(record.attempts),
        reason,
    ]


def as_data(record: DeadLetterRecord) -> dict[str, Any]:
    """A record as plain data, with where it is stored (the ``--json`` form)."""
    return {
        "key": record.key,
        "uuid": record.uuid,
        "task": record.task_name,
        "queue": record.queue,
        "readable": record.readable,
        **codec.unstructure(record),
    }


def _when(failed_at: int, now: int) -> str:
    """When it failed, and how long ago (``unknown`` when the record does not say)."""
    if not failed_at:
        return "unknown"
    return f"{timestamp(failed_at)} ({duration(now - failed_at)} ago)"


def describe(record: DeadLetterRecord, now: int) -> str:
    """The ``show`` page of ``record``: where it is, what failed, and its traceback."""
    lines = [
        f"key        {record.key}",
        f"uuid       {record.uuid}",
        f"task       {record.task_name or '?'}",
        f"queue      {record.queue or '?'}",
        f"failed     {_when(record.failed_at, now)}",
        f"attempts   {'-' if record.attempts is None else record.attempts}",
        "reason     " + record.reason.rstrip().replace("\n", "\n" + " " * 11),
    ]
    if not record.readable:
        lines.append(f"problem    {record.problem} (remove it by its key)")
    if record.message is not None:
        for field in ("args", "kwargs", "retries"):
            value = json.dumps(record.message.get(field), default=repr)
            lines.append(f"{field:<10} {value}")
    if record.raw is not None:
        lines.append(f"stored     {record.raw}")
    if record.traceback:
        lines += ["traceback", record.traceback.rstrip()]
    return "\n".join(lines)
