"""The report in a real browser: headless Chromium (Debian's, driven by Playwright, no
browser download) loads each page (the index, a work's, a collection's, the works no
longer tracked) from file:// at a phone's width (390 px) and a laptop's (1280 px): no sideways scrolling, every headline number visible, chart text at
least 11 CSS px, axe-core (run inside the page) finds no violation, no console message,
no request but the page itself; printed on A4 every column stays. Screenshots and PDFs
go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}
HOSTILE = '<img src="http://127.0.0.1:9/title.png" alt=""><script>console.error("ran")</script> & co\x07'
LONG = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3 + " and a very long title " * 6
WORK = "works/10.1016-j.drup.2021.100752.html"
COLLECTION = "collections/lab.html"
UNTRACKED = 10  # of the 300 synthetic works
WIDTHS = {"phone": 390, "laptop": 1280}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright", reason="the test extra installs playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Three sites: the default article with every source (a hostile and a long citing
    title), and synthetic portfolios of 1 and 300 works (long titles, a hostile one; the
    300 in two collections of 41 and 10, 10 of them no longer tracked)."""
    from click.testing import CliRunner

    from monitor.cli import cli
    from monitor.config import load_config
    from monitor.report import write_report
    from monitor.sources import SOURCES
    from tests import synthetic_db
    from tests.fakeapi import FakeAPI

    tmp = tmp_path_factory.mktemp("browser")
    article = tmp / "article"
    article.mkdir()
    with FakeAPI() as fake:
        lines = ["[monitor]", 'contact_email = "t@example.org"', "[[works]]", 'doi = "10.1016/j.drup.2021.100752"']
        for name in SOURCES:
            lines += [f"[sources.{name}]", f'base_url = "{fake.base_url(name)}"', "requests_per_second = 1000"]
        (article / "config.toml").write_text("\n".join(lines) + "\n")
        for _ in range(2):
            result = CliRunner().invoke(cli, ["run", "--config", str(article / "config.toml")], env={**os.environ, **KEYS})
            assert result.exit_code == 0, result.output
    conn = sqlite3.connect(article / "state/monitor.db")
    ids = [i for (i,) in conn.execute("select id from citers order by id limit 2")]
    conn.execute("update citers set title = ?, updated_at = '2099-01-01' where id = ?", [HOSTILE, ids[0]])
    conn.execute("update citers set title = ?, updated_at = '2099-01-01' where id = ?", [LONG, ids[1]])
    conn.commit()
    conn.close()
    assert CliRunner().invoke(cli, ["report", "--config", str(article / "config.toml")]).exit_code == 0
    found = {"article": article / "state/report"}
    for name, works in (("one", 1), ("many", 300)):
        folder = tmp / name
        dois = synthetic_db.populate(folder / "state/monitor.db", works=works, long_titles=True, hostile=HOSTILE)
        if works > 1:
            synthetic_db.add_collections(folder / "state/monitor.db", dois, untracked=UNTRACKED, lab=40)
        (folder / "config.toml").write_text(synthetic_db.CONFIG + '[report]\ncitation_styles = ["apa"]\n')
        write_report(load_config(folder / "config.toml"))
        found[name] = folder / "state/report"
    return found


CHECKS = """() => {
  const visible = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
                         return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const heads = [...document.querySelectorAll('[data-headline]')];
  const hidden = heads.filter(e => !visible(e) || e.getBoundingClientRect().right > innerWidth + 0.5
                                   || e.getBoundingClientRect().left < 0).map(e => e.textContent);
  const texts = [...document.querySelectorAll('svg.chart text')].filter(visible);
  const sizes = texts.map(t => t.getBoundingClientRect().height > 0 ?
      parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a : 99);
  return {scroll: document.documentElement.scrollWidth, width: innerWidth, headlines: heads.length,
          hidden: hidden, smallest: sizes.length ? Math.min(...sizes) : null, charts: texts.length};
}"""


def visit(browser, url: str, width: int, shot: str | None = None):
    """Load ``url``; return the page's measurements, console messages and requests."""
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    messages, requests = [], []
    page.on("console", lambda m: messages.append(m.text))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    measured = page.evaluate(CHECKS)
    if shot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    violations = Axe().run(page).response["violations"]
    context.close()
    return measured, messages, requests, violations


def pages():
    for site, path in (("one", "index.html"), ("many", "index.html"), ("article", WORK), ("many", COLLECTION),
                       ("many", "untracked.html")):
        for label, width in WIDTHS.items():
            yield pytest.param(site, path, width, id=f"{site}-{path}-{label}")


@pytest.mark.parametrize("site, path, width", list(pages()))
def test_every_page_reads_at_phone_and_laptop_widths(browser, sites, site, path, width):
    name = f"{site}-{Path(path).stem}-{width}.png".replace("/", "-")
    measured, messages, requests, violations = visit(browser, (sites[site] / path).as_uri(), width, shot=name)
    assert measured["scroll"] <= measured["width"], measured  # no sideways scrolling
    assert measured["headlines"] >= 1 and measured["hidden"] == [], measured  # every headline in view
    if measured["smallest"] is not None:
        assert measured["smallest"] >= 11, measured  # chart text at least 11 CSS px
    assert messages == []
    assert requests == [(sites[site] / path).as_uri()]  # the page itself and nothing else
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations] == []


def test_the_300_work_index_shows_its_first_page_of_works(sites):
    from tests import headline_views as views

    index = (sites["many"] / "index.html").read_text()
    shown = views.from_index(index)
    assert len(shown) == 100 and len(views.from_whole_index(sites["many"])) == 300 - UNTRACKED
    values = [v for v in shown.values() if v is not None]
    assert values == sorted(values, reverse=True)  # by citations, highest first
    assert len(index.encode()) < 1_000_000


def test_hostile_text_is_shown_as_text(browser, sites):
    context = browser.new_context()
    page = context.new_page()
    page.goto((sites["article"] / WORK).as_uri())
    assert page.locator("text=console.error").count() >= 1  # shown, not run
    assert page.locator("main img").count() == 0
    context.close()


@pytest.mark.parametrize("site, path", [("article", WORK), ("many", "index.html"), ("many", COLLECTION)])
def test_print_keeps_every_column_on_a4(browser, sites, site, path):
    """Printed on A4 (210 mm less 2 × 12 mm margins: 703 CSS px), no table is cut."""
    context = browser.new_context(viewport={"width": 703, "height": 1000})
    page = context.new_page()
    page.goto((sites[site] / path).as_uri())
    page.emulate_media(media="print")
    cut = page.evaluate("""() => [...document.querySelectorAll('table')]
        .filter(t => t.getBoundingClientRect().width > 0 && t.scrollWidth > t.parentElement.clientWidth + 1
                     || t.getBoundingClientRect().right > innerWidth + 1)
        .map(t => (t.caption ? t.caption.textContent : t.className).slice(0, 60))""")
    wide = page.evaluate("document.documentElement.scrollWidth")
    charts = page.evaluate("[...document.querySelectorAll('svg.chart-wide')].filter(s => s.getBoundingClientRect().width > 0).length")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(format="A4", margin={"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"})
    (ARTIFACTS / f"{site}-{Path(path).stem}.pdf").write_bytes(pdf)
    context.close()
    assert cut == [] and wide <= 703
    assert pdf[:5] == b"%PDF-"
    if site == "article" or path == COLLECTION:
        assert charts >= 2  # the charts print, in their wide layout
