"""The email digest in a real browser: headless Chromium loads it from file:// with no
console errors and no network requests, at phone and desktop widths; screenshots are kept.
(The report's pages: tests/test_browser.py.)"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def chromium(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args, url],
        capture_output=True, text=True, timeout=90, check=False,
    )


def page_requests(netlog: Path) -> set[str]:
    """URLs the page itself asked the network for (Chromium's own background requests,
    initiated by no origin, are left out; file:// loads do not go through the network)."""
    log = json.loads(netlog.read_text())
    kinds = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    return {
        e["params"]["url"]
        for e in log["events"]
        if kinds.get(e["type"]) == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    }


def load(url: str, tmp: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    netlog = tmp / "netlog.json"
    proc = chromium(url, tmp, f"--log-net-log={netlog}", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, page_requests(netlog)


def test_the_network_check_sees_a_page_that_fetches(tmp_path):
    page = tmp_path / "fetching.html"
    page.write_text('<!doctype html><title>x</title><img src="http://127.0.0.1:9/pixel.png" alt="">')
    _, urls = load(page.as_uri(), tmp_path)
    assert urls == {"http://127.0.0.1:9/pixel.png"}


# --- the email digest's HTML part ---------------------------------------------------------
#
# Headless Chromium will not make a window narrower than 500 px: at --window-size=390 it lays
# the page out 500 px wide and crops the screenshot. So a page is measured and shot at a
# phone's width inside an <iframe> of exactly that width.

MEASURE = (
    '<script>addEventListener("load", () => parent.postMessage('
    "{scroll: document.documentElement.scrollWidth, width: innerWidth}, \"*\"))</script>"
)


def framed(page: Path, width: int, height: int = 4000) -> Path:
    """A page that shows ``page`` in an iframe ``width`` CSS px wide, and keeps what the
    framed page reports (see MEASURE) in its body's data-measured attribute."""
    frame = page.with_name(f"{page.stem}-framed-{width}.html")
    frame.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>frame</title></head>'
        '<body style="margin:0">'
        f'<iframe src="{page.name}" style="display:block;border:0;width:{width}px;height:{height}px"></iframe>'
        '<script>addEventListener("message", e => document.body.setAttribute('
        '"data-measured", JSON.stringify(e.data)))</script></body></html>'
    )
    return frame


def scroll_width(page: Path, width: int, tmp: Path) -> tuple[int, int]:
    """(the document's scroll width, the viewport's width) of ``page`` shown ``width`` px wide."""
    measured = page.with_name(f"{page.stem}-measured.html")
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    proc = chromium(framed(measured, width).as_uri(), tmp, "--virtual-time-budget=5000", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-measured="([^"]*)"', proc.stdout)
    assert found, "the framed page reported nothing"
    numbers = json.loads(html.unescape(found.group(1)))
    return numbers["scroll"], numbers["width"]


@pytest.fixture(scope="module")
def digest_page(tmp_path_factory):
    """The HTML part of a digest of a run in which two sources listed new citing works,
    every source enabled, its charts inlined as data: URLs (as a mail client shows the
    message's related parts); and each counting source's current count. Beside it,
    collection-digest.html: the digest of a collection holding the work, for its own recipients."""
    import email
    import email.policy
    import os

    from click.testing import CliRunner

    from monitor import headline, store
    from monitor.cli import cli
    from monitor.sources import SOURCES
    from tests.digest_scenario import list_new_citing_works
    from tests.fakeapi import FakeAPI

    tmp = tmp_path_factory.mktemp("digest")
    config = tmp / "config.toml"
    with FakeAPI() as fake:
        lines = ['[monitor]', 'contact_email = "t@example.org"', '[[works]]', 'doi = "10.1016/j.drup.2021.100752"']
        for name in SOURCES:
            lines += [f"[sources.{name}]", f'base_url = "{fake.base_url(name)}"', "requests_per_second = 1000"]
        lines += ["[email]", 'report_url = "https://example.org/citations/"', "[[collections]]",
                  'name = "lab"', 'label = "The Jiang laboratory of tumour immunology and autophagy"',
                  'works = ["10.1016/j.drup.2021.100752"]', 'recipients = ["lab@example.org"]']
        config.write_text("\n".join(lines) + "\n")
        runner, env = CliRunner(), {**os.environ, **KEYS}
        assert runner.invoke(cli, ["run", "--config", str(config)], env=env).exit_code == 0
        # the first run as if a month ago, so that the chart has a month to show
        conn = sqlite3.connect(tmp / "state/monitor.db")
        for row_id, moment in conn.execute("select id, observed_at from observations where run_id = 1").fetchall():
            earlier = datetime.fromisoformat(moment) - timedelta(days=30)
            conn.execute("update observations set observed_at = ? where id = ?", [earlier.isoformat(), row_id])
        conn.commit()
        conn.close()
        list_new_citing_works(fake)
        assert runner.invoke(cli, ["run", "--config", str(config)], env=env).exit_code == 0
    for name, options in (("digest", []), ("collection-digest", ["--collection", "lab"])):
        eml = tmp / f"{name}.eml"
        result = runner.invoke(cli, ["email", "--dry-run", "-o", str(eml), "--config", str(config), *options])
        assert result.exit_code == 0, result.output
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        body = message.get_body(("html",)).get_content()
        for part in message.walk():
            if part.get_content_type() == "image/png":
                data = base64.b64encode(part.get_content()).decode()
                body = body.replace(f'src="cid:{part["Content-ID"].strip("<>")}"', f'src="data:image/png;base64,{data}"')
        assert "cid:" not in body
        (tmp / f"{name}.html").write_text(body)
    page = tmp / "digest.html"
    assert "The Jiang laboratory of tumour immunology and autophagy: 1 work," in (tmp / "collection-digest.html").read_text()
    db = store.open_db(tmp / "state/monitor.db")
    try:
        top = headline.for_work(db, "10.1016/j.drup.2021.100752", store.latest_run(db)).now
    finally:
        db.close()
    return page, {c.title: c.citations for c in top.counts}


def test_the_digest_loads_with_no_request_and_its_legend_lists_every_source_with_a_count(
    digest_page, tmp_path
):
    page, counts = digest_page
    proc, urls = load(page.as_uri(), tmp_path)
    assert urls == set()
    assert [line for line in proc.stderr.splitlines() if "CONSOLE" in line] == []
    assert {"Dimensions", "Scopus"} <= set(counts)  # the sources the old chart dropped
    legend = re.findall(r"</span> ([^<]+) <strong>(\d+)</strong>", proc.stdout)
    assert {title: int(n) for title, n in legend} == counts


@pytest.mark.parametrize("width", [390, 800])
@pytest.mark.parametrize("name", ["digest", "collection-digest"])
def test_the_digest_fits_phone_and_desktop_widths(digest_page, tmp_path, width, name):
    page = digest_page[0].with_name(f"{name}.html")
    scroll, viewport = scroll_width(page, width, tmp_path)
    assert viewport == width and scroll <= viewport
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}-{width}.png"
    shot.unlink(missing_ok=True)
    proc = chromium(framed(page, width).as_uri(), tmp_path, f"--window-size={width},2600", f"--screenshot={shot}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
