"""Inline SVG charts, drawn on the server: no script and nothing loaded from elsewhere.

Colours and fonts come from the stylesheet through class names (the
Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 30


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^n that is >= ``value`` (1 for nothing)."""
    if value <= 1:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _frame(y_max: float, x_left: str, x_right: str, title: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y:.1f}"/>')  # fmt: skip
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(_label(y_max * fraction))}</text>")  # fmt: skip
    parts.append(f'<text class="axis" x="{LEFT}" y="{HEIGHT - 8}">{escape(x_left)}</text>')
    parts.append(f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" '
                 f'text-anchor="end">{escape(x_right)}</text>')  # fmt: skip
    return parts


def outcome_bars(minutes: Sequence[tuple[int, int]], title: str) -> str:
    """Stacked bars, one per minute, oldest first: successes (class ``ok``) under
    failures (class ``bad``)."""
    count = max(len(minutes), 1)
    y_max = _nice_ceiling(max((ok + bad for ok, bad in minutes), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / count
    parts = _frame(y_max, f"{len(minutes)} min ago", "now", title)
    for index, (ok, bad) in enumerate(minutes):
        x = LEFT + index * slot + slot * 0.1
        base = float(TOP + plot_h)
        for value, kind in ((ok, "ok"), (bad, "bad")):
            if value <= 0:
                continue
            height = plot_h * value / y_max
            base -= height
            parts.append(
                f'<rect class="{kind}" x="{x:.1f}" y="{base:.1f}" width="{slot * 0.8:.1f}" '
                f'height="{height:.1f}"><title>{value} {kind_name(kind)}</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def kind_name(kind: str) -> str:
    """What a bar class counts."""
    return "succeeded" if kind == "ok" else "failed"


def lines(
    series: Sequence[tuple[str, Sequence[tuple[int, int]]]], x_max: int, title: str
) -> str:
    """One polyline per named series of ``(ms, value)`` points (time ascending),
    clipped at ``x_max`` ms, with a legend; series ``i`` gets the class ``series-i``."""
    x_max = max(x_max, 1)
    clipped = [(name, clip(points, x_max)) for name, points in series]
    y_max = _nice_ceiling(max((v for _, points in clipped for _, v in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(y_max, "0", f"{_minutes(x_max)}", title)
    for index, (name, shown) in enumerate(clipped):
        if not shown:
            continue
        coords = " ".join(
            f"{LEFT + plot_w * t / x_max:.1f},{TOP + plot_h * (1 - v / y_max):.1f}"
            for t, v in shown
        )
        parts.append(
            f'<polyline class="series series-{index}" points="{coords}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        legend_y = TOP + 14 * (index + 1)
        parts.append(
            f'<text class="legend series-{index}" x="{WIDTH - RIGHT - 4}" y="{legend_y}" '
            f'text-anchor="end">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def clip(points: Sequence[tuple[int, int]], x_max: int) -> list[tuple[float, float]]:
    """The points up to ``x_max``, and the line on to ``x_max`` (interpolated)."""
    kept: list[tuple[float, float]] = []
    for t, v in points:
        if t <= x_max:
            kept.append((t, v))
            continue
        if kept:
            t0, v0 = kept[-1]
            kept.append((x_max, v0 + (v - v0) * (x_max - t0) / (t - t0)))
        break
    return kept


def _minutes(ms: int) -> str:
    if ms < 120_000:
        return f"{ms / 1000:.0f} s"
    if ms < 2 * 3_600_000:
        return f"{ms / 60_000:.0f} min"
    return f"{ms / 3_600_000:.1f} h"
