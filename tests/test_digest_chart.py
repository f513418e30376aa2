"""The digest's chart: a PNG with a line for every source that gave a count."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date

from PIL import Image

from monitor import digest_chart
from monitor.digest import CountLine
from monitor.sources import SOURCES
from tests.conftest import ROOT

COUNTING = [name for name, module in SOURCES.items() if module.SPEC.counts_citations]


def lines(n_days: int = 2) -> list[CountLine]:
    days = [date(2026, 10, 1), date(2026, 11, 30)][:n_days]
    return [
        CountLine(name, SOURCES[name].SPEC.title, 10 * (i + 1), None, tuple((d, 10 * (i + 1)) for d in days))
        for i, name in enumerate(COUNTING)
    ]


def colours(png: bytes) -> set[str]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {"#{:02x}{:02x}{:02x}".format(*rgb) for _, rgb in image.getcolors(maxcolors=1 << 20)}


def test_every_counting_source_has_a_line_of_its_own_style():
    png = digest_chart.line_chart(lines())
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = Image.open(io.BytesIO(png)).size
    scale = digest_chart.DPI * digest_chart.SCALE
    assert (width, height) == (digest_chart.WIDTH_INCHES * scale, digest_chart.HEIGHT_INCHES * scale)
    styles = [digest_chart.style(name) for name in COUNTING]
    assert len(set(styles)) == len(COUNTING)  # no two sources look alike
    assert {s.color for s in styles} <= colours(png)  # Dimensions and Scopus included


def test_one_day_of_counts_still_draws_and_no_counts_draw_nothing():
    assert digest_chart.line_chart(lines(1)) is not None
    assert digest_chart.line_chart([]) is None
    empty = CountLine("openalex", "OpenAlex", 3, None, ())
    assert digest_chart.line_chart([empty]) is None


def test_the_alt_text_names_each_count():
    assert digest_chart.alt_text(lines()[:2]) == "Citation counts over time: OpenAlex 10, Crossref 20"


def test_matplotlib_is_imported_only_to_draw():
    code = "import sys, monitor.job, monitor.mailer; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
