"""The headline: one definition of a work's citation figure, checked on hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.headline import (
    CITING_WORKS,
    NOT_INDEXED,
    SOURCE_COUNT,
    SourceCount,
    current_counts,
    headline,
    listed_at,
    with_changes,
)

DAY0 = datetime(2026, 1, 1, 6, tzinfo=UTC)


def obs(day: int, outcome: str, citations: int | None = None, id: int = 0) -> dict:
    at = (DAY0 + timedelta(days=day)).isoformat()
    return {"observed_at": at, "outcome": outcome, "citations": citations, "id": id}


def citer(*sources: str, self_cite: bool = False, day: int = 0, gone: dict | None = None) -> dict:
    at = (DAY0 + timedelta(days=day)).isoformat()
    gone = gone or {}
    sightings = {
        s: {"first_seen_at": at, "gone_at": (DAY0 + timedelta(days=gone[s])).isoformat() if s in gone else None}
        for s in sources
    }
    return {
        "sightings": sightings,
        "sources": sorted(s for s in sources if s not in gone),
        "is_self_citation": int(self_cite),
    }


def test_a_source_count_above_the_listed_works_is_the_headline():
    counts = [SourceCount("openalex", 750, "t"), SourceCount("crossref", 724, "t")]
    listed = [citer("openalex", "semanticscholar"), citer("opencitations", self_cite=True)]
    h = headline(counts, listed)
    assert (h.value, h.basis, h.source) == (750, SOURCE_COUNT, "openalex")
    assert h.without_self_citations == 749
    assert h.text == "750 citations · OpenAlex; 2 distinct citing works listed by 3 sources"


def test_more_listed_works_than_any_count_make_the_ledger_the_headline():
    counts = [SourceCount("crossref", 2, "t")]
    listed = [citer("openalex"), citer("openalex", self_cite=True), citer("semanticscholar")]
    h = headline(counts, listed)
    assert (h.value, h.basis, h.source) == (3, CITING_WORKS, None)
    assert h.without_self_citations == 2
    assert h.text == "3 distinct citing works listed by 2 sources; highest source count 2 · Crossref"


def test_a_tie_is_told_by_the_ledger_whose_works_can_be_inspected():
    h = headline([SourceCount("crossref", 1, "t")], [citer("openalex")])
    assert (h.value, h.basis) == (1, CITING_WORKS)


def test_a_work_no_source_knows_is_not_indexed_never_zero():
    h = headline([], [])
    assert (h.value, h.basis, h.indexed) == (None, NOT_INDEXED, False)
    assert h.without_self_citations is None
    assert h.text == "not indexed yet"


def test_a_known_zero_is_a_count():
    h = headline([SourceCount("openalex", 0, "t")], [])
    assert (h.value, h.basis) == (0, SOURCE_COUNT)
    assert h.text == "0 citations · OpenAlex"
    assert h.without_self_citations is None  # no list: no self-citation can be identified


def test_a_failure_keeps_the_last_good_count_and_a_not_found_ends_it():
    history = {
        "openalex": [obs(0, "ok", 40, id=1), obs(1, "error", id=2)],
        "crossref": [obs(0, "ok", 45, id=3), obs(1, "not_found", id=4)],
        "scopus": [obs(0, "ok", 50, id=5), obs(1, "not_configured", id=6)],
    }
    counts = current_counts(history)
    assert [(c.source, c.citations, c.observation_id) for c in counts] == [("openalex", 40, 1)]


def test_only_counting_sources_asked_in_the_latest_run_are_current():
    history = {
        "openalex": [obs(0, "ok", 40)],
        "dimensions": [obs(0, "ok", 90)],  # disabled since: not asked in the latest run
        "unpaywall": [obs(0, "ok", None)],  # gives no count
    }
    assert [c.source for c in current_counts(history, active=("openalex", "unpaywall"))] == ["openalex"]


def test_counts_as_they_stood_at_a_moment():
    history = {"openalex": [obs(0, "ok", 10), obs(5, "ok", 20)]}
    [then] = current_counts(history, moment=DAY0 + timedelta(days=2))
    assert then.citations == 10


def test_listed_at_a_moment_drops_works_not_yet_seen_or_already_gone():
    ledger = [citer("openalex", day=0), citer("openalex", day=3), citer("openalex", "s2", day=0, gone={"openalex": 2})]
    early = listed_at(ledger, DAY0 + timedelta(days=1))
    assert [r["sources"] for r in early] == [["openalex"], ["openalex", "s2"]]
    late = listed_at(ledger, DAY0 + timedelta(days=4))
    assert [r["sources"] for r in late] == [["openalex"], ["openalex"], ["s2"]]


def test_changes_since_the_previous_run_and_over_30_and_365_days():
    history = {"openalex": [obs(0, "ok", 10), obs(300, "ok", 30), obs(364, "error"), obs(400, "ok", 45), obs(401, "ok", 47)]}
    reference = DAY0 + timedelta(days=401)
    changes = with_changes(history, [], None, reference, previous_run_at=DAY0 + timedelta(days=400))
    assert changes.now.value == 47
    assert changes.since_previous_run == 47 - 45
    assert changes.change_30d == 47 - 30  # day 371: the count of day 300 stood (the error is no answer)
    assert changes.change_365d == 47 - 10  # day 36: the count of day 0


def test_no_change_where_monitoring_is_younger_than_the_window():
    history = {"openalex": [obs(0, "ok", 10), obs(1, "ok", 12)]}
    changes = with_changes(history, [], None, DAY0 + timedelta(days=1), previous_run_at=DAY0)
    assert (changes.since_previous_run, changes.change_30d, changes.change_365d) == (2, None, None)


def test_a_source_disabled_since_does_not_show_as_a_change():
    history = {"openalex": [obs(0, "ok", 10), obs(1, "ok", 11)], "dimensions": [obs(0, "ok", 90)]}
    changes = with_changes(history, [], ("openalex",), DAY0 + timedelta(days=1), previous_run_at=DAY0)
    assert (changes.now.value, changes.since_previous_run) == (11, 1)


def test_the_ledger_growing_past_the_counts_moves_the_headline():
    history = {"crossref": [obs(0, "ok", 1), obs(1, "ok", 1)]}
    ledger = [citer("openalex", day=0), citer("openalex", day=1), citer("openalex", day=1)]
    changes = with_changes(history, ledger, None, DAY0 + timedelta(days=1), previous_run_at=DAY0)
    assert (changes.now.value, changes.now.basis, changes.since_previous_run) == (3, CITING_WORKS, 2)


def test_report_json_keeps_the_contract_keys():
    data = headline([SourceCount("openalex", 5, "t")], []).as_dict()
    assert {"value", "basis", "without_self_citations"} <= set(data)
    assert (data["value"], data["basis"]) == (5, SOURCE_COUNT)
