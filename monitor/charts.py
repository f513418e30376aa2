"""Inline SVG charts that need no JavaScript and read without colour.

Series are told apart by dash pattern, marker shape and a direct label at the line's
end, not by colour alone; every chart has a <title> and <desc>, and the report puts
its numbers in a table next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 680, 300
LEFT, RIGHT, TOP, BOTTOM = 44, 170, 16, 34
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 4", "10 4")
MARKERS = ("circle", "square", "triangle", "diamond", "cross", "dot")
INK = "#1a1a1a"


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[date, int], ...]  # observed
    backfill: tuple[tuple[date, int], ...] = ()  # estimated before the first snapshot


def cumulative(series: list[Series], title: str, desc: str) -> Markup:
    """A line per source: solid (or dashed) where observed, dotted where backfilled."""
    everything = [p for s in series for p in (*s.backfill, *s.points)]
    if not everything:
        return Markup("")
    first = min(d for d, _ in everything)
    last = max(d for d, _ in everything)
    span = max(1, (last - first).days)
    top, ticks = _scale(max(v for _, v in everything))

    def x(d: date) -> float:
        return LEFT + (d - first).days / span * (WIDTH - LEFT - RIGHT)

    def y(v: float) -> float:
        return TOP + (1 - v / top) * (HEIGHT - TOP - BOTTOM)

    parts = [_frame(title, desc)]
    parts += _y_axis(top, ticks, y)
    years = range(first.year + 1, last.year + 1)
    for year in years:
        xx = x(date(year, 1, 1))
        parts.append(f'<line x1="{xx:.1f}" y1="{HEIGHT - BOTTOM}" x2="{xx:.1f}" y2="{HEIGHT - BOTTOM + 4}" stroke="{INK}"/>')
        parts.append(f'<text x="{xx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{year}</text>')
    ends = []
    for i, s in enumerate(series):
        dash = DASHES[i % len(DASHES)]
        if s.backfill:
            joined = (*s.backfill, *s.points[:1])
            parts.append(_polyline(joined, x, y, "1 3", 1.5))
        if s.points:
            parts.append(_polyline(s.points, x, y, dash, 2.0))
            for d, v in s.points[-1:]:
                parts.append(_marker(MARKERS[i % len(MARKERS)], x(d), y(v)))
        end_d, end_v = (s.points or s.backfill)[-1]
        ends.append((y(end_v) + 4, x(end_d), f"{s.label} {end_v}", i))
    floor = 0.0
    for natural, ex, text, i in sorted(ends):  # labels top to bottom, 12 px apart at least
        ly = max(natural, floor)
        floor = ly + 12
        parts.append(_marker(MARKERS[i % len(MARKERS)], ex + 14, ly - 4, 3))
        parts.append(f'<text x="{ex + 20:.1f}" y="{ly:.1f}">{escape(text)}</text>')
    if any(s.backfill for s in series):
        parts.append(
            f'<text x="{LEFT}" y="{HEIGHT - 4}" class="note">Dotted: backfilled from yearly counts and '
            "citing works' dates, before our first snapshot.</text>"
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def bars(values: list[tuple[str, int]], title: str, desc: str) -> Markup:
    """Vertical bars with their value written on top."""
    if not values:
        return Markup("")
    top, ticks = _scale(max(v for _, v in values))
    inner = WIDTH - LEFT - RIGHT
    step = inner / len(values)
    width = min(48.0, step * 0.7)

    def y(v: float) -> float:
        return TOP + (1 - v / top) * (HEIGHT - TOP - BOTTOM)

    parts = [_frame(title, desc), *_y_axis(top, ticks, y)]
    for i, (label, value) in enumerate(values):
        cx = LEFT + step * (i + 0.5)
        parts.append(
            f'<rect x="{cx - width / 2:.1f}" y="{y(value):.1f}" width="{width:.1f}" '
            f'height="{y(0) - y(value):.1f}" fill="#5b7fa6" stroke="{INK}"/>'
        )
        parts.append(f'<text x="{cx:.1f}" y="{y(value) - 4:.1f}" text-anchor="middle">{value}</text>')
        parts.append(f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _frame(title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" font-size="11" font-family="system-ui, sans-serif" fill="{INK}">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="{INK}"/>'
    )


def _y_axis(top: int, ticks: int, y: object) -> list[str]:
    out = []
    for k in range(ticks + 1):
        v = top * k / ticks
        yy = y(v)  # type: ignore[operator]
        out.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}" stroke="#d0d0d0"/>')
        out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:g}</text>')
    return out


def _polyline(points: tuple[tuple[date, int], ...], x: object, y: object, dash: str, width: float) -> str:
    coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)  # type: ignore[operator]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{coords}" fill="none" stroke="{INK}" stroke-width="{width}"{dash_attr}/>'


def _marker(shape: str, cx: float, cy: float, r: float = 4) -> str:
    if shape == "square":
        return f'<rect x="{cx - r}" y="{cy - r}" width="{2 * r}" height="{2 * r}" fill="#fff" stroke="{INK}"/>'
    if shape == "triangle":
        return f'<polygon points="{cx},{cy - r} {cx - r},{cy + r} {cx + r},{cy + r}" fill="#fff" stroke="{INK}"/>'
    if shape == "diamond":
        return f'<polygon points="{cx},{cy - r} {cx - r},{cy} {cx},{cy + r} {cx + r},{cy}" fill="#fff" stroke="{INK}"/>'
    if shape == "cross":
        return f'<path d="M{cx - r},{cy - r}L{cx + r},{cy + r}M{cx - r},{cy + r}L{cx + r},{cy - r}" stroke="{INK}"/>'
    fill = INK if shape == "dot" else "#fff"
    return f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{fill}" stroke="{INK}"/>'


def _scale(value: int) -> tuple[int, int]:
    """An axis (maximum, number of intervals) with whole, round steps: 1, 2, 5 × 10^n."""
    value = max(1, value)
    best: tuple[int, int] | None = None
    magnitude = 1
    while best is None or magnitude <= value:
        for step in (1, 2, 5):
            for ticks in (5, 4, 3, 6):
                top = step * magnitude * ticks
                if top >= value and (best is None or top < best[0]):
                    best = (top, ticks)
        magnitude *= 10
    return best
