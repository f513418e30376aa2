"""The impact report, rendered from stored data: every section's numbers against the database."""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import time
import xml.etree.ElementTree as ET
from datetime import UTC

import pytest

from tests import headline_views as views
from tests.conftest import DEFAULT_DOI

PAGE = "state/report/works/10.1016-j.drup.2021.100752.html"
KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}


@pytest.fixture
def site(write_config, invoke, tmp_path):
    """Two runs of every source (keys set) against the fake: a populated database and site."""
    config = write_config()
    for _ in range(2):
        result = invoke("run", "--config", str(config), env=KEYS)
        assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.row_factory = sqlite3.Row
    return config, conn, (tmp_path / PAGE).read_text()


def section(page: str, anchor: str) -> str:
    """The HTML from a heading with id=anchor to the next h2."""
    start = page.index(f'id="{anchor}"')
    end = page.find("<h2", start + 1)
    return page[start : end if end > 0 else None]


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, re.DOTALL)]


def test_headline_is_the_highest_source_count_when_the_lists_are_shorter(site):
    _, conn, page = site
    listed = "from citing_works where doi = ? and sources is not null"  # some source lists it now
    total = conn.execute(f"select count(*) {listed}", [DEFAULT_DOI]).fetchone()[0]
    own = conn.execute(f"select count(*) {listed} and is_self_citation = 1", [DEFAULT_DOI]).fetchone()[0]
    from monitor.sources import SOURCES

    counting = [s for s, m in SOURCES.items() if m.SPEC.counts_citations]
    highest, source = conn.execute(
        f"select citations, source from latest_counts where outcome = 'ok' and source in "
        f"({','.join('?' * len(counting))}) order by citations desc limit 1", counting
    ).fetchone()
    assert highest > total > own > 0  # the constructed lists hold fewer works than the sources count
    headline = section(page, "citations")
    assert views.from_work_page(page) == highest
    assert f"{highest} citations · {SOURCES[source].SPEC.title}; {total} distinct citing works" in headline
    assert f'<div class="figure">{highest - own}</div><div class="label">without self-citations' in headline


def test_each_source_row_shows_its_latest_count(site):
    _, conn, page = site
    table = section(page, "citations")
    rows = {r[0]: r for r in conn.execute("select source, citations, outcome from latest_counts")}
    from monitor.sources import SOURCES

    for source, (name, citations, outcome) in rows.items():
        spec = SOURCES[source].SPEC
        if not spec.counts_citations:
            continue
        assert outcome == "ok"
        row = re.search(rf"<th scope=\"row\">{re.escape(spec.title)}</th>(.*?)</tr>", table, re.DOTALL)
        assert row, source
        assert cells(row.group(1))[0] == str(citations)


def test_metrics_come_from_the_stored_observations(site):
    _, conn, page = site
    metrics = {}
    for source, raw in conn.execute(
        "select o.source, o.metrics from observation_details o join latest_counts l on l.observation_id = o.id"
    ):
        metrics[source] = json.loads(raw)
    block = section(page, "metrics")
    assert f"{metrics['openalex']['fwci']:.2f}" in block
    assert f"{metrics['icite']['relative_citation_ratio']:.2f}" in block
    assert f"{metrics['dimensions']['field_citation_ratio']:.2f}" in block
    assert f"<td class=\"num\">{metrics['semanticscholar']['influential_citations']}</td>" in block
    assert f"<td class=\"num\">{metrics['icite']['cited_by_clinical_count']}</td>" in block  # clinical citations
    assert f"{metrics['icite']['expected_citations_per_year']:.2f}" in block
    assert f"{metrics['icite']['field_citation_rate']:.2f}" in block
    assert f"{metrics['icite']['apt']:.2f}" in block
    assert f"{metrics['altmetric']['altmetric_score']:.2f}" in block


def test_citations_per_year_equal_openalex_counts_by_year(site):
    _, conn, page = site
    (raw,) = conn.execute(
        "select o.metrics from observation_details o join latest_counts l on l.observation_id = o.id where o.source = 'openalex'"
    ).fetchone()
    by_year = json.loads(raw)["counts_by_year"]
    table = section(page, "charts")
    for year, n in by_year.items():
        assert f'<th scope="row">{year}</th><td class="num">{n}' in table
    assert "<svg" in table and "<title>Cumulative citations over all years" in table


def test_citing_works_and_coverage_match_the_ledger(site):
    _, conn, page = site
    rows = conn.execute("select * from citing_works where doi = ?", [DEFAULT_DOI]).fetchall()
    listing = section(page, "citing-all")
    assert listing.count("<li>") == len(rows)
    for row in rows:
        assert (row["title"] or f"PMID {row['citing_pmid']}") in listing
    self_cites = sum(r["is_self_citation"] for r in rows)
    assert listing.count(">self-citation</span>") == self_cites
    coverage = section(page, "coverage")
    union = [r for r in rows if r["sources"]]
    for source in {s for r in rows for s in (r["sources"] or "").split(",") if s}:
        from monitor.sources import SOURCES

        listed = sum(1 for r in rows if source in (r["sources"] or "").split(","))
        row = re.search(rf"<th scope=\"row\">{re.escape(SOURCES[source].SPEC.title)}</th>(.*?)</tr>", coverage, re.DOTALL)
        assert cells(row.group(1))[0] == f"{listed} of {len(union)}"


def test_who_cites_counts_venues(site):
    _, conn, page = site
    (venue, n) = conn.execute(
        "select c.venue, count(*) from citations e join citers c on c.id = e.citer_id "
        "where c.venue is not null group by c.venue order by count(*) desc, c.venue limit 1"
    ).fetchone()
    assert f"<td>{venue}</td><td class=\"num\">{n}</td>" in section(page, "who")


def test_portal_page_contents_are_all_there(site, fake_api):
    """Everything the university portal shows for the default article (../shared/seed)."""
    _, _, page = site
    scopus = fake_api.records["scopus"][DEFAULT_DOI]["citedby-count"]
    for text in [
        "Emerging role of autophagy in anti-tumor immunity",
        "Ting Jiang", "Xisha Chen", "Xingcong Ren", "Jin Ming Yang", "Yan Cheng",
        "Drug Resistance Updates", "article number 100752", "published 2021-05",
        "Immunotherapies such as CAR-T cell transfer",  # abstract
        "Tumor microenvironment (TME)",  # keywords
        "Oncology",  # subject areas
        'id="fingerprint"',
        f"<th scope=\"row\">Scopus</th>\n      <td class=\"num\">{scopus}</td>",
        'id="cite"', "Jiang, T., Chen, X., Ren, X., Yang, J. M., &amp; Cheng, Y. (2021)",
        "Drug Resist Updat. 2021 May;56:100752.",  # Vancouver: NLM's abbreviation and month
        "@article{Jiang2021", "TY  - JOUR",
    ]:
        assert text in page, text


def detail(tmp_path) -> dict:
    return json.loads((tmp_path / "state/report/works/10.1016-j.drup.2021.100752.json").read_text())


def test_report_json_has_the_same_numbers(site, tmp_path):
    _, conn, page = site
    data = json.loads((tmp_path / "state/report/report.json").read_text())
    [work] = data["works"]
    assert work["doi"] == DEFAULT_DOI and work["detail"] == "works/10.1016-j.drup.2021.100752.json"
    sources = detail(tmp_path)["sources"]
    latest = {r["source"]: r["citations"] for r in conn.execute("select source, citations from latest_counts")}
    assert {s["source"]: s["citations"] for s in sources} == latest
    counted = [s["citations"] for s in sources if s["counts_citations"] and s["outcome"] == "ok"]
    listed = len([c for c in detail(tmp_path)["citing_works"] if c["sources"]])
    assert work["headline"]["value"] == max([*counted, listed]) == views.from_work_page(page)
    assert work["headline"]["citing_works"] == listed
    low, high = min(counted), max(counted)
    assert work["source_range"] == {"lowest": low, "highest": high, "sources": len(counted)}


def test_a_citing_title_with_script_is_shown_as_text(site, invoke, tmp_path):
    config, conn, _ = site
    conn.execute("update citers set title = '<script>alert(1)</script> & co', updated_at = '2099-01-01' "
                 "where id = (select min(id) from citers)")  # as the ledger does: a change moves updated_at
    conn.commit()
    assert invoke("report", "--config", str(config)).exit_code == 0
    for path in (tmp_path / "state/report").rglob("*.html"):
        assert "<script>" not in path.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in (tmp_path / PAGE).read_text()
    ET.parse(tmp_path / "state/report/feed.atom")  # still well-formed XML


def test_pages_are_self_contained(site, tmp_path):
    for path in (tmp_path / "state/report").rglob("*.html"):
        html = path.read_text()
        assert "<script" not in html and "<img" not in html
        assert not re.search(r'<link[^>]+rel="stylesheet"', html)
        assert "@import" not in html and "url(" not in html
        assert not re.search(r'src="https?:', html)


def test_templates_beside_the_config_override_the_shipped_ones(write_config, invoke, tmp_path):
    config = write_config(only=("openalex", "crossref"))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates/index.html").write_text("custom index: {{ site.totals.works }} works")
    invoke("run", "--config", str(config))
    assert (tmp_path / "state/report/index.html").read_text() == "custom index: 1 works"
    assert "Drug Resistance Updates" in (tmp_path / PAGE).read_text()  # not overridden: shipped


def test_an_override_added_later_is_used_by_the_next_report_of_the_same_process(write_config, invoke, tmp_path):
    config = write_config(only=("openalex", "crossref"))
    (tmp_path / "templates").mkdir()  # an override folder that overrides nothing yet
    (tmp_path / "templates/README.txt").write_text("overrides go here")
    invoke("run", "--config", str(config))  # compiles and keeps the shipped templates
    assert "custom" not in (tmp_path / "state/report/index.html").read_text()
    (tmp_path / "templates/index.html").write_text("custom index")
    invoke("report", "--config", str(config))
    assert (tmp_path / "state/report/index.html").read_text() == "custom index"
    (tmp_path / "templates/index.html").write_text("edited index")
    os.utime(tmp_path / "templates/index.html", (time.time() + 5, time.time() + 5))  # a newer mtime
    invoke("report", "--config", str(config))
    assert (tmp_path / "state/report/index.html").read_text() == "edited index"


def test_a_failed_source_is_never_shown_as_zero(write_config, invoke, fake_api, tmp_path):
    known = fake_api.records["crossref"][DEFAULT_DOI]["is-referenced-by-count"]
    config = write_config(only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    fake_api.inject("crossref", status=503, times=None)
    invoke("run", "--config", str(config))
    row = re.search(r'<th scope="row">Crossref</th>(.*?)</tr>', section((tmp_path / PAGE).read_text(), "citations"), re.DOTALL)
    text = row.group(1)
    assert "—" in cells(text)[0] and "failed" in text and "HTTP 503" in text
    assert f"Last known count {known} (unchanged since " in text


def test_report_of_an_empty_database_says_so(tmp_path, invoke):
    config = tmp_path / "config.toml"
    config.write_text('[[works]]\ndoi = "10.1016/j.drup.2021.100752"\n')  # in config, not yet in the database
    result = invoke("report", "--config", str(config))
    assert result.exit_code == 0
    assert "No works are tracked yet" in (tmp_path / "state/report/index.html").read_text()


def test_the_report_says_where_provenance_was_pruned(write_config, invoke, fake_api, tmp_path):
    from datetime import datetime, timedelta

    from monitor import retention, store

    config = write_config(only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    db = store.open_db(tmp_path / "state/monitor.db")
    result = retention.prune(db, timedelta(days=0), datetime.now(UTC) + timedelta(seconds=1))
    db.close()
    assert result.bodies > 0
    invoke("report", "--config", str(config))
    page = (tmp_path / PAGE).read_text()
    assert "body pruned on" in section(page, "provenance")
    count = fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    assert re.search(rf'<th scope="row">OpenAlex</th>\s*<td class="num">{count}</td>', section(page, "citations"))  # kept


def test_accessible_structure(site, tmp_path):
    """Headings never skip a level; every table has header cells; charts have a title."""
    for path in [tmp_path / PAGE, tmp_path / "state/report/index.html"]:
        html = path.read_text()
        assert '<html lang="en">' in html
        levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", html)]
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
        for table in re.findall(r"<table>.*?</table>", html, re.DOTALL):
            assert "<th" in table
        for svg in re.findall(r"<svg.*?</svg>", html, re.DOTALL):
            assert 'role="img"' in svg and "<title>" in svg and "<desc>" in svg


def test_the_last_runs_alerts_are_shown(write_config, invoke, fake_api, tmp_path):
    from tests.fakeapi.routes import openalex as fake_openalex

    config = write_config(only=("openalex", "crossref"), extra="[citing]\nenabled = false\n")
    invoke("run", "--config", str(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 60)  # +19: a jump, and past the 50 milestone
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    messages = [m for (m,) in conn.execute("select message from alerts where run_id = 2")]
    assert messages
    index, page = (tmp_path / "state/report/index.html").read_text(), (tmp_path / PAGE).read_text()
    for message in messages:
        escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
        assert escaped in index and escaped in page
    invoke("run", "--config", str(config))  # a quiet run: the alerts are the last run's only
    assert "Alerts from the last run" not in (tmp_path / PAGE).read_text()


def test_backfill_counts_the_citations_older_than_the_yearly_window():
    """OpenAlex's counts_by_year cover recent years only: the rest of the total came before them."""
    from datetime import date

    from monitor import analysis
    from monitor.charts import Series

    by_year = {str(y): 15 for y in range(2017, 2027)}  # 150 in the window
    total = 200  # so 50 are older than 2017
    observed = Series("OpenAlex", ((date(2024, 6, 1), 162), (date(2026, 6, 1), total)))
    backfilled = analysis.backfill_from_years(observed, by_year, total, "2010-03-01")
    assert backfilled.backfill[0] == (date(2010, 3, 1), 0)
    ends = dict(backfilled.backfill[1:])
    assert ends[date(2017, 12, 31)] == 50 + 15
    assert ends[date(2023, 12, 31)] == 50 + 7 * 15
    assert date(2024, 12, 31) not in ends  # after the first snapshot: observed, not estimated


def test_ledger_series_skips_rows_with_no_usable_date():
    from datetime import date

    from monitor import analysis

    rows = [
        {"first_seen_at": "2026-01-02T06:00:00+00:00", "published": "2024-13", "year": None},
        {"first_seen_at": "2026-01-02T06:00:00+00:00", "published": None, "year": 2023},
        {"first_seen_at": "2026-01-02T06:00:00+00:00", "published": "2025-02-10", "year": 2025},
    ]
    series = analysis.ledger_series(rows, date(2026, 1, 2))
    assert series.points == ((date(2026, 1, 2), 3),)
    assert series.backfill == ((date(2023, 7, 1), 1), (date(2025, 2, 10), 2))


def test_a_sources_url_never_becomes_a_script_link(write_config, invoke, tmp_path):
    config = write_config(only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")

    def open_copy(url: str) -> str:
        conn.execute("update payloads set body = json_set(body, '$.is_oa', json('true'), '$.oa_url', ?) "
                     "where id in (select metadata_id from observations where source = 'openalex')", [url])
        conn.commit()
        assert invoke("report", "--config", str(config), "--rebuild").exit_code == 0
        return section((tmp_path / PAGE).read_text(), "content")

    assert '<a href="https://example.org/open.pdf">read the open copy</a>' in open_copy("https://example.org/open.pdf")
    page = open_copy("JavaScript:alert(1)")
    assert "alert(1)" not in page and "read the open copy" not in page and "Open access: <strong>yes" in page


def test_the_index_marks_a_retraction_notice_as_a_retraction(write_config, invoke, tmp_path):
    config = write_config(only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    notice = json.dumps([{"type": "retraction", "label": "Retraction", "doi": "10.1016/j.drup.2026.000001"}])
    conn.execute("update payloads set body = json_set(body, '$.updated_by', json(?)) "
                 "where id in (select metadata_id from observations where source = 'crossref')", [notice])
    conn.commit()
    assert invoke("report", "--config", str(config), "--rebuild").exit_code == 0
    index = (tmp_path / "state/report/index.html").read_text()
    assert '<span class="mark bad">Retracted</span>' in index and "Corrected" not in index
    assert 'role="note"><strong>Retraction</strong>' in (tmp_path / PAGE).read_text()


def test_the_cumulative_chart_has_its_numbers_in_a_table_and_in_report_json(site, tmp_path):
    _, conn, page = site
    charts = section(page, "charts")
    data = detail(tmp_path)
    for source, title in (("openalex", "OpenAlex"), ("crossref", "Crossref")):
        days = conn.execute(
            "select day, citations from count_history where doi = ? and source = ?", [DEFAULT_DOI, source]
        ).fetchall()
        assert days
        for day, citations in days:
            assert f'<tr><th scope="row">{title}</th><td>{day}</td><td class="num">{citations}</td></tr>' in charts
        [line] = [s for s in data["cumulative"] if s["label"] == title]
        assert line["observed"] == [{"day": day, "citations": citations} for day, citations in days]
    distinct = conn.execute("select count(*) from citing_works where doi = ?", [DEFAULT_DOI]).fetchone()[0]
    [ledger_line] = [s for s in data["cumulative"] if s["label"] == "Distinct citing works"]
    assert ledger_line["observed"][-1]["citations"] == distinct


def test_report_json_has_the_who_cites_counts_of_the_page(site, tmp_path):
    _, _, page = site
    who = detail(tmp_path)["who_cites"]
    assert who["venues"] and set(who) == {"venues", "fields", "countries", "institutions"}
    for heading, counts in who.items():
        for item in counts:
            assert f"<td>{item['name']}</td><td class=\"num\">{item['works']}</td>" in section(page, "who"), heading


def test_run_health_marks_the_failed_sources(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "crossref"))
    fake_api.inject("crossref", status=503, times=None)
    invoke("run", "--config", str(config))
    health = section((tmp_path / "state/report/index.html").read_text(), "run-health")
    assert re.search(r'<th scope="row">Crossref</th>\s*<td class="failed">error</td>', health)
    assert re.search(r'<th scope="row">OpenAlex</th>\s*<td class="">ok</td>', health)


def test_a_citing_work_every_source_dropped_is_shown_but_not_counted(tmp_path):
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome, Work
    from monitor.report import pages

    db = store.open_db(tmp_path / "monitor.db")
    store.sync_works(db, [Work(DEFAULT_DOI)], datetime(2026, 1, 1, tzinfo=UTC))
    for day, dois in ((1, ("10.1/kept", "10.1/dropped")), (2, ("10.1/kept",))):  # complete lists
        now = datetime(2026, 1, day, 6, tzinfo=UTC)
        records = tuple(CitingRecord("opencitations", doi=d, title=f"Citing work {d}") for d in dois)
        with db.atomic():
            citing.save_list(db, store.start_run(db, now), 1,
                             CitingList(DEFAULT_DOI, "opencitations", Outcome.OK, records, complete=True), [], {}, now)
    ctx = pages.context(db, None, ("apa",), True)
    [work] = store.works_rows(db)
    page = pages.build_work(db, work, ctx)
    db.close()
    assert (page.headline.now.value, page.headline.now.without_self_citations) == (1, 1)
    assert page.headline.now.basis == "citing_works"
    assert [(c.doi, c.sources) for c in page.citing] == [("10.1/kept", ("OpenCitations",)), ("10.1/dropped", ())]
    [cov] = page.coverage
    assert (cov.listed, cov.union, cov.missing) == (1, 1, ())
    assert page.series[-1].points[-1][1] == 1


def test_counts_above_the_ledger_are_explained(site):
    _, conn, page = site
    total = conn.execute("select count(*) from citing_works where doi = ?", [DEFAULT_DOI]).fetchone()[0]
    above = conn.execute(
        "select source, citations from latest_counts where citations > ? order by source", [total]
    ).fetchall()
    assert above  # the constructed lists hold fewer works than the sources count
    note = section(page, "citations")
    from monitor.sources import title_of

    for source, citations in above:
        assert f"{title_of(source)} counts {citations}" in note


def test_after_a_quiet_run_each_figure_traces_to_the_first_response_that_gave_it(write_config, invoke, fake_api,
                                                                                 tmp_path):
    """A second run finds the same values: the page is not written again, and its provenance
    still leads, through ``citation-monitor provenance``, to a stored raw response holding
    the figure (the first run's, which first said it)."""
    from monitor import store

    config = write_config(only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    invoke("run", "--config", str(config))  # the page now has a previous run to compare with
    before = (tmp_path / PAGE).read_text(), (tmp_path / PAGE).stat().st_ino
    invoke("run", "--config", str(config))
    assert ((tmp_path / PAGE).read_text(), (tmp_path / PAGE).stat().st_ino) == before  # the same file
    db = store.open_db(tmp_path / "state/monitor.db")
    first = {r["source"]: r["id"] for r in db.query(
        "SELECT source, min(id) AS id FROM observations GROUP BY source")}
    assert db.execute("SELECT count(DISTINCT run_id) FROM observations").fetchone()[0] == 3
    db.close()
    rows = dict(re.findall(r'<th scope="row">(\w+)</th><td class="num">(\d+)</td>',
                           section((tmp_path / PAGE).read_text(), "provenance")))
    assert rows == {"OpenAlex": str(first["openalex"]), "Crossref": str(first["crossref"])}
    count = fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    traced = invoke("provenance", "--config", str(config), rows["OpenAlex"])
    assert traced.exit_code == 0 and f"citations: {count}" in traced.output
    assert f'"cited_by_count": {count}' in traced.output  # the raw response itself
