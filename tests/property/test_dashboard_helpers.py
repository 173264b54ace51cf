"""The dashboard's pure helpers: its SVG charts, hiding task arguments, and the host,
redirect and token checks of its guard."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsek.dashboard.charts import HEIGHT, WIDTH, clip, lines, outcome_bars
from alsek.dashboard.data import ARGUMENT_FIELDS, HIDDEN, hide_arguments
from alsek.dashboard.security import Guard, host_of, is_loopback, safe_next
from tests.property.strategies import light

SVG = "{http://www.w3.org/2000/svg}"
counts = st.integers(0, 10**6)
labels = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=("Cs",)), max_size=12
)


def _inside(x: float, y: float) -> bool:
    return -0.1 <= x <= WIDTH + 0.1 and -0.1 <= y <= HEIGHT + 0.1


@light
@given(st.lists(st.tuples(counts, counts), max_size=70), labels)
def test_outcome_bars_are_valid_svg_with_one_bar_per_non_zero_count(
    minutes: list[tuple[int, int]], title: str
) -> None:
    root = ET.fromstring(outcome_bars(minutes, title))
    assert (root.find(f"{SVG}title").text or "") == title
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == sum((ok > 0) + (bad > 0) for ok, bad in minutes)
    for bar in bars:
        x, y = float(bar.get("x")), float(bar.get("y"))
        width, height = float(bar.get("width")), float(bar.get("height"))
        assert _inside(x, y) and _inside(x + width, y + height) and height >= 0
        assert bar.get("class") in ("ok", "bad")


series_points = st.lists(st.tuples(st.integers(0, 10**7), counts), max_size=40).map(sorted)


@light
@given(st.lists(st.tuples(labels, series_points), max_size=5), st.integers(0, 10**7))
def test_lines_are_valid_svg_inside_the_frame_one_per_series_with_points(
    series: list[tuple[str, list[tuple[int, int]]]], x_max: int
) -> None:
    root = ET.fromstring(lines(series, x_max, "t"))
    drawn = root.findall(f"{SVG}polyline")
    assert len(drawn) == sum(1 for _, points in series if clip(points, max(x_max, 1)))
    for line in drawn:
        for pair in line.get("points").split():
            x, y = (float(v) for v in pair.split(","))
            assert _inside(x, y)


@light
@given(series_points, st.integers(1, 10**7))
def test_clipping_keeps_points_up_to_the_edge_and_ends_there(
    points: list[tuple[int, int]], x_max: int
) -> None:
    kept = clip(points, x_max)
    before = [p for p in points if p[0] <= x_max]
    assert kept[: len(before)] == before
    assert len(kept) - len(before) in (0, 1)
    if len(kept) > len(before):
        assert kept[-1][0] == x_max


json_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
messages = st.recursive(
    st.fixed_dictionaries(
        {"task_name": st.text(max_size=5), "args": json_values, "kwargs": json_values},
        optional={"previous_result": json_values, "metadata": json_values},
    ),
    lambda inner: st.fixed_dictionaries(
        {"task_name": st.text(max_size=5), "args": json_values},
        optional={"callback_message_data": inner},
    ),
    max_leaves=4,
)


def _arguments_left(data: Any) -> list[Any]:
    if not isinstance(data, dict):
        return []
    found = [data[k] for k in ARGUMENT_FIELDS if data.get(k) not in (HIDDEN, None, {}, [])]
    return found + _arguments_left(data.get("callback_message_data"))


@light
@given(messages)
def test_hiding_arguments_hides_them_at_every_depth_and_nothing_else(data: dict[str, Any]) -> None:
    hidden = hide_arguments(data)
    assert _arguments_left(hidden) == []
    assert hidden.keys() == data.keys()
    for key, value in data.items():
        if key not in (*ARGUMENT_FIELDS, "callback_message_data") or value in (None, {}, []):
            assert hidden[key] == value
    assert hide_arguments(None) is None


@light
@given(st.sampled_from(["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST",
                        "app.localhost"]))  # fmt: skip
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback(host)


@light
@given(st.sampled_from(["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "example.com",
                        "localhost.example.com", "", "127.0.0.1.nip.io"]))  # fmt: skip
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("header", "host"),
    [("127.0.0.1:8000", "127.0.0.1"), ("[::1]:8000", "::1"), ("[::1]", "::1"),
     ("localhost", "localhost"), ("evil.example:80", "evil.example")],
)  # fmt: skip
def test_the_host_header_s_host(header: str, host: str) -> None:
    assert host_of(header) == host


@light
@given(st.text(max_size=20))
def test_after_logging_in_a_reader_only_goes_to_a_path_on_this_site(target: str) -> None:
    path = safe_next(target)
    assert path.startswith("/") and not path.startswith("//") and "\\" not in path
    assert path == target or path == "/"


@light
@given(st.text(min_size=1, max_size=20).filter(str.strip), st.text(max_size=20))
def test_only_the_token_opens_the_dashboard(token: str, offered: str) -> None:
    guard = Guard(token)
    assert guard.token_matches(token) and guard.token_matches(offered) == (offered == token)
    cookie = {"alsek_session": guard.session_value()}
    assert guard.authorized({}, cookie)
    assert guard.authorized({"authorization": f"Bearer {token.strip()}"}, {}) == (
        token == token.strip()
    )
    if offered.strip() != token:
        assert not guard.authorized({"authorization": f"Bearer {offered}"}, {"alsek_session": "x"})
    assert guard.session_value() != token and len(guard.session_value()) == 64  # a digest
    assert guard.csrf_ok(guard.csrf) and not guard.csrf_ok(None)
    assert not guard.csrf_ok(Guard(token).csrf)  # each dashboard run has its own


def test_an_empty_token_is_refused_and_no_token_opens_everything() -> None:
    with pytest.raises(ValueError, match="empty"):
        Guard(" ")
    assert Guard(None).authorized({}, {})
