"""Inline SVG charts that need no JavaScript and read without colour.

Series are told apart by dash pattern, marker shape and a label (at the line's end, or
in a legend below on a phone), not by colour alone; every chart has a <title> and
<desc>, and the report puts its numbers in a table next to it.

Each chart comes in two layouts (``both``): ``WIDE`` for screens and paper, ``NARROW``
for phones, drawn at the size it is shown so that its text stays at least 11 CSS px;
the stylesheet shows one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 4", "10 4")
MARKERS = ("circle", "square", "triangle", "diamond", "cross", "dot")
INK = "#1a1a1a"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[date, int], ...]  # observed
    backfill: tuple[tuple[date, int], ...] = ()  # estimated before the first snapshot


@dataclass(frozen=True)
class Layout:
    name: str  # the CSS class that shows it: chart-wide or chart-narrow
    width: int
    height: int  # of the plot area and axis, without a legend
    left: int
    right: int  # room for end labels (none with a legend)
    top: int
    bottom: int
    font: int
    legend: bool  # labels in a legend under the plot instead of at the lines' ends
    x_labels: int  # at most this many labels on the x axis


WIDE = Layout("chart-wide", 560, 280, 48, 176, 16, 34, 12, False, 8)
NARROW = Layout("chart-narrow", 360, 240, 44, 14, 16, 34, 12, True, 4)
LEGEND_LINE = 18


def both(draw: Callable[[Layout], Markup]) -> Markup:
    """A chart in both layouts, the wide one first (the stylesheet shows one)."""
    wide = draw(WIDE)
    return Markup(wide + draw(NARROW)) if wide else Markup("")


def cumulative(series: Sequence[Series], title: str, desc: str, layout: Layout = WIDE,
               since: date | None = None) -> Markup:
    """A line per source: solid (or dashed) where observed, dotted where backfilled.

    With ``since``, the view since monitoring began: observed points from that day on,
    no backfill, so that the monitored period fills the width.
    """
    if since is not None:
        series = [Series(s.label, tuple(p for p in s.points if p[0] >= since)) for s in series]
        series = [s for s in series if s.points]
    everything = [p for s in series for p in (*s.backfill, *s.points)]
    if not everything:
        return Markup("")
    first = min(d for d, _ in everything)
    last = max(d for d, _ in everything)
    if last == first:
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    span = (last - first).days
    top, ticks = _scale(max(v for _, v in everything))
    plot_right = layout.width - layout.right

    def x(d: date) -> float:
        return layout.left + (d - first).days / span * (plot_right - layout.left)

    def y(v: float) -> float:
        return layout.top + (1 - v / top) * (layout.height - layout.top - layout.bottom)

    legend_lines = len(series) + (1 if any(s.backfill for s in series) else 0) if layout.legend else 0
    parts = [_frame(title, desc, layout, layout.height + legend_lines * LEGEND_LINE)]
    parts += _y_axis(top, ticks, y, layout)
    parts += _x_axis(first, last, x, layout)
    ends: list[tuple[float, float, str, int, str]] = []
    for i, s in enumerate(series):
        dash = DASHES[i % len(DASHES)]
        if s.backfill:
            parts.append(_polyline((*s.backfill, *s.points[:1]), x, y, "1 3", 1.5))
        if s.points:
            parts.append(_polyline(s.points, x, y, dash, 2.0))
            for d, v in s.points[-1:]:
                parts.append(_marker(MARKERS[i % len(MARKERS)], x(d), y(v)))
        end_d, end_v = (s.points or s.backfill)[-1]
        ends.append((y(end_v) + 4, x(end_d), f"{s.label} {end_v}", i, dash))
    if layout.legend:
        base = layout.height + 4
        for row, (_, _, text, i, dash) in enumerate(sorted(ends, key=lambda e: e[3])):
            row_y = base + row * LEGEND_LINE + 8
            parts.append(f'<line x1="{layout.left}" y1="{row_y}" x2="{layout.left + 26}" y2="{row_y}" stroke="{INK}" '
                         'stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
            parts.append(_marker(MARKERS[i % len(MARKERS)], layout.left + 13, row_y, 3))
            parts.append(f'<text x="{layout.left + 34}" y="{row_y + 4}">{escape(text)}</text>')
    else:
        floor: float = 0.0
        for natural, ex, text, i, _ in sorted(ends):  # labels top to bottom, a line apart at least
            ly = max(natural, floor)
            floor = ly + layout.font + 2
            parts.append(_marker(MARKERS[i % len(MARKERS)], ex + 14, ly - 4, 3))
            parts.append(f'<text x="{ex + 20:.1f}" y="{ly:.1f}">{escape(text)}</text>')
    if any(s.backfill for s in series):
        note = "Dotted: backfilled before our first snapshot."
        ny = layout.height + (legend_lines - 1) * LEGEND_LINE + 12 if layout.legend else layout.height - 4
        parts.append(f'<text x="{layout.left}" y="{ny}">{note}</text>')
    parts.append("</svg>")
    return Markup("\n".join(parts))


def bars(values: Sequence[tuple[str, int]], title: str, desc: str, layout: Layout = WIDE,
         partial: str | None = None, partial_note: str = "") -> Markup:
    """Vertical bars with their value written on top; the ``partial`` year's bar is
    outlined and dashed, marked with an asterisk, and ``partial_note`` says why."""
    if not values:
        return Markup("")
    top, ticks = _scale(max(v for _, v in values))
    inner = layout.width - layout.left - layout.right
    step = inner / len(values)
    width = min(48.0, step * 0.7)
    every = max(1, -(-len(values) // layout.x_labels))
    show_values = step >= layout.font * 2.6

    def y(v: float) -> float:
        return layout.top + (1 - v / top) * (layout.height - layout.top - layout.bottom)

    extra = LEGEND_LINE if partial else 0
    parts = [_frame(title, desc, layout, layout.height + extra), *_y_axis(top, ticks, y, layout)]
    for i, (label, value) in enumerate(values):
        cx = layout.left + step * (i + 0.5)
        is_partial = label == partial
        style = 'fill="#fff" stroke-dasharray="4 3"' if is_partial else 'fill="#5b7fa6"'
        parts.append(
            f'<rect x="{cx - width / 2:.1f}" y="{y(value):.1f}" width="{width:.1f}" '
            f'height="{y(0) - y(value):.1f}" {style} stroke="{INK}"/>'
        )
        mark = "*" if is_partial else ""
        if show_values or is_partial or i == len(values) - 1:
            parts.append(f'<text x="{cx:.1f}" y="{y(value) - 4:.1f}" text-anchor="middle">{value}{mark}</text>')
        if i % every == 0 or i == len(values) - 1:
            parts.append(f'<text x="{cx:.1f}" y="{layout.height - layout.bottom + 16}" text-anchor="middle">{escape(label)}{mark}</text>')
    if partial:
        parts.append(f'<text x="{layout.left}" y="{layout.height + 10}">* {escape(partial_note)}</text>')
    parts.append("</svg>")
    return Markup("\n".join(parts))


def sparkline(points: Sequence[tuple[str, float]], title: str, width: int = 96, height: int = 28) -> Markup:
    """A small trend line with no text of its own (its ``title`` says what it shows; its
    ``desc`` gives every point)."""
    if not points:
        return Markup("")
    values = [v for _, v in points]
    low, high = min(values), max(values)
    spread = (high - low) or 1
    pad = 3

    def y(v: float) -> float:
        return height - pad - (v - low) / spread * (height - 2 * pad) if high != low else height / 2

    n = len(points)
    xs = [pad + (i / (n - 1) * (width - 2 * pad) if n > 1 else (width - 2 * pad) / 2) for i in range(n)]
    coords = " ".join(f"{xx:.1f},{y(v):.1f}" for xx, v in zip(xs, values, strict=True))
    line = f'<polyline points="{coords}" fill="none" stroke="{INK}" stroke-width="1.5"/>' if n > 1 else ""
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><title>{escape(title)}</title>'
        f'<desc>{escape("; ".join(f"{d}: {v:g}" for d, v in points))}</desc>{line}'
        f'<circle cx="{xs[-1]:.1f}" cy="{y(values[-1]):.1f}" r="2.5" fill="{INK}"/></svg>'
    )


def _frame(title: str, desc: str, layout: Layout, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {layout.width} {height}" role="img" '
        f'class="chart {layout.name}" font-size="{layout.font}" font-family="system-ui, sans-serif" fill="{INK}">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        f'<line x1="{layout.left}" y1="{layout.height - layout.bottom}" x2="{layout.width - layout.right}" '
        f'y2="{layout.height - layout.bottom}" stroke="{INK}"/>'
    )


def _y_axis(top: int, ticks: int, y: Callable[[float], float], layout: Layout) -> list[str]:
    out = []
    for k in range(ticks + 1):
        v = top * k / ticks
        yy = y(v)
        out.append(f'<line x1="{layout.left}" y1="{yy:.1f}" x2="{layout.width - layout.right}" y2="{yy:.1f}" stroke="#d0d0d0"/>')
        out.append(f'<text x="{layout.left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:g}</text>')
    return out


def _x_axis(first: date, last: date, x: Callable[[date], float], layout: Layout) -> list[str]:
    """Ticks at year, month or day starts, whichever gives a readable number of labels."""
    span = (last - first).days
    if span > 2 * 365:
        candidates = [(date(y, 1, 1), str(y)) for y in range(first.year + 1, last.year + 1)]
    elif span > 62:
        candidates = []
        d = date(first.year, first.month, 1)
        while d <= last:
            if d > first:
                candidates.append((d, MONTHS[d.month - 1] + (f" {d.year}" if d.month == 1 or not candidates else "")))
            d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    else:
        step = max(1, span // max(1, layout.x_labels))
        candidates = [(first + timedelta(days=k), "") for k in range(1, span, step)]
        candidates = [(d, f"{d.day} {MONTHS[d.month - 1]}") for d, _ in candidates]
    every = max(1, -(-len(candidates) // layout.x_labels))
    out = []
    base = layout.height - layout.bottom
    for i, (d, label) in enumerate(candidates):
        xx = x(d)
        out.append(f'<line x1="{xx:.1f}" y1="{base}" x2="{xx:.1f}" y2="{base + 4}" stroke="{INK}"/>')
        if i % every == 0:
            out.append(f'<text x="{xx:.1f}" y="{base + 16}" text-anchor="middle">{escape(label)}</text>')
    return out


def _polyline(points: tuple[tuple[date, int], ...], x: Callable[[date], float], y: Callable[[float], float],
              dash: str, width: float) -> str:
    coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{coords}" fill="none" stroke="{INK}" stroke-width="{width}"{dash_attr}/>'


def _marker(shape: str, cx: float, cy: float, r: float = 4) -> str:
    if shape == "square":
        return f'<rect x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r}" height="{2 * r}" fill="#fff" stroke="{INK}"/>'
    if shape == "triangle":
        return f'<polygon points="{cx:.1f},{cy - r:.1f} {cx - r:.1f},{cy + r:.1f} {cx + r:.1f},{cy + r:.1f}" fill="#fff" stroke="{INK}"/>'
    if shape == "diamond":
        return f'<polygon points="{cx:.1f},{cy - r:.1f} {cx - r:.1f},{cy:.1f} {cx:.1f},{cy + r:.1f} {cx + r:.1f},{cy:.1f}" fill="#fff" stroke="{INK}"/>'
    if shape == "cross":
        return f'<path d="M{cx - r:.1f},{cy - r:.1f}L{cx + r:.1f},{cy + r:.1f}M{cx - r:.1f},{cy + r:.1f}L{cx + r:.1f},{cy - r:.1f}" stroke="{INK}"/>'
    fill = INK if shape == "dot" else "#fff"
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r}" fill="{fill}" stroke="{INK}"/>'


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
