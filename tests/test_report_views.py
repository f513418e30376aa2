"""One headline everywhere: the index, the work page and report.json show the same figure
for the same data, computed by monitor.headline; "New" agrees with the run's alerts."""

from __future__ import annotations

import json
import sqlite3

from tests import headline_views as views
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import openalex as fake_openalex

PAGE = "state/report/works/10.1016-j.drup.2021.100752.html"
SECOND = "10.1038/s41586-020-2649-2"  # a DOI no source of the fake knows


def read(tmp_path):
    site = tmp_path / "state/report"
    return (views.from_whole_index(site), views.from_work_page((site / PAGE.split("report/")[1]).read_text()),
            views.from_report_json(site / "report.json"))


def test_every_view_shows_the_same_headline_and_a_source_count_above_the_lists_wins(
    write_config, invoke, fake_api, tmp_path
):
    config = write_config(works=[DEFAULT_DOI, SECOND], only=("openalex", "crossref"))
    assert invoke("run", "--config", str(config)).exit_code in (0, 1)
    index, page, data = read(tmp_path)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    listed = conn.execute("select count(*) from citing_works where doi = ? and sources is not null",
                          [DEFAULT_DOI]).fetchone()[0]
    highest = conn.execute("select max(citations) from latest_counts where doi = ? and outcome = 'ok'",
                           [DEFAULT_DOI]).fetchone()[0]
    assert 0 < listed < highest  # the ledger lists fewer works than a source counts ...
    assert index[DEFAULT_DOI] == page == data[DEFAULT_DOI] == highest  # ... so the source's count heads
    assert index[SECOND] is None and data[SECOND] is None  # known to no source: "not indexed yet", never 0
    second = (tmp_path / "state/report/works/10.1038-s41586-020-2649-2.html").read_text()
    assert views.from_work_page(second) is None and "not indexed yet" in second


def test_the_headline_of_the_lists_when_they_exceed_every_count(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex",))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 1)  # OpenAlex counts 1, its list holds more
    assert invoke("run", "--config", str(config)).exit_code == 0
    index, page, data = read(tmp_path)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    listed = conn.execute("select count(*) from citing_works where sources is not null").fetchone()[0]
    assert listed > 1
    assert index[DEFAULT_DOI] == page == data[DEFAULT_DOI] == listed
    [work] = json.loads((tmp_path / "state/report/report.json").read_text())["works"]
    assert work["headline"]["basis"] == "citing_works"


def test_new_agrees_with_the_alert_of_the_same_run(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "crossref"), extra="[citing]\nenabled = false\n")
    invoke("run", "--config", str(config))
    before = fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    fake_openalex.set_count(fake_api, DEFAULT_DOI, before + 2)  # 2 new citations: a count-based alert
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    [(details,)] = conn.execute("select details from alerts where kind = 'new_citations' and run_id = 2")
    assert json.loads(details)["count"] == 2
    site = tmp_path / "state/report"
    assert views.new_from_index((site / "index.html").read_text())[DEFAULT_DOI] == "2"
    assert views.new_from_work_page((tmp_path / PAGE).read_text()) == "2"
    [work] = json.loads((site / "report.json").read_text())["works"]
    assert work["new_citations"] == 2
    invoke("run", "--config", str(config))  # quiet: no alert, and the sources answered
    assert views.new_from_index((site / "index.html").read_text())[DEFAULT_DOI] == "0"


def test_new_is_unknown_when_every_source_failed(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "crossref"), extra="[citing]\nenabled = false\n")
    invoke("run", "--config", str(config))
    fake_api.inject("openalex", status=503, times=None)
    fake_api.inject("crossref", status=503, times=None)
    assert invoke("run", "--config", str(config)).exit_code == 1
    site = tmp_path / "state/report"
    assert views.new_from_index((site / "index.html").read_text())[DEFAULT_DOI] == "—"
    page = (tmp_path / PAGE).read_text()
    assert views.new_from_work_page(page) == "—" and "unknown: its sources failed" in page
    assert views.from_work_page(page) == fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]  # last good count


def test_the_totals_add_up_the_rows(write_config, invoke, fake_api, tmp_path):
    config = write_config(works=[DEFAULT_DOI, SECOND], only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    data = json.loads((tmp_path / "state/report/report.json").read_text())
    assert data["totals"] == {
        "works": 2, "indexed": 1,
        "new": sum(w["new_citations"] or 0 for w in data["works"]),
        "with_alerts": sum(1 for w in data["works"] if w["alerts"]),
        "untracked": len(data["untracked"]),
    }
