"""Collections through `citation-monitor run` against the fake: membership over time,
new-work alerts, untracked works, refresh_days, and group metrics equal to hand-computed ones."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from monitor import job, store
from monitor.config import load_config
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.routes.orcid import simple_record

ORCID = "0000-0002-1825-0097"
OTHER_ORCID = "0000-0002-9079-593X"  # valid, but no record at the fake
NO_CITING = "\n[citing]\nenabled = false\n"


def person(fake_api, orcid_works, openalex_works, orcid=ORCID):
    """A person: ORCID lists ``orcid_works`` (doi, title); OpenAlex lists ``openalex_works``
    (doi, title, citations, extra work fields), each also found by DOI for the source look-up."""
    fake_api.records["orcid"][orcid] = simple_record(orcid, orcid_works)
    fake_openalex.add_listing(fake_api, f"author.orcid:{orcid}", [
        fake_openalex.listed_work(doi, title, 2022, f"W{abs(hash(doi)) % 10**9}", count, **fields)
        for doi, title, count, fields in openalex_works
    ])


def collection_toml(name="lab", key="orcid", value=ORCID, **more):
    lines = ["", "[[collections]]", f'name = "{name}"', f'{key} = "{value}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in more.items()]
    return "\n".join(lines) + "\n"


def rows(config_path, sql, params=()):
    config = load_config(config_path, environ={})
    db = store.open_db(config.database)
    try:
        return [dict(r) for r in db.query(sql, list(params))]
    finally:
        db.close()


def current(config_path, name="lab"):
    return sorted(r["doi"] for r in rows(
        config_path, "SELECT doi FROM collection_works WHERE collection = ? AND left_at IS NULL", [name]))


def test_a_collection_from_orcid_and_openalex_is_exactly_the_united_set(write_config, invoke, fake_api):
    person(
        fake_api,
        [("10.1000/a.1", "A"), ("https://doi.org/10.1000/B.2", "B")],
        [("10.1000/b.2", "B", 5, {}), ("10.1000/c.3", "C", 7, {}), (None, "D", 1, {})],
    )
    path = write_config(works=[], only=("openalex",), extra=NO_CITING + collection_toml())
    result = invoke("run", "--config", str(path), "--status")
    assert result.exit_code == 0, result.output
    assert "Asking 1 sources about 0 works and 1 collection…" in result.output
    assert "collection lab  ok  3 works (+3, -0), 1 skipped" in result.output
    assert current(path) == ["10.1000/a.1", "10.1000/b.2", "10.1000/c.3"]
    # every member is tracked and asked about; the DOI-less work is listed as skipped
    asked = rows(path, "SELECT w.doi, o.outcome FROM observations o JOIN works w ON w.id = o.work_id")
    assert {(r["doi"], r["outcome"]) for r in asked} == {
        ("10.1000/a.1", "not_found"), ("10.1000/b.2", "ok"), ("10.1000/c.3", "ok")}
    [skip] = rows(path, "SELECT item, reason, title FROM collection_skips")
    assert skip["reason"] == "no DOI in OpenAlex" and skip["title"] == "D"
    listed = invoke("collections", "--config", str(path))
    assert listed.exit_code == 0
    assert "lab" in listed.output and "3 works" in listed.output and "ORCID 0000-0002-1825-0097" in listed.output
    assert "skipped: W" in listed.output and "no DOI in OpenAlex" in listed.output


def test_a_new_work_is_tracked_from_the_run_it_appears_in_with_its_alert(write_config, invoke, fake_api):
    person(fake_api, [("10.1000/a.1", "A")], [])
    path = write_config(works=[], only=("openalex",), extra=NO_CITING + collection_toml(label="Ada's lab"))
    first = invoke("run", "--config", str(path), "--status")
    assert "Alert:" not in first.output  # the first listing is the baseline, not news
    person(fake_api, [("10.1000/a.1", "A"), ("10.1000/n.2", "A brand new paper")], [])
    second = invoke("run", "--config", str(path), "--status")
    assert "Alert: New work by Ada's lab: “A brand new paper” (doi:10.1000/n.2)" in second.output
    assert current(path) == ["10.1000/a.1", "10.1000/n.2"]
    [alert] = rows(path, "SELECT doi, kind, run_id FROM alerts WHERE kind = 'new_work'")
    assert alert == {"doi": "10.1000/n.2", "kind": "new_work", "run_id": 2}
    asked = rows(path, "SELECT o.run_id FROM observations o JOIN works w ON w.id = o.work_id "
                       "WHERE w.doi = '10.1000/n.2'")
    assert [r["run_id"] for r in asked] == [2]
    third = invoke("run", "--config", str(path), "--status")
    assert "Alert: New work" not in third.output


def test_a_collection_that_shrinks_keeps_history_and_untracks_what_left(write_config, invoke, fake_api):
    person(fake_api, [("10.1000/a.1", "A"), ("10.1000/b.2", "B"), (DEFAULT_DOI, "Default")], [])
    path = write_config(works=[DEFAULT_DOI], only=("openalex",), extra=NO_CITING + collection_toml())
    invoke("run", "--config", str(path))
    person(fake_api, [("10.1000/a.1", "A")], [])
    result = invoke("run", "--config", str(path), "--status")
    assert "collection lab  ok  1 works (+0, -2)" in result.output
    assert current(path) == ["10.1000/a.1"]
    works = {r["doi"]: r for r in rows(path, "SELECT doi, tracked, untracked_at FROM works")}
    assert works["10.1000/b.2"]["tracked"] == 0 and works["10.1000/b.2"]["untracked_at"]
    assert works[DEFAULT_DOI]["tracked"] == 1  # left the collection, still in [[works]]
    left = rows(path, "SELECT left_run_id FROM collection_works WHERE doi = '10.1000/b.2'")
    assert left == [{"left_run_id": 2}]
    asked = rows(path, "SELECT o.run_id FROM observations o JOIN works w ON w.id = o.work_id "
                       "WHERE w.doi = '10.1000/b.2'")
    assert [r["run_id"] for r in asked] == [1]  # history kept, not asked since


def test_a_work_removed_from_works_is_marked_untracked(write_config, invoke, fake_api):
    path = write_config(works=[DEFAULT_DOI, "10.1000/x.1"], only=("openalex",), extra=NO_CITING)
    invoke("run", "--config", str(path))
    path = write_config(works=[DEFAULT_DOI], only=("openalex",), extra=NO_CITING)
    invoke("run", "--config", str(path))
    works = {r["doi"]: r["tracked"] for r in rows(path, "SELECT doi, tracked FROM works")}
    assert works == {DEFAULT_DOI: 1, "10.1000/x.1": 0}
    asked = rows(path, "SELECT DISTINCT o.run_id FROM observations o JOIN works w ON w.id = o.work_id "
                       "WHERE w.doi = '10.1000/x.1'")
    assert asked == [{"run_id": 1}]


def test_an_orcid_that_does_not_exist_is_a_clear_line_and_the_run_goes_on(write_config, invoke, fake_api):
    person(fake_api, [("10.1000/a.1", "A")], [])
    extra = NO_CITING + collection_toml() + collection_toml("ghost", value=OTHER_ORCID)
    path = write_config(works=[DEFAULT_DOI], only=("openalex",), extra=extra)
    result = invoke("run", "--config", str(path))  # quiet: only problems
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"collection ghost  not_found  0 works: ORCID has no record {OTHER_ORCID} "
        "(HTTP 404: The resource was not found.); check the iD in config.toml"
    )
    assert current(path) == ["10.1000/a.1"]
    assert {r["doi"] for r in rows(path, "SELECT DISTINCT w.doi FROM observations o JOIN works w "
                                         "ON w.id = o.work_id")} == {DEFAULT_DOI, "10.1000/a.1"}


def test_a_work_in_two_collections_is_tracked_once_and_counted_in_each(write_config, invoke, fake_api):
    person(fake_api, [("10.1000/a.1", "A"), ("10.1000/s.2", "Shared")], [("10.1000/s.2", "Shared", 3, {})])
    extra = NO_CITING + collection_toml() + collection_toml("list", key="works", value="x").replace(
        'works = "x"', 'works = ["10.1000/S.2", "https://doi.org/10.1000/z.3"]')
    path = write_config(works=[], only=("openalex",), extra=extra)
    assert invoke("run", "--config", str(path)).exit_code == 0
    per_source = rows(path, "SELECT w.doi, count(*) AS n FROM observations o JOIN works w ON w.id = o.work_id "
                            "GROUP BY w.doi ORDER BY w.doi")
    assert per_source == [{"doi": d, "n": 1} for d in ("10.1000/a.1", "10.1000/s.2", "10.1000/z.3")]
    metrics = {r["collection"]: (r["works"], r["citations"]) for r in rows(path, "SELECT * FROM collection_metrics")}
    assert metrics == {"lab": (2, 3), "list": (2, 3)}  # the shared work's 3 citations count in each


def test_refresh_days_resolves_again_only_when_due(write_config, fake_api):
    person(fake_api, [("10.1000/a.1", "A")], [])
    path = write_config(works=[], only=("openalex",), extra=NO_CITING + collection_toml(refresh_days=7))
    config = load_config(path, environ={})
    start = datetime(2026, 11, 2, 6, tzinfo=UTC)
    for day, asked in ((0, 1), (1, 1), (6, 1), (7, 2)):
        result = job.run_job(config, write_report=False, now=lambda d=day: start + timedelta(days=d))
        assert len(fake_api.hits("orcid")) == asked, day
        assert result.summary.collections[0].size == 1
    assert result.summary.collections[0].outcome is not None
    # the days in between kept the stored members: their run asked the sources about the work
    assert len(rows(path, "SELECT * FROM observations")) == 4


def test_group_metrics_equal_hand_computed_values(write_config, invoke, fake_api, tmp_path):
    """Six works; OpenAlex is the only source, so each headline is its OpenAlex count.

    Citations 25, 12, 10, 3, 0 and one work OpenAlex does not index:
    - citations 25+12+10+3+0 = 50; not indexed 1;
    - h-index: ranked 25, 12, 10, 3, 0 → 3 works have at least 3 (the 4th has 3 < 4): h = 3;
    - i10: 25, 12 and 10 are at least 10: 3;
    - top 10 %: flagged on 25 and 12, not on 10, 3, 0 → 2 of 5 known = 0.4; top 1 %: 25 only → 0.2;
    - open access: 25 and 3 open, the other three closed → 2 of 5 = 0.4;
    - FWCI 3.0, 1.5, 1.0, 0.5 (none for 0): mean 6/4 = 1.5, median (1.0 + 1.5) / 2 = 1.25.
    """
    def work(doi, count, top10, top1, oa, fwci):
        return (doi, doi, count, {
            "citation_normalized_percentile": {"value": 0.5, "is_in_top_1_percent": top1, "is_in_top_10_percent": top10},
            "open_access": {"is_oa": oa, "oa_status": "gold" if oa else "closed", "oa_url": None,
                            "any_repository_has_fulltext": False},
            "fwci": fwci,
        })

    works = [
        work("10.1000/m.1", 25, True, True, True, 3.0),
        work("10.1000/m.2", 12, True, False, False, 1.5),
        work("10.1000/m.3", 10, False, False, False, 1.0),
        work("10.1000/m.4", 3, False, False, True, 0.5),
        work("10.1000/m.5", 0, False, False, False, None),
    ]
    person(fake_api, [(w[0], w[1]) for w in works] + [("10.1000/m.6", "Not indexed")], works)
    path = write_config(works=[], only=("openalex",), extra=NO_CITING + collection_toml())
    assert invoke("run", "--config", str(path)).exit_code == 0
    [row] = rows(path, "SELECT * FROM collection_metrics")
    assert (row["collection"], row["run_id"], row["works"], row["not_indexed"]) == ("lab", 1, 6, 1)
    assert (row["citations"], row["h_index"], row["i10_index"]) == (50, 3, 3)
    assert (row["top_10_percent_share"], row["top_1_percent_share"], row["open_access_share"]) == (0.4, 0.2, 0.4)
    assert (row["fwci_mean"], row["fwci_median"]) == (1.5, 1.25)
    assert row["rcr_mean"] is None  # iCite was not asked: unknown, not 0
    # the collection's page and report.json show the same values
    [lab] = json.loads((tmp_path / "state/report/report.json").read_text())["collections"]
    assert {k: lab["metrics"][k] for k in ("works", "citations", "h_index", "i10_index", "top_10_percent_share",
                                           "top_1_percent_share", "open_access_share", "fwci_median")} == {
        "works": 6, "citations": 50, "h_index": 3, "i10_index": 3, "top_10_percent_share": 0.4,
        "top_1_percent_share": 0.2, "open_access_share": 0.4, "fwci_median": 1.25}
    page = (tmp_path / "state/report/collections/lab.html").read_text()
    cards = {label.strip(): value for value, label in re.findall(
        r'<li><span class="figure">([^<]+)</span> ([^<(]+)', page)}
    assert (cards["works"], cards["citations"], cards["h-index"], cards["i10-index"], cards["not indexed yet"]) == (
        "6", "50", "3", "3", "1")
    assert (cards["in the top 10 %"], cards["in the top 1 %"], cards["open access"]) == ("40 %", "20 %", "40 %")
    assert cards["FWCI mean, median 1.25"] == "1.50" and cards["RCR mean"] == "—"


@pytest.mark.parametrize("kind, value", [("openalex_author", "A5017898742"), ("ror", "https://ror.org/02nr0ka47")])
def test_author_and_institution_collections_run(write_config, invoke, fake_api, kind, value):
    if kind == "ror":
        fake_openalex.add_institution(fake_api, "02nr0ka47", "Example University")
        clause = "institutions.ror:02nr0ka47"
    else:
        fake_openalex.add_author(fake_api, value, "Ada Example")
        clause = f"author.id:{value}"
    fake_openalex.add_listing(fake_api, clause, [fake_openalex.listed_work("10.1000/o.1", "O", 2024, "W1", 4)])
    path = write_config(works=[], only=("openalex",), extra=NO_CITING + collection_toml(key=kind, value=value))
    assert invoke("run", "--config", str(path)).exit_code == 0
    assert current(path) == ["10.1000/o.1"]
    [row] = rows(path, "SELECT display_name FROM collections")
    assert row["display_name"] in ("Ada Example", "Example University")


def test_an_openalex_key_never_reaches_a_stored_resolution_url(write_config, invoke, fake_api):
    key = "resolver-secret-key-0123456789"
    fake_openalex.add_author(fake_api, "A5017898742", "Ada Example")
    fake_openalex.add_listing(fake_api, "author.id:A5017898742", [fake_openalex.listed_work("10.1000/o.1", "O", 2024, "W1")])
    extra = NO_CITING + collection_toml(key="openalex_author", value="A5017898742")
    path = write_config(works=[], only=("openalex",), extra=extra)
    result = invoke("run", "--config", str(path), env={"OPENALEX_API_KEY": key})
    assert result.exit_code == 0, result.output
    assert all(r.arg("api_key") == key for r in fake_api.hits("openalex"))  # it was sent
    urls = [r["url"] for r in rows(path, "SELECT url FROM responses")]
    assert len(urls) == 3 and not any(key in u for u in urls)  # the author, its one short page, the look-up
    assert all("api_key=REDACTED" in u for u in urls)
