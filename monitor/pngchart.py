"""A line chart as a PNG, in pure Python (zlib only), for email: mail clients strip SVG.

One line per series on a zero-based y axis, with the top, middle and zero values
and the first and last dates drawn in a small built-in digit font. Colours are the
Okabe–Ito palette (told apart with colour blindness); the email's legend table
names each colour. Drawn at ``scale`` times the displayed size so it stays sharp
on high-density screens.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

BACKGROUND, INK, GRID = (255, 255, 255), (60, 60, 60), (218, 218, 218)
# Okabe–Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue, black.
SERIES = (
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
    (0, 0, 0),
)
COLORS = tuple(
    "#{:02x}{:02x}{:02x}".format(*rgb) for rgb in SERIES
)  # for the legend beside the image
_PALETTE = (BACKGROUND, INK, GRID, *SERIES)
_BG, _INK, _GRID, _FIRST_SERIES = 0, 1, 2, 3

# 5×7 glyphs, one string of 7 rows of 5 bits each.
_GLYPHS = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}


@dataclass(frozen=True)
class Line:
    label: str
    points: tuple[tuple[date, int], ...]  # (day, value), oldest first


class Canvas:
    """Palette-indexed pixels; coordinates in image pixels, origin top left."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = bytearray(width * height)  # all _BG

    def dot(self, x: int, y: int, color: int, size: int = 1) -> None:
        half = size // 2
        for yy in range(max(0, y - half), min(self.height, y - half + size)):
            start = yy * self.width
            for xx in range(max(0, x - half), min(self.width, x - half + size)):
                self.pixels[start + xx] = color

    def line(self, x0: int, y0: int, x1: int, y1: int, color: int, size: int = 1) -> None:
        """Bresenham's line, stamped ``size`` pixels thick."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        while True:
            self.dot(x0, y0, color, size)
            if x0 == x1 and y0 == y1:
                return
            doubled = 2 * error
            if doubled >= dy:
                error += dy
                x0 += sx
            if doubled <= dx:
                error += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: int, pixel: int) -> None:
        """Digits and '-' only, top left at (x, y), each font pixel ``pixel`` wide."""
        for i, char in enumerate(text):
            rows = _GLYPHS.get(char, _GLYPHS[" "]).split()
            for row, bits in enumerate(rows):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        left = x + (i * 6 + col) * pixel
                        for yy in range(y + row * pixel, y + (row + 1) * pixel):
                            for xx in range(left, left + pixel):
                                if 0 <= xx < self.width and 0 <= yy < self.height:
                                    self.pixels[yy * self.width + xx] = color

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * self.width : (y + 1) * self.width])
            for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 3, 0, 0, 0)
        palette = b"".join(bytes(rgb) for rgb in _PALETTE)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"PLTE", palette)
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def text_width(text: str, pixel: int) -> int:
    return (len(text) * 6 - 1) * pixel


def line_chart(lines: Sequence[Line], width: int = 560, height: int = 200, scale: int = 2) -> bytes:
    """A PNG of ``width``×``height`` display pixels (``scale`` times as many image pixels)."""
    points = [p for line in lines for p in line.points]
    if not points:
        raise ValueError("nothing to draw: no series has a point")
    first = min(d for d, _ in points)
    last = max(d for d, _ in points)
    top = nice_ceiling(max(v for _, v in points))
    font = max(1, round(1.5 * scale))  # font pixel: 7.5 display pixels per digit row of 5
    canvas = Canvas(width * scale, height * scale)
    label_width = text_width(str(top), font)
    left = label_width + 8 * scale
    right = canvas.width - 12 * scale
    top_y = 4 * font + 4 * scale
    bottom = canvas.height - 7 * font - 10 * scale

    def x_of(day: date) -> int:
        span = (last - first).days
        if span == 0:
            return (left + right) // 2
        return left + round((day - first).days / span * (right - left))

    def y_of(value: float) -> int:
        return bottom - round(value / top * (bottom - top_y))

    for value in (0, top // 2, top) if top % 2 == 0 else (0, top):
        y = y_of(value)
        canvas.line(left, y, right, y, _GRID if value else _INK, scale)
        label = str(value)
        canvas.text(
            left - 5 * scale - text_width(label, font), y - 7 * font // 2, label, _INK, font
        )
    canvas.line(left, top_y, left, bottom, _INK, scale)
    dates_y = bottom + 6 * scale
    canvas.text(left, dates_y, first.isoformat(), _INK, font)
    if last != first:
        label = last.isoformat()
        canvas.text(right - text_width(label, font), dates_y, label, _INK, font)
    for i, line in enumerate(lines):
        color = _FIRST_SERIES + i % len(SERIES)
        xy = [(x_of(d), y_of(v)) for d, v in sorted(line.points)]
        for (x0, y0), (x1, y1) in itertools.pairwise(xy):
            canvas.line(x0, y0, x1, y1, color, 2 * scale)
        if len(xy) <= 60:
            for x, y in xy:
                canvas.dot(x, y, color, 5 * scale)
    return canvas.png()


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 3, 4, 5, 6 or 8 × 10^k at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 3, 4, 5, 6, 8):
            if factor * step >= value:
                return max(1, factor * step)
        step *= 10


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
