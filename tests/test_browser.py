"""The report in a real browser: headless Chromium loads it from file:// with no console
errors and no network requests; screenshots at desktop and phone widths are kept."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}
HOSTILE = '<img src="http://127.0.0.1:9/title.png" alt=""><script>console.error("ran")</script> & co'

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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One populated site for the module: every source against the fake, two runs."""
    import os

    from click.testing import CliRunner

    from monitor.cli import cli
    from monitor.sources import SOURCES
    from tests.fakeapi import FakeAPI

    tmp = tmp_path_factory.mktemp("browser")
    with FakeAPI() as fake:
        lines = ['[monitor]', 'contact_email = "t@example.org"', '[[works]]', 'doi = "10.1016/j.drup.2021.100752"']
        for name in SOURCES:
            lines += [f"[sources.{name}]", f'base_url = "{fake.base_url(name)}"', "requests_per_second = 1000"]
        (tmp / "config.toml").write_text("\n".join(lines) + "\n")
        for _ in range(2):
            result = CliRunner().invoke(cli, ["run", "--config", str(tmp / "config.toml")], env={**os.environ, **KEYS})
            assert result.exit_code == 0, result.output
    # a citing title carries markup a browser must show as text: run, it would log and fetch
    conn = sqlite3.connect(tmp / "state/monitor.db")
    conn.execute("update citers set title = ? where id = (select min(id) from citers)", [HOSTILE])
    conn.commit()
    conn.close()
    result = CliRunner().invoke(cli, ["report", "--config", str(tmp / "config.toml")])
    assert result.exit_code == 0, result.output
    return tmp / "state/report"


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


@pytest.mark.parametrize("page", ["index.html", "works/10.1016-j.drup.2021.100752.html", "archive"])
def test_loads_from_file_with_no_console_errors_and_no_network(site, tmp_path, page):
    if page == "archive":
        [day] = (site / "archive").iterdir()
        page = f"archive/{day.name}/works/10.1016-j.drup.2021.100752.html"
    proc, urls = load((site / page).as_uri(), tmp_path)
    assert "</html>" in proc.stdout and "Citation report" in proc.stdout  # the DOM was built
    if "works/" in page:  # the hostile title is text in the DOM, not an element
        assert "&lt;script&gt;console.error(\"ran\")&lt;/script&gt; &amp; co" in proc.stdout
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert urls == set()


@pytest.mark.parametrize("name, size", [("desktop", "1280,2400"), ("phone", "390,2400")])
def test_screenshots_at_desktop_and_phone_widths(site, tmp_path, name, size):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{name}.png"
    shot.unlink(missing_ok=True)
    page = (site / "works/10.1016-j.drup.2021.100752.html").as_uri()
    proc = chromium(page, tmp_path, f"--window-size={size}", f"--screenshot={shot}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == int(size.split(",")[0])
