"""The pure-Python PNG line chart: a valid PNG, the lines where the values say."""

from __future__ import annotations

import struct
import zlib
from datetime import date

import pytest

from monitor import pngchart
from monitor.pngchart import Line, line_chart, nice_ceiling


def decode(data: bytes) -> tuple[int, int, list[list[tuple[int, int, int]]]]:
    """Width, height and RGB rows of an 8-bit palette PNG with filter 0 rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.append((kind, body))
        pos += 12 + length
    kinds = [k for k, _ in chunks]
    assert kinds == [b"IHDR", b"PLTE", b"IDAT", b"IEND"]
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color_type, interlace) == (8, 3, 0)
    palette = chunks[1][1]
    raw = zlib.decompress(chunks[2][1])
    assert len(raw) == height * (width + 1)
    rows = []
    for y in range(height):
        line = raw[y * (width + 1) : (y + 1) * (width + 1)]
        assert line[0] == 0  # no filter
        rows.append([tuple(palette[3 * i : 3 * i + 3]) for i in line[1:]])
    return width, height, rows


def columns_with(rows, color) -> list[int]:
    return sorted({x for row in rows for x, c in enumerate(row) if c == color})


def rows_with(rows, color, x) -> list[int]:
    return [y for y, row in enumerate(rows) if row[x] == color]


def test_a_chart_is_a_valid_png_at_twice_the_display_size():
    chart = line_chart(
        [Line("OpenAlex", ((date(2026, 1, 1), 10), (date(2026, 3, 1), 40)))], 300, 120
    )
    width, height, rows = decode(chart)
    assert (width, height) == (600, 240)
    assert rows[0][0] == pngchart.BACKGROUND


def test_each_series_has_its_own_colour_and_a_rising_line_rises():
    first = pngchart.SERIES[0]
    second = pngchart.SERIES[1]
    chart = line_chart(
        [
            Line("OpenAlex", ((date(2026, 1, 1), 10), (date(2026, 3, 1), 40))),
            Line("Crossref", ((date(2026, 1, 1), 5), (date(2026, 3, 1), 5))),
        ],
        300,
        120,
    )
    _, _, rows = decode(chart)
    xs = columns_with(rows, first)
    left, right = xs[2], xs[-3]
    # y grows downwards: the later point of a rising line is higher up the image
    assert min(rows_with(rows, first, right)) < min(rows_with(rows, first, left))
    flat = columns_with(rows, second)
    assert rows_with(rows, second, flat[2]) == rows_with(rows, second, flat[-3])  # a flat line


def test_values_sit_in_proportion_between_the_zero_axis_and_the_top():
    days = (date(2026, 1, 1), date(2026, 3, 1))
    half, full = pngchart.SERIES[0], pngchart.SERIES[1]
    chart = line_chart(
        [Line("half", tuple((d, 20) for d in days)), Line("full", tuple((d, 40) for d in days))]
    )
    assert nice_ceiling(40) == 40  # so 40 is the top of the axis and 20 its middle
    width, _, rows = decode(chart)
    middle = width // 2  # clear of the dots at the ends and of the date labels

    def centre(color) -> float:
        ys = rows_with(rows, color, middle)
        assert ys, color
        return (min(ys) + max(ys)) / 2

    zero = centre(pngchart.INK)  # the x axis is the only ink in the middle column
    assert zero > centre(half) > centre(full)
    assert abs(centre(half) - (zero + centre(full)) / 2) <= 1


def test_a_single_point_is_drawn_and_nothing_to_draw_is_an_error():
    _, _, rows = decode(line_chart([Line("OpenAlex", ((date(2026, 1, 1), 41),))]))
    assert columns_with(rows, pngchart.SERIES[0])
    with pytest.raises(ValueError, match="nothing to draw"):
        line_chart([Line("OpenAlex", ())])


def test_axis_tops_are_round_numbers():
    assert [nice_ceiling(v) for v in (0, 1, 7, 41, 58, 101, 2500)] == [1, 1, 8, 50, 60, 200, 3000]
    assert pngchart.COLORS[0] == "#0072b2"
