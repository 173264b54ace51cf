"""Which dead letters a command acts on: by queue, by task, failed since a time.

``--since`` takes a duration back from now (``10m``, ``2h``, ``1d``, ``1h30m``)
or an ISO 8601 time (``2026-12-01T12:00:00Z``; one without an offset is UTC).
"""

from __future__ import annotations

import datetime as _dt
import re

import attrs

from alsek.exceptions import ValidationError
from alsek.pure.dead_letter import DeadLetterRecord
from alsek.pure.keys import parse_message_name

_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@attrs.frozen
class DeadLetterFilter:
    """Dead letters of ``queue`` and ``task`` (None: any) that failed at or after
    ``since`` (UTC ms; None: any time)."""

    queue: str | None = None
    task: str | None = None
    since: int | None = None

    @property
    def everything(self) -> bool:
        """Whether it lets every dead letter through."""
        return self.queue is None and self.task is None and self.since is None

    def admits_name(self, name: str) -> bool:
        """Whether a dead letter of the message ``name`` may match (queue and task only).

        A name that is not a message name matches only a filter on neither.
        """
        if self.queue is None and self.task is None:
            return True
        try:
            queue, task, _ = parse_message_name(name)
        except ValidationError:
            return False
        return (self.queue is None or queue == self.queue) and (
            self.task is None or task == self.task
        )

    def admits(self, record: DeadLetterRecord) -> bool:
        """Whether ``record`` matches (queue and task from its name, and its time)."""
        if self.since is not None and record.failed_at < self.since:
            return False
        return self.admits_name(record.name)


def duration_ms(text: str) -> int | None:
    """``'10m'``, ``'2h'``, ``'1d'``, ``'1h30m'``, ``'500ms'`` in ms (None: not a duration)."""
    compact = text.strip().replace(" ", "")
    if not compact or _PART.sub("", compact):
        return None
    return sum(int(n) * _UNIT_MS[unit] for n, unit in _PART.findall(compact))


def iso_ms(text: str) -> int | None:
    """An ISO 8601 time in UTC ms (no offset means UTC; None: not an ISO time)."""
    try:
        moment = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_since(text: str, now: int) -> int:
    """The UTC ms that ``text`` (a duration back from ``now``, or an ISO time) means.

    Raises:
        ValidationError: ``text`` is neither a duration nor an ISO time.
    """
    back = duration_ms(text)
    if back is not None:
        return now - back
    moment = iso_ms(text)
    if moment is not None:
        return moment
    raise ValidationError(
        f"expected a duration such as 10m, 2h or 1d, or an ISO time such as "
        f"2026-12-01T12:00:00Z; got {text!r}"
    )
