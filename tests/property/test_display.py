"""Command-line rendering: durations read back to their magnitude, tables align."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from alsek.pure.display import duration, table, timestamp
from tests.property.strategies import light

UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def read_back(text: str) -> tuple[float, float]:
    """The range of durations (ms) a rendering stands for."""
    parts = re.findall(r"([0-9.]+)(ms|s|m|h|d)", text)
    low = sum(float(number) * UNIT_MS[unit] for number, unit in parts)
    smallest = UNIT_MS[parts[-1][1]] * (0.1 if "." in parts[-1][0] else 1)
    return low - smallest / 2, low + smallest


@light
@given(st.integers(0, 10**11))
def test_a_duration_reads_back_to_within_its_last_unit(ms: int) -> None:
    text = duration(ms)
    low, high = read_back(text)
    assert low <= ms <= high, (ms, text)
    assert len(text) <= 8 or ms >= 1_000 * 86_400_000  # past 1000 days, the days grow


@light
@given(st.integers(1, 10**11))
def test_negative_durations_are_in_the_future(ms: int) -> None:
    assert duration(-ms) == f"in {duration(ms)}"


@light
@given(st.integers(0, 253_402_300_799_999))
def test_timestamps_are_utc_with_milliseconds(ms: int) -> None:
    text = timestamp(ms)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z", text)
    assert text.endswith(f"{ms % 1000:03d}Z")


cells = st.text(alphabet="abc xyz0123", min_size=0, max_size=8)


@light
@given(
    st.integers(1, 4).flatmap(
        lambda n: st.tuples(
            st.lists(cells, min_size=n, max_size=n),
            st.lists(st.lists(cells, min_size=n, max_size=n), max_size=5),
            st.lists(st.booleans(), min_size=n, max_size=n),
        )
    )
)
def test_tables_keep_every_cell_in_its_column(
    case: tuple[list[str], list[list[str]], list[bool]],
) -> None:
    headers, rows, numeric = case
    lines = table(headers, rows, numeric).split("\n")
    assert len(lines) == 1 + len(rows)
    widths = [max(len(c) for c in column) for column in zip(headers, *rows, strict=True)]
    for line, cells_ in zip(lines, [headers, *rows], strict=True):
        position = 0
        for cell, width, right in zip(cells_, widths, numeric, strict=True):
            chunk = line[position : position + width].ljust(width)
            assert chunk == (cell.rjust(width) if right else cell.ljust(width))
            position += width + 2
