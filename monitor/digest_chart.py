"""The digest's chart: each source's count of a work over time, as a PNG for email.

Mail clients strip SVG and scripts, so the chart is a PNG attached to the message,
drawn by matplotlib's Agg backend (no display needed) in DejaVu Sans, which ships with
matplotlib, at twice the size it is shown, so it stays sharp on high-density screens.
Its text is sized to read at about 11 CSS px when a phone shows it 340 px wide. Every
source that gave a count has a line, told apart by colour (Okabe–Ito, safe for colour
blindness), dash and marker; the email's legend, in text, names each with its count.

matplotlib is imported when the first chart is drawn, not with this module: importing
it costs a good part of a second.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from monitor.sources import SOURCES

if TYPE_CHECKING:
    from monitor.digest import CountLine

WIDTH_INCHES, HEIGHT_INCHES, DPI = 5.2, 2.6, 100  # 520 × 260 CSS px as shown at full width
SCALE = 2  # pixels per CSS pixel in the PNG
FONT_SIZE = 13  # points at 100 dpi: 18 px, about 11 px when shown 340 px wide
INK, GRID = "#3c3c3c", "#dadada"


@dataclass(frozen=True)
class Style:
    """How one source's line looks, in the chart and in the legend beside it."""

    color: str
    dash: str  # matplotlib line style
    marker: str  # matplotlib marker
    glyph: str  # the marker as a character, for the text legend
    border: str  # the dash as a CSS border style, for the legend's swatch


# Okabe–Ito without its yellow (too faint on white), then two more; the dash and the
# marker tell the lines apart where colours do not.
_STYLES = (
    Style("#0072b2", "-", "o", "●", "solid"),
    Style("#d55e00", "--", "s", "■", "dashed"),
    Style("#009e73", "-", "^", "▲", "solid"),
    Style("#cc79a7", "--", "D", "◆", "dashed"),
    Style("#e69f00", "-", "v", "▼", "solid"),
    Style("#56b4e9", "--", "o", "●", "dashed"),
    Style("#000000", "-", "s", "■", "solid"),
    Style("#8c510a", ":", "^", "▲", "dotted"),
    Style("#7f7f7f", ":", "D", "◆", "dotted"),
)
# One style per counting source, the same in every digest.
STYLES = {
    name: _STYLES[i % len(_STYLES)]
    for i, name in enumerate(n for n, m in SOURCES.items() if m.SPEC.counts_citations)
}


def style(source: str) -> Style:
    return STYLES.get(source, _STYLES[-1])


def line_chart(lines: Sequence[CountLine]) -> bytes | None:
    """The PNG of one line per source (its good counts by day), zero-based; None without data."""
    lines = [line for line in lines if line.points]
    if not lines:
        return None
    from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    for line in lines:
        look = style(line.source)
        days = date2num([day for day, _ in line.points])
        axes.plot(
            days,
            [value for _, value in line.points],
            color=look.color,
            linestyle=look.dash,
            linewidth=2.2,
            marker=look.marker if len(days) <= 30 else None,
            markersize=6,
            label=line.title,
        )
    top = max(1, max(value for line in lines for _, value in line.points))
    ticks = [t for t in MaxNLocator(nbins=4, integer=True).tick_values(0, top) if t >= 0]
    ceiling = min((t for t in ticks if t >= top), default=top)  # the tick at or above the top
    axes.set_ylim(0, ceiling)
    axes.set_yticks([t for t in ticks if t <= ceiling])
    first = min(line.points[0][0] for line in lines)
    last = max(line.points[-1][0] for line in lines)
    if first == last:  # one day: that day, with a little room either side
        axes.set_xlim(date2num(first - timedelta(days=1)), date2num(last + timedelta(days=1)))
        axes.set_xticks([date2num(first)], [f"{first.day} {first:%b %Y}"])
    else:
        span = (last - first).days
        axes.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=4))
        axes.xaxis.set_major_formatter(
            DateFormatter("%-d %b" if span <= 120 else "%b %Y" if span <= 730 else "%Y")
        )
    axes.grid(axis="y", color=GRID, linewidth=1)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(INK)
    axes.tick_params(colors=INK, labelsize=FONT_SIZE)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI * SCALE, metadata={"Software": None})
    return buffer.getvalue()


def alt_text(lines: Sequence[CountLine]) -> str:
    """What the chart shows, in words, for a reader who cannot see it."""
    counts = ", ".join(f"{line.title} {line.citations}" for line in lines)
    return f"Citation counts over time: {counts}"
