"""Alert rules, on real databases built by running the CLI against the fake APIs."""

from __future__ import annotations

import functools
import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import crossref as fake_crossref
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.routes import opencitations as fake_opencitations
from tests.fakeapi.routes import scopus as fake_scopus

OC_CITING = fake_opencitations.CITING


@pytest.fixture
def write_config(write_config):
    """OpenAlex and Crossref for counts; tests that need a citing list add OpenCitations."""
    return functools.partial(write_config, only=("openalex", "crossref"))


@pytest.fixture
def run(invoke, tmp_path):
    """Run the CLI once on a config; return the alerts that run raised."""

    def run_once(config: Path, expect: int = 0) -> list[dict]:
        result = invoke("run", "--config", str(config))
        assert result.exit_code == expect, result.output
        return alerts_of(tmp_path / "state/monitor.db", latest=True)

    return run_once


def alerts_of(db: Path, latest: bool = False) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    where = "WHERE run_id = (SELECT max(id) FROM runs)" if latest else ""
    rows = [dict(r) for r in conn.execute(f"SELECT * FROM alerts {where} ORDER BY id")]
    conn.close()
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def oc_count(fake_api) -> int:
    return int(fake_api.records["opencitations"][DEFAULT_DOI][0]["count"])


def kinds(alerts: list[dict]) -> list[str]:
    return [a["kind"] for a in alerts]


def test_a_first_run_sets_the_baseline_and_raises_nothing(write_config, run):
    assert run(write_config()) == []


def test_a_rising_count_is_new_citations_with_the_run_that_raised_it(
    write_config, run, fake_api, tmp_path
):
    config = write_config()
    run(config)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    found = run(config)
    assert kinds(found) == ["new_citations"]
    alert = found[0]
    assert alert["doi"] == DEFAULT_DOI and alert["source"] == "openalex" and alert["run_id"] == 2
    assert alert["details"]["count"] == 3 and alert["details"]["now"] == 44
    assert alert["details"]["basis"] == "counts"
    assert alert["message"].startswith("3 new citations of “Emerging role of autophagy")
    assert "on OpenAlex (41 → 44)" in alert["message"]
    assert run(config) == []  # unchanged: nothing new


def test_new_citing_works_come_from_the_ledger_once_a_source_has_listed_the_work(
    write_config, run, fake_api
):
    config = write_config(sources={"opencitations": {"enabled": True}})
    run(config)  # the first list is the baseline: not news
    listing = fake_api.records[OC_CITING][DEFAULT_DOI]
    listing.append(
        {
            **listing[0],
            "oci": "06120000009-06180000752",
            "citing": "omid:br/06120000009 doi:10.1234/brand-new.2026 pmid:39000009",
        }
    )
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, 34)  # was 33
    found = run(config)
    assert kinds(found) == ["new_citations"]
    details = found[0]["details"]
    assert details["basis"] == "ledger" and details["count"] == 1
    assert [c["doi"] for c in details["citing"]] == ["10.1234/brand-new.2026"]
    assert found[0]["message"].startswith("1 new citing work of “Emerging role")
    assert "10.1234/brand-new.2026" in found[0]["message"]


def test_milestones_are_raised_once_each(write_config, run, fake_api):
    config = write_config(extra="[alerts]\nmilestones = [45, 50]\njumps = false\n")
    run(config)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 47)
    found = run(config)
    assert kinds(found) == ["new_citations", "milestone"]
    assert found[1]["message"].endswith("passed 45 citations (now 47 citations · OpenAlex)")
    assert found[1]["details"]["milestone"] == 45
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)  # dips below and comes back: no repeat
    run(config)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 46)
    assert "milestone" not in kinds(run(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 58)  # passes 50, the next one
    assert [a["details"].get("milestone") for a in run(config) if a["kind"] == "milestone"] == [50]


def test_an_unusual_jump_needs_both_thresholds(write_config, run, fake_api):
    config = write_config(extra="[alerts]\nmilestones = []\njump_min = 10\njump_percent = 50\n")
    run(config)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 41 + 12)  # +12 but 29 %: not unusual
    assert kinds(run(config)) == ["new_citations"]
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 53 + 30)  # +30 and 57 %
    found = run(config)
    assert kinds(found) == ["new_citations", "jump"]
    jump = found[1]
    assert jump["source"] == "openalex"
    assert jump["details"] == {**jump["details"], "previous": 53, "count": 83, "change": 30}
    assert jump["message"].startswith("Unusual jump: OpenAlex counts 30 more citations")


def test_a_drop_after_an_outage_says_so(write_config, run, fake_api):
    config = write_config()
    run(config)
    fake_api.inject("crossref", status=500, times=None)
    run(config, expect=1)
    fake_api.faults["crossref"].clear()
    fake_crossref.set_count(fake_api, DEFAULT_DOI, 30)
    found = run(config)
    assert kinds(found) == ["drop"]
    drop = found[0]
    assert drop["source"] == "crossref" and drop["details"]["cause"] == "outage"
    assert drop["message"].startswith("Crossref count of “Emerging role")
    assert (
        "fell by 5 (35 → 30): likely a source outage: Crossref failed recently (HTTP 500"
        in drop["message"]
    )


def test_a_drop_nothing_explains_says_so_and_claims_no_cause(write_config, run, fake_api):
    config = write_config()
    run(config)
    fake_crossref.set_count(fake_api, DEFAULT_DOI, 34)
    (drop,) = run(config)
    assert drop["kind"] == "drop" and drop["details"]["cause"] == "unexplained"
    assert drop["message"].endswith(
        "fell by 1 (35 → 34): Crossref answered normally; "
        "no complete list of its citing works shows which one went"
    )
    assert "merge" not in drop["message"] and "removal" not in drop["message"]


def test_a_drop_below_what_the_ledger_still_lists_is_named_so_never_a_merge(
    write_config, run, fake_api, tmp_path
):
    """The issue's case: a count that fell to 0 while the ledger still listed every citing
    work was called "likely a merge of duplicate records"."""
    config = write_config()
    run(config)
    listed = ledger_listed(tmp_path)
    assert listed > 0  # OpenAlex lists the default article's citing works
    fake_crossref.set_count(fake_api, DEFAULT_DOI, 0)
    (drop,) = run(config)
    assert drop["details"]["cause"] == "ledger_still_lists"
    assert drop["message"].endswith(
        f"fell by 35 (35 → 0): the count fell while the ledger still lists {listed} citing works"
    )
    assert "merge" not in drop["message"]


def test_a_drop_where_the_complete_list_lost_nothing_claims_no_merge(write_config, run, fake_api):
    """The count fell, yet the source's complete list holds every entry it held before:
    nothing shows duplicates merged, nor which citation went."""
    config = write_config(sources={"opencitations": {"enabled": True}})
    run(config)
    entries = len(fake_api.records[OC_CITING][DEFAULT_DOI])
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, oc_count(fake_api) - 1)
    (drop,) = [a for a in run(config) if a["kind"] == "drop"]
    assert drop["source"] == "opencitations" and drop["details"]["cause"] == "unexplained"
    assert drop["details"]["gone"] == []
    assert drop["message"].endswith(
        f"OpenCitations's complete list of its {entries} citing works lost none: "
        "nothing shows which citation went"
    )


def test_a_drop_where_the_complete_list_lost_a_duplicate_is_a_merge(write_config, run, fake_api):
    """OpenCitations listed one citing work twice (two OCIs, one DOI); the next list holds
    it once: the source merged its duplicates, and no citing work went."""
    config = write_config(sources={"opencitations": {"enabled": True}})
    listing = fake_api.records[OC_CITING][DEFAULT_DOI]
    listing.append({**listing[0], "oci": "06120000009-06180000752"})  # same citing work again
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, len(listing))
    run(config)
    listing.pop()
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, len(listing))
    (drop,) = [a for a in run(config) if a["kind"] == "drop"]
    assert drop["details"]["cause"] == "merge" and drop["details"]["gone"] == []
    assert drop["message"].endswith(
        f"likely a merge of duplicate records: OpenCitations's complete list of citing works "
        f"holds 1 fewer entry ({len(listing) + 1} → {len(listing)}) but lost no citing work"
    )


def test_a_drop_where_the_gone_citing_work_is_listed_elsewhere_names_it(
    write_config, run, fake_api
):
    config = write_config(
        sources={"opencitations": {"enabled": True}, "semanticscholar": {"enabled": True}}
    )
    run(config)
    listing = fake_api.records[OC_CITING][DEFAULT_DOI]
    # 10.1038/s41580-022-00001-a is listed by Semantic Scholar too
    listing[:] = [row for row in listing if "s41580-022-00001-a" not in row["citing"]]
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, 32)
    found = run(config)
    (drop,) = [a for a in found if a["kind"] == "drop"]
    assert drop["source"] == "opencitations" and drop["details"]["cause"] == "removal"
    assert [g["doi"] for g in drop["details"]["gone"]] == ["10.1038/s41580-022-00001-a"]
    assert "OpenCitations no longer lists " in drop["message"]
    assert drop["message"].endswith(
        "which other sources still list (1 citing work dropped by OpenCitations alone)"
    )
    assert "merge" not in drop["message"]


def test_a_drop_where_the_citing_work_is_gone_from_every_source_is_a_removal(
    write_config, run, fake_api
):
    config = write_config(
        sources={"opencitations": {"enabled": True}, "semanticscholar": {"enabled": True}}
    )
    listing = fake_api.records[OC_CITING][DEFAULT_DOI]
    listing.append(
        {
            **listing[0],
            "oci": "06120000009-06180000752",
            "citing": "omid:br/06120000009 doi:10.1234/only-in-opencitations",
        }
    )
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, 34)
    run(config)
    listing.pop()
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, 33)
    (drop,) = [a for a in run(config) if a["kind"] == "drop"]
    assert drop["details"]["cause"] == "removal"
    assert drop["message"].endswith(
        "likely a removal: no source lists 10.1234/only-in-opencitations any more"
    )


def ledger_listed(tmp_path) -> int:
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    try:
        return conn.execute(
            "SELECT count(*) FROM citing_works WHERE doi = ? AND sources IS NOT NULL", [DEFAULT_DOI]
        ).fetchone()[0]
    finally:
        conn.close()


def test_retraction_and_correction_notices_are_raised_once(write_config, run, fake_api):
    config = write_config()
    run(config)
    record = fake_api.records["crossref"][DEFAULT_DOI]
    record["updated-by"] = [
        {
            "DOI": "10.1016/j.drup.2026.101000",
            "type": "correction",
            "label": "Correction",
            "source": "publisher",
            "updated": {"date-parts": [[2026, 3, 2]]},
        },
    ]
    found = run(config)
    assert kinds(found) == ["correction"]
    assert found[0]["message"] == (
        "Correction published for “Emerging role of autophagy in anti-tumor immunity…” "
        "(doi:10.1016/j.drup.2026.101000, 2026-03-02), says Crossref"
    )
    assert run(config) == []  # the same notice is not news twice
    fake_api.records["openalex"][DEFAULT_DOI]["is_retracted"] = True
    record["updated-by"].append(
        {
            "DOI": "10.1016/j.drup.2026.102000",
            "type": "retraction",
            "label": "Retraction",
            "source": "retraction-watch",
            "updated": {"date-parts": [[2026, 4, 1]]},
        }
    )
    found = run(config)
    assert kinds(found) == ["retraction"]  # once, though two sources say so
    assert found[0]["message"] == (
        "“Emerging role of autophagy in anti-tumor immunity…” is retracted, says OpenAlex and "
        "Crossref: Retraction (doi:10.1016/j.drup.2026.102000, 2026-04-01)"
    )
    assert found[0]["details"]["sources"] == ["openalex", "crossref"]
    assert run(config) == []


def test_a_correction_raised_before_the_upgrade_is_not_raised_again(write_config, run, fake_api, tmp_path):
    """Correction alerts were once keyed ``kind:doi:date``; such an alert still counts."""
    config = write_config()
    run(config)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    with conn:
        conn.execute(
            "INSERT INTO alert_events (run_id, work_id, kind, message, key, raised_at) "
            "VALUES (1, 1, 'correction', 'Correction …', 'correction:10.1016/j.drup.2026.101000:2026-03-02', '2026-03-03')"
        )
    conn.close()
    fake_api.records["crossref"][DEFAULT_DOI]["updated-by"] = [
        {"DOI": "10.1016/j.drup.2026.101000", "type": "correction", "label": "Correction",
         "updated": {"date-parts": [[2026, 3, 2]]}},
    ]
    assert run(config) == []


def test_europe_pmc_retraction_and_erratum_are_raised_with_their_source(write_config, run, fake_api):
    """The issue's case: a Europe PMC record with the publication type "Retracted Publication"
    and a "Retraction in" comment-correction raised nothing, because only Crossref and
    OpenAlex were read. The fields are those of the real record's commentCorrectionList."""
    config = write_config(sources={"europepmc": {"enabled": True}})
    run(config)
    record = fake_api.records["europepmc"][DEFAULT_DOI]
    record["pubTypeList"] = {"pubType": ["Journal Article", "Retracted Publication"]}
    record["commentCorrectionList"] = {"commentCorrection": [
        {"id": "38000099", "source": "MED", "type": "Retraction in", "orderIn": 1,
         "reference": "Drug Resist Updat. 2024 Jan;72:101010. doi: 10.1016/j.drup.2024.101010."},
        {"id": "37000098", "source": "MED", "type": "Erratum in", "orderIn": 2,
         "reference": "Drug Resist Updat. 2023 Mar;67:100920."},
    ]}
    found = run(config)
    assert kinds(found) == ["retraction", "correction"]
    retraction, erratum = found
    assert retraction["source"] == "europepmc"
    assert retraction["message"] == (
        "“Emerging role of autophagy in anti-tumor immunity…” is retracted, says Europe PMC: "
        "Retraction (doi:10.1016/j.drup.2024.101010)"
    )
    assert erratum["message"] == (
        "Erratum published for “Emerging role of autophagy in anti-tumor immunity…” "
        "(PMID 37000098), says Europe PMC"
    )
    assert run(config) == []


def test_a_retracted_citing_work_is_raised_once(write_config, run, fake_api, tmp_path):
    config = write_config(sources={"opencitations": {"enabled": True}})
    run(config)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    with conn:  # as a source that reports retractions (OpenAlex) would mark it
        conn.execute("UPDATE citers SET is_retracted = 1 WHERE doi = '10.1016/j.ccell.2022.00002'")
    conn.close()
    (alert,) = run(config)
    assert alert["kind"] == "citing_retraction"
    assert alert["message"].startswith("A work citing “Emerging role")
    assert (
        " is retracted: " in alert["message"] and "10.1016/j.ccell.2022.00002" in alert["message"]
    )
    assert run(config) == []


def test_a_citing_work_europe_pmc_lists_as_retracted_is_raised_naming_europe_pmc(
    write_config, run, fake_api, tmp_path
):
    from tests.fakeapi.routes import europepmc as fake_europepmc

    config = write_config(sources={"europepmc": {"enabled": True}})
    run(config)
    page = fake_api.records[fake_europepmc.CITING]["MED/33930000"]
    citation = page["citationList"]["citation"][0]
    citation["citationType"] = "Journal Article; Retracted Publication"
    fake_api.records["europepmc"][DEFAULT_DOI]["citedByCount"] += 1  # a list is due again
    found = [a for a in run(config) if a["kind"] == "citing_retraction"]
    assert len(found) == 1 and found[0]["source"] == "europepmc"
    assert " is retracted, says Europe PMC: " in found[0]["message"]
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    retracted = conn.execute(
        "SELECT citing_pmid, retracted_by FROM citing_works WHERE is_retracted = 1"
    ).fetchall()
    conn.close()
    assert retracted == [(citation["id"], "europepmc")]


def test_a_source_failing_n_runs_in_a_row_is_raised_once_per_streak(write_config, run, fake_api):
    config = write_config(extra="[alerts]\nfailing_runs = 2\n")
    fake_api.inject("crossref", status=503, times=None)
    assert run(config, expect=1) == []
    found = run(config, expect=1)
    assert kinds(found) == ["source_failing"]
    assert found[0]["doi"] is None and found[0]["source"] == "crossref"
    assert found[0]["message"].startswith("Crossref has failed 2 runs in a row: HTTP 503")
    assert run(config, expect=1) == []  # the same streak
    fake_api.faults["crossref"].clear()
    run(config)
    fake_api.inject("crossref", status=503, times=None)
    run(config, expect=1)
    assert kinds(run(config, expect=1)) == ["source_failing"]  # a new streak


def test_rules_can_be_turned_off(write_config, run, fake_api):
    config = write_config(extra="[alerts]\nnew_citations = false\nmilestones = []\ndrops = false\n")
    run(config)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    fake_crossref.set_count(fake_api, DEFAULT_DOI, 20)
    assert run(config) == []


def test_a_failed_source_is_never_a_drop(write_config, run, fake_api):
    config = write_config(extra="[alerts]\nfailing_runs = 0\n")
    run(config)
    fake_api.inject("openalex", status=500, times=None)
    assert run(config, expect=1) == []


def test_a_newly_enabled_source_sets_a_baseline_not_a_milestone(write_config, run, fake_api):
    crossref = int(fake_api.records["crossref"][DEFAULT_DOI]["is-referenced-by-count"])
    openalex = int(fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"])
    assert crossref < openalex
    milestone = f"[alerts]\nmilestones = [{crossref + 1}]\n"
    run(write_config(only=("crossref",), extra=milestone))
    # OpenAlex's first count is above the milestone: a baseline, not news
    assert run(write_config(only=("openalex", "crossref"), extra=milestone)) == []


def test_a_lagging_source_catching_up_is_not_news_again(write_config, run, fake_api):
    config = write_config()
    run(config)
    crossref = int(fake_api.records["crossref"][DEFAULT_DOI]["is-referenced-by-count"])
    openalex = int(fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"])
    fake_openalex.set_count(fake_api, DEFAULT_DOI, openalex + 3)
    (news,) = run(config)
    assert news["kind"] == "new_citations" and news["details"]["count"] == 3
    fake_crossref.set_count(fake_api, DEFAULT_DOI, crossref + 3)  # the same three, later
    assert run(config) == []
    fake_crossref.set_count(fake_api, DEFAULT_DOI, openalex + 5)  # now ahead of OpenAlex
    (news,) = run(config)
    assert news["source"] == "crossref" and news["details"]["count"] == 2
    assert "2 new citations of “Emerging role" in news["message"]
    assert news["message"].endswith(f"on Crossref ({openalex + 3} → {openalex + 5})")


def test_a_capped_first_list_is_no_baseline_for_new_citing_works(
    write_config, run, fake_api, tmp_path
):
    config = write_config(sources={"opencitations": {"enabled": True}})
    run(config)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    with conn:  # as if the first list had hit [citing] max_pages
        conn.execute("UPDATE citing_fetches SET complete = 0")
    conn.close()
    listing = fake_api.records[OC_CITING][DEFAULT_DOI]
    listing.append(
        {
            **listing[0],
            "oci": "06120000009-06180000752",
            "citing": "omid:br/06120000009 doi:10.1234/maybe-old.2020",
        }
    )
    highest = int(fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"])
    fake_opencitations.set_count(fake_api, DEFAULT_DOI, highest + 1)
    (news,) = [a for a in run(config) if a["kind"] == "new_citations"]
    # the capped list may have left that work out: only the count says something is new
    assert news["details"]["basis"] == "counts" and news["details"]["count"] == 1


def test_a_source_that_lost_its_key_does_not_hold_back_news(
    write_config, invoke, fake_api, tmp_path
):
    config = write_config(only=("openalex", "scopus"))
    openalex = int(fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"])
    fake_scopus.set_count(fake_api, DEFAULT_DOI, openalex + 20)  # well ahead of OpenAlex
    assert (
        invoke(
            "run", "--config", str(config), env={"SCOPUS_API_KEY": next(iter(fake_scopus.KEYS))}
        ).exit_code
        == 0
    )
    fake_openalex.set_count(fake_api, DEFAULT_DOI, openalex + 3)
    assert invoke("run", "--config", str(config)).exit_code == 0  # no key now: not asked
    (news,) = alerts_of(tmp_path / "state/monitor.db", latest=True)
    assert news["kind"] == "new_citations" and news["details"]["count"] == 3
