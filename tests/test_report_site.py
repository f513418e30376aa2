"""The report site on disk: replaced as a whole (also when the report is killed), only
changed pages rebuilt, an archive kept for keep_archive_days, past days rebuilt on request."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.report import day_end, write_report
from tests import headline_views as views
from tests import synthetic_db
from tests.conftest import DEFAULT_DOI, ROOT

SITE = "state/report"


def synthetic(tmp_path: Path, works: int = 20, extra: str = "", runs: int = 3) -> Path:
    synthetic_db.populate(tmp_path / "state/monitor.db", works=works, runs=runs)
    config = tmp_path / "config.toml"
    config.write_text(synthetic_db.CONFIG + extra)
    return config


def home(tmp_path: Path) -> Path:
    return tmp_path / "state/.report.site"


def test_report_dir_is_a_link_to_a_complete_generation(tmp_path):
    config = synthetic(tmp_path)
    write_report(load_config(config))
    site = tmp_path / SITE
    assert site.is_symlink() and site.resolve().parent == home(tmp_path).resolve()
    first = site.resolve()
    write_report(load_config(config))
    assert site.resolve() != first  # a new generation, swapped in whole
    generations = sorted(p.name for p in home(tmp_path).iterdir() if p.name.startswith("g"))
    assert len(generations) == 2 and first.is_dir()  # the one before stays, for readers mid-page
    write_report(load_config(config))
    assert first.exists() is False and len([p for p in home(tmp_path).iterdir() if p.name.startswith("g")]) == 2


def inodes(site: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in (site / "works").iterdir()}


def rebuilt(before: dict[str, int], after: dict[str, int]) -> set[int]:
    """The works (by index) whose page files are new files, not links to the ones before."""
    return {int(name.split(".")[-2]) for name in after if after[name] != before.get(name)}


def add_run(tmp_path: Path, day: int, changed=(), unchanged=(), same_as: int = 0) -> None:
    from monitor import store

    db = store.open_db(tmp_path / "state/monitor.db")
    dois = [r["doi"] for r in store.works_rows(db)]
    with db.atomic():
        synthetic_db.add_run(db, dois, day, changed, unchanged=unchanged, same_as=same_as)
    db.close()


def test_only_the_works_that_changed_are_built_again(tmp_path):
    config = synthetic(tmp_path, works=20)
    write_report(load_config(config))
    site = tmp_path / SITE
    before = inodes(site)
    add_run(tmp_path, 3, [2, 5])  # a run that observed works 2 and 5 again
    write_report(load_config(config))
    assert rebuilt(before, inodes(site)) == {2, 5}
    # the unchanged pages are the same files (hard links); report.json says each work's last run
    works = {w["doi"]: w for w in json.loads((site / "report.json").read_text())["works"]}
    assert works["10.5555/synthetic.2"]["run_id"] == 4 and works["10.5555/synthetic.3"]["run_id"] == 3
    # and a full rebuild gives the same bytes as the incremental one
    kept = {p.name: p.read_bytes() for p in (site / "works").iterdir()}
    write_report(load_config(config), rebuild=True)
    assert {p.name: p.read_bytes() for p in (site / "works").iterdir()} == kept


def test_a_quiet_run_rewrites_only_the_works_whose_change_since_the_previous_run_moved(tmp_path):
    """Every work observed again with the same values: a page changes only where what it
    shows does (its "since the previous run" falls to 0); a second quiet run changes none,
    and one work whose value changed is the one page written."""
    works = 20
    config = synthetic(tmp_path, works=works)  # days 0, 1, 2: works i % 3 != 0 gain i % 3 a day
    write_report(load_config(config))
    site = tmp_path / SITE
    before = inodes(site)
    add_run(tmp_path, 3, unchanged=range(works), same_as=2)
    write_report(load_config(config))
    moved = {i for i in range(works) if synthetic_db.count(i, 2) != synthetic_db.count(i, 1)}
    assert moved and rebuilt(before, inodes(site)) == moved
    page = json.loads((site / "works/10.5555-synthetic.1.json").read_text())
    assert page["headline"]["change_since_previous_run"] == 0
    assert {s["since"][:10] for s in page["sources"]} == {"2026-01-07"}  # day 2: its last change
    index = (site / "index.html").read_text()
    row = index[index.index('data-doi="10.5555/synthetic.0"'):][:3000]  # cited the same since day 0
    assert "unchanged since 2026-01-05" in row[:row.index("</tr>")]

    before = inodes(site)
    add_run(tmp_path, 4, unchanged=range(works), same_as=2)
    write_report(load_config(config))
    assert rebuilt(before, inodes(site)) == set()
    works_json = {w["doi"]: w for w in json.loads((site / "report.json").read_text())["works"]}
    assert {w["run_id"] for w in works_json.values()} == {5}  # the pages kept are of the latest run

    before = inodes(site)
    add_run(tmp_path, 5, changed=[4], unchanged=[i for i in range(works) if i != 4], same_as=2)
    write_report(load_config(config))
    assert rebuilt(before, inodes(site)) == {4}
    page = json.loads((site / "works/10.5555-synthetic.4.json").read_text())
    assert page["headline"]["change_since_previous_run"] == synthetic_db.count(4, 5) - synthetic_db.count(4, 2)

    kept = {p.name: p.read_bytes() for p in (site / "works").iterdir()}
    write_report(load_config(config), rebuild=True)
    assert {p.name: p.read_bytes() for p in (site / "works").iterdir()} == kept


def test_a_change_leaving_the_30_day_window_rewrites_the_page(tmp_path):
    """No new value, but the window moves: on day 31 the change of day 1 is no longer
    within 30 days, so the pages that showed it are written again; the others are not."""
    works = 6
    config = synthetic(tmp_path, works=works, runs=2)  # days 0 and 1
    write_report(load_config(config))
    site = tmp_path / SITE

    def change_30d(i: int) -> int | None:
        return json.loads((site / f"works/10.5555-synthetic.{i}.json").read_text())["headline"]["change_30d"]

    add_run(tmp_path, 30, unchanged=range(works), same_as=1)
    write_report(load_config(config))
    # day 1's change is 29 days old: within the window
    assert [change_30d(i) for i in range(works)] == [
        synthetic_db.count(i, 1) - synthetic_db.count(i, 0) for i in range(works)]
    before = inodes(site)
    add_run(tmp_path, 31, unchanged=range(works), same_as=1)
    write_report(load_config(config))
    changed_on_day_1 = {i for i in range(works) if synthetic_db.count(i, 1) != synthetic_db.count(i, 0)}
    assert changed_on_day_1 and rebuilt(before, inodes(site)) == changed_on_day_1
    assert [change_30d(i) for i in range(works)] == [0] * works

    kept = {p.name: p.read_bytes() for p in (site / "works").iterdir()}
    write_report(load_config(config), rebuild=True)
    assert {p.name: p.read_bytes() for p in (site / "works").iterdir()} == kept


def test_a_plain_report_folder_becomes_the_first_generation(tmp_path):
    config = synthetic(tmp_path, works=3)
    site = tmp_path / SITE
    (site / "archive/2026-01-01").mkdir(parents=True)  # as an earlier version left it
    (site / "archive/2026-01-01/index.html").write_text("old day")
    (site / "index.html").write_text("old index")
    write_report(load_config(config, environ={}))
    assert site.is_symlink()
    assert (site / "archive/2026-01-01/index.html").read_text() == "old day"  # the archive moved along
    assert "old index" not in (site / "index.html").read_text()


def test_a_report_dir_that_is_a_file_is_a_one_line_error(tmp_path, invoke):
    config = synthetic(tmp_path, works=1)
    (tmp_path / SITE).write_text("not a folder")
    result = invoke("report", "--config", str(config))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "report_dir" in result.output and "is a file" in result.output


CHILD = "import sys; from monitor.config import load_config; from monitor.report import write_report; " \
        "write_report(load_config(sys.argv[1]))"


def test_a_killed_report_leaves_a_site_whose_files_agree(tmp_path):
    """kill -9 at random moments of ``report``: index.html and report.json always come from
    the same generation, and no half-written folder stays after the next report."""
    config = synthetic(tmp_path, works=40)
    write_report(load_config(config))
    from monitor import store

    rng = random.Random(11)
    db_path = tmp_path / "state/monitor.db"
    for trial in range(8):
        db = store.open_db(db_path)
        dois = [r["doi"] for r in store.works_rows(db)]
        with db.atomic():  # each report has new numbers to show
            synthetic_db.add_run(db, dois, 3 + trial, range(0, 40, 2))
        db.close()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(config)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        time.sleep(rng.uniform(0.2, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        site = tmp_path / SITE
        index = (site / "index.html").read_text()
        data = json.loads((site / "report.json").read_text())
        assert views.from_index(index) == {w["doi"]: w["headline"]["value"] for w in data["works"][:len(views.from_index(index))]}
        run = data["last_run"]["id"]
        assert f"Data as of run #{run}," in index
    write_report(load_config(config))
    leftovers = [p.name for p in home(tmp_path).iterdir() if p.name.startswith("tmp-")]
    assert leftovers == []
    assert len([p for p in home(tmp_path).iterdir() if p.name.startswith("g")]) == 2
    assert not list((tmp_path / "state").glob(".report.link-*"))


def test_the_archive_keeps_a_day_and_is_pruned_after_keep_archive_days(tmp_path):
    config = synthetic(tmp_path, works=5, extra="[report]\nkeep_archive_days = 30\n")
    archive = home(tmp_path) / "archive"
    for day in ("2025-01-01", "2026-01-01"):  # an old day and a recent one
        (archive / day).mkdir(parents=True)
    write_report(load_config(config))
    days = sorted(p.name for p in archive.iterdir())
    generated = json.loads((tmp_path / SITE / "report.json").read_text())["generated_at"][:10]
    assert days == sorted({"2026-01-01", generated} - {d for d in ["2026-01-01"] if d < _minus(generated, 30)})
    manifest = json.loads((archive / generated / "manifest.json").read_text())
    assert manifest["rebuild"] == f"citation-monitor report --as-of {generated}" and manifest["works"] == 5
    # the day's index, not a copy of every page: its links lead to today's pages
    assert not (archive / generated / "works").exists()
    assert 'href="../../works/10.5555-synthetic.0.html"' in (archive / generated / "index.html").read_text()


def _minus(day: str, days: int) -> str:
    return (datetime.fromisoformat(day) - timedelta(days=days)).date().isoformat()


def test_keep_archive_days_0_keeps_no_archive(tmp_path):
    config = synthetic(tmp_path, works=2, extra="[report]\nkeep_archive_days = 0\n")
    (home(tmp_path) / "archive/2026-01-01").mkdir(parents=True)
    write_report(load_config(config))
    assert list((home(tmp_path) / "archive").iterdir()) == []
    assert "Past reports" not in (tmp_path / SITE / "index.html").read_text()


def test_a_past_day_reuses_the_citations_the_current_site_formatted(tmp_path, monkeypatch):
    """Formatting "Cite this" is most of a page's cost: ``report --as-of`` takes each work's
    from the current site's cache when its record is the same, and formats only the others."""
    from monitor import cite

    works = 4
    config = synthetic(tmp_path, works=works)
    formatted = []
    real = cite.citations
    monkeypatch.setattr(cite, "citations", lambda *a: formatted.append(a[1]) or real(*a))
    write_report(load_config(config))
    assert len(formatted) == works
    day = synthetic_db.START.date().isoformat()
    write_report(load_config(config), as_of=day_end(day), out_dir=tmp_path / "past")
    assert len(formatted) == works  # the records are the same then: none formatted again

    def cite_this(site: Path) -> str:
        page = (site / "works/10.5555-synthetic.1.html").read_text()
        return page[page.index('id="cite"'):page.index('id="provenance"')]

    assert 'class="reference"' in cite_this(tmp_path / "past") and cite_this(tmp_path / "past") == cite_this(tmp_path / SITE)


def test_as_of_rebuilds_a_past_day_from_the_database(tmp_path, invoke):
    config = synthetic(tmp_path, works=4)
    assert invoke("report", "--config", str(config)).exit_code == 0
    day = synthetic_db.START.date().isoformat()  # the first run's day: one run then
    result = invoke("report", "--config", str(config), "--as-of", day)
    assert result.exit_code == 0, result.output
    past = home(tmp_path) / "archive" / day
    index = (past / "index.html").read_text()
    assert "Data as of run #1," in index and (past / "works/10.5555-synthetic.0.html").exists()
    then = json.loads((past / "report.json").read_text())
    now = json.loads((tmp_path / SITE / "report.json").read_text())
    assert then["works"][0]["headline"]["value"] == synthetic_db.count(0, 0)
    assert now["works"][0]["headline"]["value"] == synthetic_db.count(0, 1)


@pytest.mark.parametrize("day, message", [
    ("2020-01-01", "--as-of 2020-01-01: that is before the first run (2026-01-05); use 2026-01-05 or later"),
    ("2999-01-01", "--as-of 2999-01-01: that is after today"),
])
def test_as_of_outside_the_data_is_a_one_line_error_and_writes_nothing(tmp_path, invoke, day, message):
    config = synthetic(tmp_path, works=1)
    result = invoke("report", "--config", str(config), "--as-of", day)
    assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / SITE).exists() and not home(tmp_path).exists()


def test_as_of_without_any_run_says_so(tmp_path, invoke):
    (tmp_path / "config.toml").write_text(synthetic_db.CONFIG)
    result = invoke("report", "--config", str(tmp_path / "config.toml"), "--as-of", "2026-01-01")
    assert result.exit_code == 2 and "no run is recorded yet" in result.output


def test_as_of_must_be_a_date(write_config, invoke):
    result = invoke("report", "--config", str(write_config()), "--as-of", "last week")
    assert result.exit_code == 2 and "--as-of 'last week' is not a date; use YYYY-MM-DD" in result.output


def test_the_index_of_a_day_equals_its_rebuild(write_config, invoke, fake_api, tmp_path):
    """Today's archived index shows the numbers that `report --as-of TODAY` rebuilds."""
    config = write_config(only=("openalex", "crossref"))
    invoke("run", "--config", str(config))
    today = datetime.now(UTC).date().isoformat()
    archived = views.from_index((home(tmp_path) / "archive" / today / "index.html").read_text())
    assert archived == {DEFAULT_DOI: fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]}
    out = tmp_path / "rebuilt"
    assert invoke("report", "--config", str(config), "--as-of", today, "--output", str(out)).exit_code == 0
    assert views.from_index((out / "index.html").read_text()) == archived
    assert (out / "works/10.1016-j.drup.2021.100752.html").read_bytes() == \
        (tmp_path / SITE / "works/10.1016-j.drup.2021.100752.html").read_bytes()


def test_a_past_report_stays_what_the_data_said_then(write_config, invoke, fake_api, tmp_path):
    """Rebuilt after later runs, prunes and vanishings, --as-of DAY gives the same bytes."""
    from monitor import retention, store
    from tests.fakeapi.routes import openalex as fake_openalex

    config = write_config(only=("openalex", "crossref"))
    assert invoke("run", "--config", str(config)).exit_code == 0
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    tables = [t for (t,) in conn.execute("select name from sqlite_master where type = 'table'")]
    for table in tables:  # the first run happened on 2026-01-01
        for column in [c[1] for c in conn.execute(f'pragma table_info("{table}")') if c[1].endswith("_at")]:
            conn.execute(f'update "{table}" set "{column}" = ? where "{column}" is not null',
                         ["2026-01-01T06:00:00.000000+00:00"])
    conn.commit()
    conn.close()

    def past() -> dict[str, bytes]:
        out = tmp_path / "past"
        assert invoke("report", "--config", str(config), "--as-of", "2026-01-01", "--output", str(out)).exit_code == 0
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    then = past()
    assert '<td class="num">' in then["works/10.1016-j.drup.2021.100752.html"].decode()
    db = store.open_db(tmp_path / "state/monitor.db")
    assert retention.prune(db, timedelta(days=1), datetime.now(UTC)).bodies > 0
    db.close()
    record = fake_api.records["openalex"][DEFAULT_DOI]
    fake_openalex.set_count(fake_api, DEFAULT_DOI, record["cited_by_count"] + 1)
    citing_list = fake_api.records[fake_openalex.CITING][record["id"].rsplit("/", 1)[1]]
    del citing_list[-1]
    assert invoke("run", "--config", str(config)).exit_code == 0
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    assert conn.execute("select count(*) from citation_sources where gone_at is not null").fetchone()[0] == 1
    assert past() == then


@pytest.mark.parametrize("setting, message", [
    ("feed_entries = 0", "[report] feed_entries must be at least 1 and at most 1000, got 0"),
    ("keep_archive_days = -1", "[report] keep_archive_days must be at least 0 and at most 36500 days, got -1"),
    ("index_page_size = 5", "[report] index_page_size must be at least 10 and at most 1000, got 5"),
    ('citation_styles = ["apa", "no-such-style"]', "[report] citation_styles: 'no-such-style' is not a CSL style"),
    ("citation_styles = []", "[report] citation_styles is empty"),
    ("feed_entry = 5", "[report] has unknown key 'feed_entry'; did you mean 'feed_entries'?"),
])
def test_bad_report_settings_are_one_line_errors(tmp_path, invoke, setting, message):
    config = tmp_path / "config.toml"
    config.write_text(f"{synthetic_db.CONFIG}[report]\n{setting}\n")
    result = invoke("report", "--config", str(config))
    assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / SITE).exists()


def test_the_pager_stays_short_for_a_thousand_pages():
    from monitor.report.dashboard import IndexPage

    def numbers(number: int, pages: int) -> list[int | None]:
        return IndexPage("headline", number, pages, pages * 100, 1, ()).numbers

    assert numbers(1, 3) == [1, 2, 3]
    assert numbers(500, 1000) == [1, None, 497, 498, 499, 500, 501, 502, 503, None, 1000]
    assert numbers(1, 1000) == [1, 2, 3, 4, None, 1000]
    assert numbers(1000, 1000) == [1, None, 997, 998, 999, 1000]


def test_the_index_says_when_each_source_last_answered(tmp_path):
    """Work pages date figures by change; the index says when each source last confirmed them."""
    import sqlite3

    config = synthetic(tmp_path, works=2)  # runs 1-3, every source ok
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    with conn:
        conn.execute("UPDATE runs SET summary = json_set(summary, '$.crossref.outcome', 'error') WHERE id = 3")
    conn.close()
    write_report(load_config(config))
    index = (tmp_path / SITE / "index.html").read_text()
    health = index[index.index('id="run-health"'):]
    rows = {m[0]: m[1] for m in re.findall(r'<th scope="row">([^<]+)</th>.*?\(run #(\d+)\)', health, re.DOTALL)}
    assert rows == {"Crossref": "2", "OpenAlex": "3", "Semantic Scholar": "3"}
