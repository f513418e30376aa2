"""`citation-monitor run` end to end: config → real HTTP to the fake → SQLite → report."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import crossref as fake_crossref
from tests.fakeapi.routes import openalex as fake_openalex


@pytest.fixture
def write_config(write_config):
    """These tests are about the backbone: just OpenAlex and Crossref."""
    return functools.partial(write_config, only=("openalex", "crossref"))


def latest(db_path: Path) -> dict[str, dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("select * from latest_counts").fetchall()
    conn.close()
    return {row["source"]: dict(row) for row in rows}


def source_row(page: str, title: str) -> list[str]:
    """The cells of one source's row in a work page's table of counts: count, change, ..."""
    match = re.search(rf'<th scope="row">{title}</th>((?:\s*<td[^>]*>[^<]*</td>)+)', page)
    assert match, f"no row for {title}"
    return [c.strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", match.group(1))]


def test_run_stores_fixture_counts_and_writes_report(write_config, invoke, fake_api, tmp_path):
    config = write_config()
    result = invoke("run", "--config", str(config), "--status")
    assert result.exit_code == 0, result.output
    expected_openalex = fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    expected_crossref = fake_api.records["crossref"][DEFAULT_DOI]["is-referenced-by-count"]
    rows = latest(tmp_path / "state/monitor.db")
    assert set(rows) == {"openalex", "crossref"}
    assert rows["openalex"]["outcome"] == "ok"
    assert rows["openalex"]["citations"] == expected_openalex
    assert rows["crossref"]["citations"] == expected_crossref
    # one status line per source
    assert f"openalex  ok               {expected_openalex} citations" in result.output
    assert f"crossref  ok               {expected_crossref} citations" in result.output
    index = (tmp_path / "state/report/index.html").read_text()
    assert "Emerging role of autophagy in anti-tumor immunity" in index
    page = (tmp_path / "state/report/works/10.1016-j.drup.2021.100752.html").read_text()
    assert "Drug Resistance Updates" in page
    assert "Ting Jiang" in page and "Yan Cheng" in page
    assert "article number 100752" in page
    assert 'href="https://doi.org/10.1016/j.drup.2021.100752"' in page


def test_both_sources_are_asked_in_one_batch_request_each(write_config, invoke, fake_api):
    dois = [DEFAULT_DOI, "10.9999/unknown.1", "10.9999/unknown.2"]
    invoke("run", "--config", str(write_config(works=dois)))
    openalex_hits = [h for h in fake_api.hits("openalex", "/works") if h.arg("filter").startswith("doi:")]
    crossref_hits = fake_api.hits("crossref", "/works")
    assert len(openalex_hits) == 1 and len(crossref_hits) == 1
    assert openalex_hits[0].arg("filter") == "doi:" + "|".join(dois)
    assert crossref_hits[0].arg("filter") == ",".join(f"doi:{d}" for d in dois)
    assert crossref_hits[0].arg("mailto") == "monitor-tests@example.org"
    assert "mailto:monitor-tests@example.org" in crossref_hits[0].headers["user-agent"]


def test_second_run_with_changed_counts_shows_the_change(write_config, invoke, fake_api, tmp_path):
    config = write_config()
    assert invoke("run", "--config", str(config)).exit_code == 0
    before = fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    fake_openalex.set_count(fake_api, DEFAULT_DOI, before + 3)
    fake_crossref.set_count(fake_api, DEFAULT_DOI, 30)
    crossref_before = 35
    assert invoke("run", "--config", str(config)).exit_code == 0
    rows = latest(tmp_path / "state/monitor.db")
    assert rows["openalex"]["citations"] == before + 3
    page = (tmp_path / "state/report/works/10.1016-j.drup.2021.100752.html").read_text()
    assert source_row(page, "OpenAlex")[:2] == [str(before + 3), "+3"]
    assert source_row(page, "Crossref")[:2] == ["30", str(30 - crossref_before)]  # a drop: negative
    index = (tmp_path / "state/report/index.html").read_text()
    assert "+3 since previous run" in index  # the headline (OpenAlex's count) rose by 3


def test_429_then_200_is_ok(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("openalex", status=429, headers={"Retry-After": "0"})
    result = invoke("run", "--config", str(write_config()))
    assert result.exit_code == 0, result.output
    assert latest(tmp_path / "state/monitor.db")["openalex"]["outcome"] == "ok"
    assert len([h for h in fake_api.hits("openalex") if h.arg("filter", "").startswith("doi:")]) == 2


def test_long_retry_after_is_quota_exhausted_at_once(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("crossref", status=429, headers={"Retry-After": "54000"}, times=None)
    started = time.monotonic()
    result = invoke("run", "--config", str(write_config()))
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    rows = latest(tmp_path / "state/monitor.db")
    assert rows["crossref"]["outcome"] == "quota_exhausted"
    assert rows["crossref"]["citations"] is None
    assert "15.0 h" in rows["crossref"]["message"]
    assert rows["openalex"]["outcome"] == "ok"
    assert len(fake_api.hits("crossref")) == 1  # no retry once the quota is known spent
    assert "crossref  quota_exhausted" in result.output


def test_repeated_500s_are_an_error_while_the_other_source_is_ok(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("openalex", status=500, body=b"Internal Server Error", times=None)
    result = invoke("run", "--config", str(write_config()))
    assert result.exit_code == 1
    rows = latest(tmp_path / "state/monitor.db")
    assert rows["openalex"]["outcome"] == "error"
    assert rows["openalex"]["citations"] is None
    assert "HTTP 500" in rows["openalex"]["message"]
    assert rows["crossref"]["outcome"] == "ok"
    assert len(fake_api.hits("openalex")) == 3  # max_retries = 2 in the test config
    page = (tmp_path / "state/report/works/10.1016-j.drup.2021.100752.html").read_text()
    assert "HTTP 500" in page


def test_malformed_body_is_an_error_and_the_raw_body_is_kept(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("crossref", malformed=True)
    result = invoke("run", "--config", str(write_config()))
    assert result.exit_code == 1
    db = tmp_path / "state/monitor.db"
    row = latest(db)["crossref"]
    assert row["outcome"] == "error"
    assert "not valid JSON" in row["message"]
    conn = sqlite3.connect(db)
    body = conn.execute(
        "select b.body from responses r join raw_bodies b on b.sha256 = r.body_sha256 where r.id = ?",
        [row["response_id"]],
    ).fetchone()[0]
    assert zlib.decompress(body).startswith(b'{"results": [{"cited_by_count": 4')


def test_changed_schema_names_the_field(write_config, invoke, fake_api, tmp_path):
    del fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    result = invoke("run", "--config", str(write_config()))
    assert result.exit_code == 1
    row = latest(tmp_path / "state/monitor.db")["openalex"]
    assert row["outcome"] == "error" and row["citations"] is None
    assert "'cited_by_count' is missing" in row["message"]


def test_unknown_doi_is_not_found_with_no_count(write_config, invoke, tmp_path):
    result = invoke("run", "--config", str(write_config(works=["10.9999/does-not-exist"])))
    assert result.exit_code == 0, result.output  # the sources answered
    rows = latest(tmp_path / "state/monitor.db")
    assert {r["outcome"] for r in rows.values()} == {"not_found"}
    assert {r["citations"] for r in rows.values()} == {None}


def test_openalex_without_a_key_refused_is_not_configured(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("openalex", status=401, body=b'{"error": "API key required"}')
    result = invoke("run", "--config", str(write_config()))
    assert result.exit_code == 0, result.output  # not_configured is not a failure
    row = latest(tmp_path / "state/monitor.db")["openalex"]
    assert row["outcome"] == "not_configured"
    assert "https://openalex.org/settings/api" in row["message"]


def test_openalex_key_is_sent_but_never_stored(write_config, invoke, fake_api, tmp_path):
    secret = "sk-test-0123456789"
    invoke("run", "--config", str(write_config()), env={"OPENALEX_API_KEY": secret})
    assert fake_api.hits("openalex")[0].arg("api_key") == secret
    raw = (tmp_path / "state/monitor.db").read_bytes()
    assert secret.encode() not in raw
    for path in (tmp_path / "state/report").rglob("*.html"):
        assert secret not in path.read_text()
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    (url,) = conn.execute("select url from responses where source = 'openalex'").fetchone()
    assert "api_key=REDACTED" in url


def test_dropped_connection_and_slow_source(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("crossref", drop=True, times=None)
    fake_api.inject("openalex", delay=1, times=None)  # past its 0.3 s timeout
    config = write_config(sources={"openalex": {"timeout_seconds": 0.3}})
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 1
    rows = latest(tmp_path / "state/monitor.db")
    assert rows["crossref"]["outcome"] == "error"
    assert "cannot connect" in rows["crossref"]["message"] or "disconnected" in rows["crossref"]["message"]
    assert rows["openalex"]["outcome"] == "error"
    assert "timed out after 0.3s" in rows["openalex"]["message"]


def test_every_stored_count_points_at_its_raw_response(write_config, invoke, tmp_path):
    invoke("run", "--config", str(write_config()))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    for source, citations, body in conn.execute(
        "select o.source, o.citations, b.body from observations o join responses r on r.id = o.response_id "
        "join raw_bodies b on b.sha256 = r.body_sha256 where o.outcome = 'ok'"
    ):
        payload = json.loads(zlib.decompress(body))
        records = payload["results"] if source == "openalex" else payload["message"]["items"]
        field = "cited_by_count" if source == "openalex" else "is-referenced-by-count"
        assert records[0][field] == citations


def test_unchanged_responses_cost_no_new_body(write_config, invoke, tmp_path):
    config = write_config()
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    responses, bodies = conn.execute("select (select count(*) from responses), (select count(*) from raw_bodies)").fetchone()
    invoke("run", "--config", str(config))
    responses2, bodies2 = conn.execute("select (select count(*) from responses), (select count(*) from raw_bodies)").fetchone()
    assert responses2 == responses + 2  # one count request per source; lists are not due
    assert bodies2 == bodies  # the same bodies, stored once


def test_offline_run_records_failures_writes_report_and_exits_1(tmp_path):
    """The real CLI in a subprocess, every source pointed at a port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    from monitor.sources import SOURCES

    config = tmp_path / "config.toml"
    config.write_text(
        f'[monitor]\ncontact_email = ""\n[[works]]\ndoi = "{DEFAULT_DOI}"\n'
        "[http]\nmax_retries = 1\nbackoff_seconds = 0.01\n"
        + "".join(
            f'[sources.{name}]\nbase_url = "http://127.0.0.1:{closed}/{name}"\nrequests_per_second = 100\n'
            for name in SOURCES
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert re.search(r"^openalex +error +cannot connect to 127\.0\.0\.1", proc.stdout, re.MULTILINE)
    assert "no contact email" in proc.stderr  # warned once
    assert proc.stderr.count("no contact email") == 1
    page = (tmp_path / "state/report/works/10.1016-j.drup.2021.100752.html").read_text()
    assert "cannot connect to 127.0.0.1" in page
    rows = latest(tmp_path / "state/monitor.db")
    keyed = {"scopus", "altmetric", "unpaywall"}  # no key / no contact email: not_configured
    by_pmid = {"icite", "pubmed"}  # no source could give a PMID: not_found, no request
    assert {r["outcome"] for s, r in rows.items() if s not in keyed | by_pmid} == {"error"}
    assert {rows[s]["outcome"] for s in keyed} == {"not_configured"}
    assert {rows[s]["outcome"] for s in by_pmid} == {"not_found"}
    assert {r["citations"] for r in rows.values()} == {None}


def test_a_run_while_another_holds_the_lock_exits_3(write_config, invoke, tmp_path):
    from monitor.lock import run_lock

    config = write_config()
    with run_lock(tmp_path / "state/monitor.db"):
        result = invoke("run", "--config", str(config))
    assert result.exit_code == 3
    assert "another run holds the lock" in result.output
    assert invoke("run", "--config", str(config)).exit_code == 0  # released


def test_sources_lists_configuration_and_last_outcome_never_the_key(write_config, invoke, fake_api):
    config = write_config(sources={"crossref": {"enabled": False}})
    fake_api.inject("openalex", status=500, times=None)
    invoke("run", "--config", str(config))
    invoke("run", "--config", str(config))
    result = invoke("sources", "--config", str(config), env={"OPENALEX_API_KEY": "sk-secret-1"})
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "enabled" in lines["openalex"] and "key in $OPENALEX_API_KEY" in lines["openalex"]
    assert "error (2 failed runs in a row)" in lines["openalex"]
    assert fake_api.base_url("openalex") in lines["openalex"]
    assert "disabled" in lines["crossref"] and "never run" in lines["crossref"]
    assert "sk-secret-1" not in result.output


def test_run_is_quiet_under_cron_unless_something_fails(write_config, invoke, fake_api, tmp_path):
    """Cron mails whatever a job prints: print nothing when all went well."""
    config = write_config()
    result = invoke("run", "--config", str(config))  # standard output is not a terminal here
    assert result.exit_code == 0 and result.output == ""
    assert (tmp_path / "state/report/index.html").exists()
    fake_api.inject("crossref", status=500, times=None)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 1
    assert re.fullmatch(r"crossref +error +HTTP 500 from 127\.0\.0\.1:\d+ after 3 attempts\n", result.output)


def test_run_prints_status_alerts_and_report_on_a_terminal(write_config, invoke, fake_api, monkeypatch):
    from monitor import cli

    monkeypatch.setattr(cli, "is_terminal", lambda: True)
    config = write_config()
    invoke("run", "--config", str(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    lines = invoke("run", "--config", str(config)).output.splitlines()
    assert lines[0] == "Asking 2 sources about 1 work…"
    # each source's line as it finishes, in whatever order they finish
    assert sorted(lines[1:3]) == ["crossref  ok               35 citations", "openalex  ok               44 citations"]
    assert lines[3].startswith("Alert: 3 new citations of “Emerging role of autophagy")
    assert lines[4].startswith("Report: ") and len(lines) == 5
    assert invoke("run", "--config", str(config), "--quiet").output == ""
