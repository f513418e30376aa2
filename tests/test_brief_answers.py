"""Brief answers between whole records ([sources.openalex] metadata_days; monitor/plan.py,
store.carry_metadata): which works a run asks briefly, what a brief answer's observation
holds, and that every value in it can still be traced to the answer it was read from."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from monitor import plan, store
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.models import Observation, Outcome, SourceReport, Work
from monitor.sources import europepmc, openalex
from tests.conftest import DEFAULT_DOI, db_rows, real_json
from tests.fakeapi.routes import openalex as fake_openalex

_DOI_CLAUSES = re.compile(r'DOI:"([^"]+)"')

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
WORKS = [Work(f"10.1234/w{i}") for i in range(1, 7)]
COVERS = openalex.SPEC.brief_fields


def states(*ages_in_days: float | None) -> dict[str, plan.WorkState]:
    """WORKS[i] whose whole record was read ``ages_in_days[i]`` ago (None: never)."""
    return {
        w.doi: plan.WorkState(NOW, "ok", None, whole_at=None if age is None else NOW - timedelta(days=age))
        for w, age in zip(WORKS, ages_in_days)
    }


def test_a_work_read_whole_recently_is_asked_briefly_but_a_share_of_the_oldest_each_run():
    w1, w2, w3, w4, w5, w6 = (w.doi for w in WORKS)
    # never read whole (w1) or 30 days ago (w2, at the bound): whole. Of the rest, the
    # oldest are read whole too, up to ceil(6 works / 30 days) = 1 a run: here none more
    assert plan.briefly(WORKS, states(None, 30, 29, 1, 2, 3), 30.0, NOW) == {w3, w4, w5, w6}
    # nothing due: the oldest one (w3, 29 days) is read whole, so reads spread over the days
    assert plan.briefly(WORKS, states(0.5, 10, 29, 1, 2, 3), 30.0, NOW) == {w1, w2, w4, w5, w6}
    # 6 works over 2 days: 3 whole a run, the oldest first
    assert plan.briefly(WORKS, states(0.5, 1.5, 1.2, 0.1, 0.2, 0.3), 2.0, NOW) == {w4, w5, w6}
    # a work whose latest answer failed has no whole_at (work_states): whole
    assert w1 not in plan.briefly(WORKS, {**states(1, 1, 1, 1, 1, 1), w1: plan.WorkState(NOW, "error", None)},
                                  3650.0, NOW)
    # works read whole at every run (never found: no whole record) do not take the place of
    # the spread: of the four with a whole record, ceil(4 / 4 days) = 1 a run is read whole
    unfound = {w1: plan.WorkState(NOW, "not_found", None), w2: plan.WorkState(NOW, "not_found", None)}
    assert plan.briefly(WORKS, {**states(None, None, 3, 2, 1, 0.5), **unfound}, 4.0, NOW) == {w4, w5, w6}


@pytest.fixture
def config(write_config):
    return load_config(write_config(works=[w.doi for w in WORKS], only=("openalex", "unpaywall"),
                                    sources={"openalex": {"metadata_days": 30}}), environ={})


def observe(db, run_at: datetime, source: str, metadata: dict[str, dict], brief: tuple[str, ...] = ()) -> int:
    run_id = store.start_run(db, run_at)
    ids = store.sync_works(db, WORKS, run_at)
    observations = tuple(
        Observation(doi, source, Outcome.OK, citations=1, metadata=meta, brief=brief) for doi, meta in metadata.items()
    )
    store.save_source(db, run_id, ids, SourceReport(source, observations, ()), run_at)
    return run_id


def test_the_plan_reads_whole_the_works_due_first_and_says_so(config):
    db = store.open_db(config.database)
    w1, w2, w3, w4, w5, w6 = (w.doi for w in WORKS)
    observe(db, NOW - timedelta(days=40), "openalex", {w2: {"title": "2"}})
    observe(db, NOW - timedelta(days=5), "openalex", {d: {"title": d} for d in (w3, w4, w5, w6)})
    # a day ago, brief answers: w4's names an id its whole record did not have, w5's agrees
    observe(db, NOW - timedelta(days=1), "openalex", {w4: {"openalex_id": "W4"}, w5: {}}, brief=COVERS)
    part = plan.make(db, config, WORKS, NOW)["openalex"]
    # whole: w1 never answered, w2 read whole 40 days ago (1 read whole by age: no fewer than
    # ceil(4 / 30) a run), w4 whose brief answer disagreed; brief: w3, w6 and w5, whose whole
    # record (through its agreeing brief answer) is 5 days old
    assert len(part.works) == 6 and part.brief == {w3, w5, w6}
    assert [w.doi for w in part.works[:3]] == [w1, w2, w4]  # whole first: they batch apart
    assert part.describe().endswith("; whole records every 30 days (3 whole and 3 brief next run)")
    observe(db, NOW, "openalex", {w1: {"title": "1"}, w2: {"title": "2"}, w4: {"title": "4"}})
    part = plan.make(db, config, WORKS, NOW + timedelta(hours=1))["openalex"]
    assert part.brief == {w1, w2, w4, w5, w6}  # w3 (as old as w5 and w6) read whole: one a run
    assert not plan.make(db, config, WORKS, NOW)["unpaywall"].brief  # it has no brief answer
    unbriefed = replace(config.sources["openalex"], metadata_days=0.0)
    assert not plan.plan_source(db, config, unbriefed, WORKS, NOW).brief


def test_a_brief_answer_keeps_the_whole_record_it_agrees_with_and_says_whence(config):
    db = store.open_db(config.database)
    w1, w2, w3, *_ = (w.doi for w in WORKS)
    whole = {"title": "Whole", "authors": [{"name": "A"}], "openalex_id": "W1", "is_retracted": False}
    observe(db, NOW - timedelta(days=3), "openalex", {w1: whole, w2: whole, w3: {**whole, "pmid": "9"}})
    observe(db, NOW - timedelta(days=2), "openalex", {w1: {"openalex_id": "W1", "is_retracted": False}},
            brief=COVERS)
    observe(db, NOW - timedelta(days=1), "openalex", {
        w1: {"openalex_id": "W1", "is_retracted": False, "title": "Lite"},  # agrees; title not its to give
        w2: {"openalex_id": "W1", "is_retracted": True, "title": "Lite"},  # retracted since its whole record
        w3: {"openalex_id": "W1", "is_retracted": False},  # its PMID gone from the record
    }, brief=COVERS)
    rows = {(r["doi"], r["run_id"]): r for r in db_rows(
        config.database, "SELECT w.doi, o.id, o.run_id, o.metadata_id, o.metadata_from, d.metadata "
        "FROM observations o JOIN works w ON w.id = o.work_id JOIN observation_details d ON d.id = o.id")}
    first = {doi: rows[(doi, 1)] for doi in (w1, w2, w3)}
    for run_id in (2, 3):  # the same payload, not a copy; from the first run's whole record
        assert rows[(w1, run_id)]["metadata_id"] == first[w1]["metadata_id"]
        assert rows[(w1, run_id)]["metadata_from"] == first[w1]["id"]
    assert json.loads(rows[(w2, 3)]["metadata"]) == {**whole, "is_retracted": True}
    assert json.loads(rows[(w3, 3)]["metadata"]) == whole  # the brief answer's fields rule
    assert rows[(w2, 3)]["metadata_from"] == first[w2]["id"]
    assert all(rows[(doi, 1)]["metadata_from"] is None for doi in (w1, w2, w3))
    # a brief answer with no answer before it is kept as it came
    observe(db, NOW, "openalex", {WORKS[5].doi: {"openalex_id": "W6"}}, brief=COVERS)
    [alone] = db_rows(config.database, "SELECT metadata, metadata_from FROM observation_details WHERE run_id = 4")
    assert (json.loads(alone["metadata"]), alone["metadata_from"]) == ({"openalex_id": "W6"}, None)


def test_a_brief_record_gives_only_the_fields_it_names(fake_api):
    record = fake_api.records["openalex"][DEFAULT_DOI]
    brief = {k: record[k] for k in openalex.BRIEF_FIELDS.split(",") if k in record}
    whole, parsed = openalex.parse_work(record), openalex.parse_brief(brief)
    assert (parsed.citations, parsed.metrics) == (whole.citations, whole.metrics)
    assert parsed.metadata == {k: v for k, v in whole.metadata.items() if k in COVERS}
    assert set(parsed.metadata) <= set(COVERS) and parsed.metadata["openalex_id"] == whole.metadata["openalex_id"]
    assert parsed.brief == COVERS and not whole.brief
    assert len(json.dumps(brief)) * 5 < len(json.dumps(record))  # what a quiet night saves


def test_metadata_days_is_a_setting_of_a_source_with_a_brief_answer(write_config):
    with pytest.raises(ConfigError, match=r"metadata_days applies only to the sources with a brief answer \(openalex, europepmc\)"):
        load_config(write_config(sources={"crossref": {"metadata_days": 7}}), environ={})
    with pytest.raises(ConfigError, match="metadata_days must be"):
        load_config(write_config(sources={"openalex": {"metadata_days": -1}}), environ={})
    assert load_config(write_config(sources={"openalex": {"metadata_days": 7}}), environ={}
                       ).sources["openalex"].metadata_days == 7.0


def known_to_openalex(fake, count: int) -> list[str]:
    """``count`` more works OpenAlex knows, each its own copy of the default article's record."""
    dois = []
    for i in range(count):
        record = copy.deepcopy(fake.records["openalex"][DEFAULT_DOI])
        doi = f"10.1234/brief.{i}"
        record.update(doi=f"https://doi.org/{doi}", title=f"Brief work {i}", id=f"https://openalex.org/W77{i:08d}")
        record["ids"] = {"openalex": record["id"], "doi": record["doi"]}
        fake.records["openalex"][doi] = record
        dois.append(doi)
    return dois


def asked(fake, select: str) -> list[str]:
    """The DOIs OpenAlex was asked about with this ``select``, in order."""
    return [
        doi
        for hit in fake.hits("openalex", "/works")
        if hit.arg("select") == select and (hit.arg("filter") or "").startswith("doi:")
        for doi in unquote(hit.arg("filter") or "").removeprefix("doi:").split("|")
    ]


def test_runs_ask_briefly_between_whole_records_and_keep_every_value_traceable(write_config, invoke, fake_api):
    dois = [DEFAULT_DOI, *known_to_openalex(fake_api, 3)]
    path = write_config(works=dois, only=("openalex",), sources={"openalex": {"metadata_days": 3650}})
    db = path.parent / "state/monitor.db"

    def run() -> None:
        result = invoke("run", "--config", str(path))
        assert result.exit_code == 0, result.output

    run()
    assert sorted(asked(fake_api, openalex.WORK_FIELDS)) == sorted(dois) and not asked(fake_api, openalex.BRIEF_FIELDS)
    sources = invoke("sources", "--config", str(path)).output
    assert "whole records every 3650 days (1 whole and 3 brief next run)" in sources
    fake_openalex.set_count(fake_api, dois[3], 99)
    fake_api.requests.clear()
    run()
    # ceil(4 works / 3650 days) = 1 read whole (of four equally old, the first DOI in order)
    briefed = sorted(dois)[1:]
    assert asked(fake_api, openalex.BRIEF_FIELDS) == briefed and asked(fake_api, openalex.WORK_FIELDS) == sorted(dois)[:1]
    rows = {(r["doi"], r["run_id"]): r for r in db_rows(
        db, "SELECT w.doi, d.* FROM observation_details d JOIN works w ON w.id = d.work_id WHERE d.source = 'openalex'")}
    for doi in briefed:
        brief, whole = rows[(doi, 2)], rows[(doi, 1)]
        assert brief["metadata"] == whole["metadata"] and brief["metadata_from"] == whole["id"]
        assert json.loads(brief["metadata"])["title"].startswith(("Brief work", "Emerging role"))
    assert rows[(dois[3], 2)]["citations"] == 99  # the count is the brief answer's own
    [(moved_id, response_id)] = [(r["id"], r["response_id"]) for r in rows.values() if r["citations"] == 99]
    body = json.loads(store.raw_body(store.open_reader(db), db_rows(
        db, "SELECT body_sha256 FROM responses WHERE id = ?", [response_id])[0]["body_sha256"]))
    assert [r["cited_by_count"] for r in body["results"] if r["doi"].endswith(dois[3])] == [99]
    exported = {r["observation_id"]: r for r in json.loads(invoke("export", "--format", "json", "--config", str(path)).output)}
    assert exported[moved_id]["metadata_from"] == rows[(dois[3], 1)]["id"]  # an export traces it too
    told = invoke("provenance", "--config", str(path), str(moved_id)).output
    assert f"the rest as read whole by observation {rows[(dois[3], 1)]['id']}" in told
    assert "is_retracted, openalex_id, pmid, pmcid from it" in told

    # a brief answer saying the work is now retracted: the flag is new, the rest carried,
    # and the alert is raised as from a whole record
    fake_api.records["openalex"][dois[2]]["is_retracted"] = True
    fake_api.records["openalex"][dois[2]]["title"] = "A title a brief answer does not bring"
    fake_api.requests.clear()
    run()
    assert dois[2] in asked(fake_api, openalex.BRIEF_FIELDS)
    [latest] = db_rows(db, "SELECT d.metadata, d.metadata_from FROM observation_details d JOIN works w "
                       "ON w.id = d.work_id WHERE w.doi = ? AND d.run_id = 3", [dois[2]])
    metadata = json.loads(latest["metadata"])
    assert metadata["is_retracted"] is True and metadata["title"] == "Brief work 1"
    assert latest["metadata_from"] == rows[(dois[2], 1)]["id"]
    assert [a["kind"] for a in db_rows(db, "SELECT kind FROM alerts WHERE run_id = 3")] == ["retraction"]


def test_a_europe_pmc_lite_record_gives_the_ids_its_core_record_gives():
    """On recorded answers: each lite record's count and ids are its core record's."""
    lite = real_json("europepmc/search_lite_cancer_pageSize5_cursor_star.json")["resultList"]["result"]
    core = {r["id"]: r for r in real_json("europepmc/search_core_cancer_pageSize25.json")["resultList"]["result"]}
    both = [r for r in lite if r["id"] in core]
    assert both
    for record in both:
        brief, whole = europepmc.parse_brief(record), europepmc.parse_record(core[record["id"]])
        assert brief.citations == whole.citations and brief.brief == europepmc.SPEC.brief_fields
        assert brief.metadata == {k: v for k, v in whole.metadata.items() if k in europepmc.SPEC.brief_fields}


def test_europe_pmc_is_asked_lite_for_the_works_the_plan_names(fake_api, make_session):
    session = make_session(europepmc)
    session.brief = frozenset({DEFAULT_DOI})
    [brief] = europepmc.fetch([Work(DEFAULT_DOI)], session)
    session.brief = frozenset()
    [whole] = europepmc.fetch([Work(DEFAULT_DOI)], session)
    assert [h.arg("resultType") for h in fake_api.hits("europepmc", "/search")] == ["lite", "core"]
    assert brief.citations == whole.citations and brief.brief and not whole.brief
    assert brief.metadata == {k: v for k, v in whole.metadata.items() if k in europepmc.SPEC.brief_fields}
    assert len(brief.exchange.body) * 2 < len(whole.exchange.body)


def test_runs_ask_europe_pmc_lite_between_core_records_and_keep_the_core_metadata(write_config, invoke, fake_api):
    records = fake_api.records["europepmc"]
    dois = [DEFAULT_DOI]
    for i in range(3):  # more works Europe PMC knows, each its own copy of the default article's
        doi, pmid = f"10.1234/lite.{i}", str(39_000_000 + i)
        records[doi] = {**copy.deepcopy(records[DEFAULT_DOI]), "doi": doi, "id": pmid, "pmid": pmid,
                        "title": f"Lite work {i}."}
        dois.append(doi)
    path = write_config(works=dois, only=("europepmc",), sources={"europepmc": {"metadata_days": 3650}})
    db = path.parent / "state/monitor.db"
    for _ in range(2):
        result = invoke("run", "--config", str(path))
        assert result.exit_code == 0, result.output
    types = [(h.arg("resultType"), len(_DOI_CLAUSES.findall(h.arg("query") or "")))
             for h in fake_api.hits("europepmc", "/search")]
    assert types == [("core", 4), ("core", 1), ("lite", 3)]  # run 1; run 2: one whole a run, three lite
    rows = db_rows(db, "SELECT w.doi, d.run_id, d.id, d.metadata, d.metadata_from, d.citations FROM observation_details d "
                       "JOIN works w ON w.id = d.work_id WHERE d.source = 'europepmc' ORDER BY d.run_id, w.doi")
    first = {r["doi"]: r for r in rows if r["run_id"] == 1}
    briefed = [r for r in rows if r["run_id"] == 2 and r["metadata_from"] is not None]
    assert len(briefed) == 3
    for row in briefed:  # the core record's MeSH, abstract and title, the lite answer's count
        whole = first[row["doi"]]
        assert row["metadata"] == whole["metadata"] and row["metadata_from"] == whole["id"]
        assert "mesh" in json.loads(row["metadata"]) and row["citations"] == whole["citations"]
