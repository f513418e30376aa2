"""Collections in the report: a page per collection, the index's list of them, report.json's
``collections``, the feed's new works; works no longer tracked listed apart everywhere.

Through `citation-monitor run` against the fake (a person's ORCID record that grows, then
shrinks), and on synthetic databases for the site's incremental build and past days.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from monitor import portfolio, store
from monitor.config import load_config
from monitor.group_metrics import changes
from monitor.report import write_report
from tests import headline_views as views
from tests import synthetic_db
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.routes.orcid import simple_record
from tests.mail import email_section
from tests.test_report_json import check_site

ORCID = "0000-0002-1825-0097"
OLD, NEW = "10.1000/a.1", "10.1000/n.2"
ATOM = "{http://www.w3.org/2005/Atom}"
LAB = """
[citing]
enabled = false

[[collections]]
name = "lab"
label = "Ada's lab"
orcid = "0000-0002-1825-0097"
recipients = ["ada@example.org"]
"""


def person(fake_api, works):
    """ORCID lists ``works`` (doi → OpenAlex count); OpenAlex knows each by its DOI."""
    fake_api.records["orcid"][ORCID] = simple_record(ORCID, [(doi, f"Paper {doi[-3:]}") for doi in works])
    fake_openalex.add_listing(fake_api, f"author.orcid:{ORCID}", [])
    for i, (doi, count) in enumerate(works.items()):
        fake_openalex.add_listing(fake_api, f"by-doi:{doi}", [
            fake_openalex.listed_work(doi, f"Paper {doi[-3:]}", 2021, f"W{700 + i}", count)])


def entries(site):
    feed = ET.parse(site / "feed.atom").getroot()
    return [
        {"title": e.findtext(f"{ATOM}title"), "summary": e.findtext(f"{ATOM}summary"),
         "categories": [(c.get("term"), c.get("label")) for c in e.findall(f"{ATOM}category")],
         "related": [link.get("href") for link in e.findall(f"{ATOM}link") if link.get("rel") == "related"]}
        for e in feed.findall(f"{ATOM}entry")
    ]


def test_a_new_work_reaches_the_feed_the_collection_page_and_its_digest_and_a_work_that_left_is_apart(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    person(fake_api, {OLD: 5})
    config = str(write_config(works=[], only=("openalex",), extra=email_section(inbox.port) + LAB))
    assert invoke("run", "--config", config).exit_code == 0

    person(fake_api, {OLD: 8, NEW: 2})  # a new paper, and 3 new citations of the old one
    assert invoke("run", "--config", config).exit_code == 0
    site = tmp_path / "state/report"
    alert = "New work by Ada's lab: “Paper n.2” (doi:10.1000/n.2)"
    # the feed: the new work's entry, tagged with its collection, related to its page
    [new] = [e for e in entries(site) if e["title"] == f"New work: {alert}"]
    assert new["categories"] == [("collection:lab", "Ada's lab")]
    assert new["related"] == ["https://example.org/citations/collections/lab.html"]  # [email] report_url
    # the collection's page: its alert, its works (the new one among them), its new works
    page = (site / "collections/lab.html").read_text()
    assert alert in html.unescape(page)
    assert set(re.findall(r'<tr data-doi="([^"]+)"', page)) == {OLD, NEW}
    assert re.search(r'id="joined".*?Paper n\.2.*?first listed', page, re.DOTALL)
    assert views.from_index(page) == {OLD: 8, NEW: 2}  # the index's own rows, with their headlines
    # report.json: the collection with its members and its metrics' change since run 1
    report = json.loads((site / "report.json").read_text())
    [lab] = report["collections"]
    assert (lab["name"], lab["title"], lab["page"], sorted(lab["members"])) == ("lab", "Ada's lab", "collections/lab.html", [OLD, NEW])
    assert (lab["metrics"]["works"], lab["metrics"]["citations"], lab["metrics"]["h_index"]) == (2, 10, 2)
    change = lab["change_since_previous_run"]
    assert (change["works"], change["citations"], change["h_index"], change["i10_index"]) == (1, 10 - 5, 2 - 1, 0)
    # the index lists the collection before the works
    index = (site / "index.html").read_text()
    assert index.index('id="collections"') < index.index('id="works"')
    assert re.search(r'<tr data-collection="lab">.*?>2<.*?>10<', index, re.DOTALL)
    # the collection's digest, to its own recipients, names it and its new work
    lab_mail = [m for e, m in zip(inbox.envelopes, inbox.messages, strict=True) if e.rcpt_tos == ["ada@example.org"]]
    [message] = lab_mail
    assert message["Subject"] == """Ada's lab: 3 new citations of "Paper a.1" (now 8) (+1 more alert)"""
    plain = " ".join(message.get_body(("plain",)).get_content().split())
    assert "Ada's lab: 2 works (+1), 10 citations (+5), h-index 2 (+1), i10-index 0" in plain
    assert "; 1 new work. https://example.org/citations/collections/lab.html" in plain
    assert f"New work: {alert}" in plain

    person(fake_api, {NEW: 2})  # the old paper leaves the record: no longer tracked
    assert invoke("run", "--config", config).exit_code == 0
    assert check_site(site) == 1  # report.json and every works/*.json validate against the schemas
    report = json.loads((site / "report.json").read_text())
    assert [w["doi"] for w in report["works"]] == [NEW]
    [gone] = report["untracked"]
    assert gone["doi"] == OLD and gone["headline"]["value"] == 8 and gone["untracked_at"]
    assert gone["run_id"] == 2  # its last figures are those of the last run that asked
    assert (report["totals"]["works"], report["totals"]["untracked"]) == (1, 1)
    assert views.from_whole_index(site) == {NEW: 2}
    assert report["collections"][0]["metrics"]["citations"] == 2
    untracked = (site / "untracked.html").read_text()
    assert 'data-doi="10.1000/a.1"' in untracked and "as of" in untracked
    assert "No longer tracked</strong> since" in (site / "works/10.1000-a.1.html").read_text()
    page = (site / "collections/lab.html").read_text()
    assert set(re.findall(r'<tr data-doi="([^"]+)"', page)) == {NEW}
    assert re.search(r'id="left".*?Paper a\.1.*?left \d{4}-\d\d-\d\d', page, re.DOTALL)
    # the feed's entries about it no longer quote its last figure as current
    about_old = [e for e in entries(site) if "a.1" in e["summary"] and "New work" not in e["title"]]
    assert about_old and all("No longer tracked since" in e["summary"] and "Now:" not in e["summary"]
                             for e in about_old)


def test_collection_pages_are_rebuilt_with_the_index_and_equal_a_full_rebuild(tmp_path):
    dois = synthetic_db.populate(tmp_path / "state/monitor.db", works=24)
    synthetic_db.add_collections(tmp_path / "state/monitor.db", dois, untracked=2)
    (tmp_path / "config.toml").write_text(synthetic_db.CONFIG)
    config = load_config(tmp_path / "config.toml")
    write_report(config)
    site = tmp_path / "state/report"
    before = {p.name: p.stat().st_ino for p in (site / "works").iterdir()}
    write_report(config)  # nothing changed: every work page is linked, the collection pages written again
    assert {p.name: p.stat().st_ino for p in (site / "works").iterdir()} == before
    pages = {p.name: p.read_bytes() for p in (site / "collections").iterdir()}
    assert set(pages) == {f"{slug}{order}.html" for slug in ("lab", "group") for order in ("", ".by-change", ".by-title")}
    write_report(config, rebuild=True)
    assert {p.name: p.read_bytes() for p in (site / "collections").iterdir()} == pages
    # the first half of the works, one that joined, not the one that left nor the untracked
    lab = (site / "collections/lab.html").read_text()
    assert set(re.findall(r'<tr data-doi="([^"]+)"', lab)) == set(dois[:12]) | {dois[12]}
    assert f'data-doi="{dois[-1]}"' not in (site / "index.html").read_text()


def test_a_past_day_shows_each_collection_as_it_stood_then(tmp_path, invoke):
    dois = synthetic_db.populate(tmp_path / "state/monitor.db", works=24)
    synthetic_db.add_collections(tmp_path / "state/monitor.db", dois, untracked=2)
    (tmp_path / "config.toml").write_text(synthetic_db.CONFIG)
    out = tmp_path / "day1"
    result = invoke("report", "--config", str(tmp_path / "config.toml"), "--as-of", "2026-01-05", "--output", str(out))
    assert result.exit_code == 0, result.output
    lab = (out / "collections/lab.html").read_text()
    # at run 1 the work that joined later was not there, the one that left later was
    assert set(re.findall(r'<tr data-doi="([^"]+)"', lab)) == set(dois[:12]) | {dois[13]}
    assert "Metrics as of run #1" in lab and 'id="joined"' not in lab
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["untracked"] == 0  # untracked only since the last run
    assert [c["run_id"] for c in report["collections"]] == [1, 1]


def test_changes_since_the_previous_run_and_over_30_days(tmp_path):
    """Snapshots on days 0, 20 and 40: the change since the previous run is from day 20,
    the change over 30 days from day 0 (the latest at least 30 days before day 40)."""
    db = store.open_db(tmp_path / "monitor.db")
    start = datetime(2026, 1, 1, 6, tzinfo=UTC)
    db.execute("INSERT INTO collections (name, kind, definition, added_at, defined_at) VALUES "
               "('lab', 'works', 'works: 10.1/a', ?, ?)", [store.iso(start), store.iso(start)])
    for run, (day, citations, h) in enumerate(((0, 10, 1), (20, 15, 2), (40, 27, 3)), start=1):
        at = store.iso(start + timedelta(days=day))
        db.execute("INSERT INTO runs (id, started_at, finished_at, status) VALUES (?, ?, ?, 'ok')", [run, at, at])
        db.execute("INSERT INTO collection_snapshots (collection_id, run_id, computed_at, works, citations, "
                   "h_index, not_indexed) VALUES (1, ?, ?, 1, ?, ?, 0)", [run, at, citations, h])
    [lab] = portfolio.summaries(db)
    db.close()
    assert (lab.since_previous_run["citations"], lab.since_previous_run["h_index"]) == (27 - 15, 3 - 2)
    assert (lab.change_30d["citations"], lab.change_30d["h_index"]) == (27 - 10, 3 - 1)
    assert lab.since_previous_run["i10_index"] is None  # unknown then and now: no change, not 0
    assert changes({"works": 1} | dict.fromkeys(("citations", "citations_this_year", "h_index", "i10_index",
                                                  "h5_index", "not_indexed")), None)["works"] is None


def test_page_names_are_unique_and_stay(tmp_path):
    db = store.open_db(tmp_path / "monitor.db")
    for name in ("Lab X", "lab-x", "Ünïversity / ROR", "!!!"):
        db.execute("INSERT INTO collections (name, kind, definition, added_at, defined_at) "
                   "VALUES (?, 'works', 'works:', '', '')", [name])
    assert portfolio.slugs(db) == {"Lab X": "lab-x", "lab-x": "lab-x-2", "Ünïversity / ROR": "university-ror",
                                   "!!!": "collection"}
    db.close()


def test_a_page_cache_of_the_layout_before_is_emptied_not_misread(tmp_path):
    """A cache written before ``tracked`` existed: its pages are forgotten (the next report
    builds every page), never read without the column."""
    import sqlite3

    from monitor.report.cache import PageCache

    path = tmp_path / "cache.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                           "INSERT INTO meta VALUES ('generation', 'g1');"
                           "CREATE TABLE pages (work_id INTEGER PRIMARY KEY, doi TEXT, row_html TEXT);"
                           "INSERT INTO pages VALUES (1, '10.1/a', '<tr></tr>');")
    cache = PageCache(path)
    try:
        assert cache.start("g1") is False  # not the site now served: every page is built
        assert cache.count() == 0 and cache.totals(None)["untracked"] == 0
    finally:
        cache.close()
