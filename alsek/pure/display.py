"""Plain-text rendering for the command line: durations, times and tables."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000))


def duration(ms: int | None) -> str:
    """A short human duration: ``'850ms'``, ``'4.2s'``, ``'5m 03s'``, ``'2h 04m'``,
    ``'3d 02h'``; ``'-'`` for None. Negative durations read as ``'in ...'``."""
    if ms is None:
        return "-"
    if ms < 0:
        return f"in {duration(-ms)}"
    if ms < 1_000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    for index, (unit, size) in enumerate(_UNITS[:-1]):
        if ms >= size:
            next_unit, next_size = _UNITS[index + 1]
            return f"{ms // size}{unit} {(ms % size) // next_size:02d}{next_unit}"
    raise AssertionError("unreachable: ms >= 60_000 matches minutes")


def timestamp(ms: int | None) -> str:
    """UTC milliseconds as ``'2026-12-01 12:58:08.123Z'`` (``'-'`` for None)."""
    if ms is None:
        return "-"
    moment = _dt.datetime(1970, 1, 1) + _dt.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}Z"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """Aligned columns: numbers to the right, text to the left, two spaces apart."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])
