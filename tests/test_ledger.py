"""The citing-works ledger across sources, through the fake (issue: who cites the article).

The constructed lists (tests/fakeapi/constructed/*/citing_*.json) share six citing
works A, B, C, D (a bioRxiv preprint), D' (its published version) and E:

    OpenAlex          A B C   D' E        Europe PMC  A   C      E
    Semantic Scholar  A B C D    E        iCite       A B C
    OpenCitations     A B C   D'          PubMed      A   C      E

C shares an author (Yan Cheng) with the tracked work; B is influential for Semantic Scholar.
"""

from __future__ import annotations

import sqlite3

import pytest

from monitor import ledger
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import semanticscholar as fake_s2

LISTING = ("openalex", "semanticscholar", "opencitations", "europepmc", "icite", "pubmed")
A, B, C = "10.1038/s41580-022-00001-a", "10.1016/j.ccell.2022.00002", "10.1016/j.phrs.2023.00003"
D, D2, E = "10.1101/2023.01.01.00004", "10.1038/s41467-024-00005", "10.3390/cancers15000006"


def list_requests(fake_api) -> int:
    """Requests for citing lists (iCite and PubMed lists come with their counts)."""
    return (
        len([h for h in fake_api.hits("openalex", "/works") if h.arg("filter", "").startswith("cites:")])
        + len(fake_api.hits("semanticscholar", "/paper/")) - len(fake_api.hits("semanticscholar", "/paper/batch"))
        + len(fake_api.hits("opencitations", "/citations/"))
        + len([h for h in fake_api.hits("europepmc") if h.path.endswith("/citations")])
    )


@pytest.fixture
def ledger_db(write_config, invoke, tmp_path):
    config = write_config(only=LISTING)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.row_factory = sqlite3.Row
    return config, conn


def rows(conn) -> dict[str, sqlite3.Row]:
    return {r["citing_doi"]: r for r in conn.execute("select * from citing_works where doi = ?", [DEFAULT_DOI])}


def test_the_ledger_holds_exactly_the_distinct_citing_works(ledger_db):
    _, conn = ledger_db
    found = rows(conn)
    assert set(found) == {A, B, C, D2, E}  # D and D' are one work, under the published DOI
    assert found[D2]["preprint_doi"] == D
    assert (found[D2]["venue"], found[D2]["year"]) == ("Nature Communications", 2024)  # not bioRxiv's
    assert {doi: found[doi]["sources"] for doi in found} == {
        A: "europepmc,icite,openalex,opencitations,pubmed,semanticscholar",
        B: "icite,openalex,opencitations,semanticscholar",
        C: "europepmc,icite,openalex,opencitations,pubmed,semanticscholar",
        D2: "openalex,opencitations,semanticscholar",
        E: "europepmc,openalex,pubmed,semanticscholar",
    }
    assert found[A]["citing_pmid"] == "35000001"
    assert {doi for doi, r in found.items() if r["is_self_citation"]} == {C}
    assert {doi for doi, r in found.items() if r["is_influential"]} == {B}
    assert conn.execute("select count(*) from new_citing_works").fetchone()[0] == 5


def test_coverage_per_source(ledger_db):
    from monitor import citing, store

    _, conn = ledger_db
    db = store.open_db(__import__("pathlib").Path(conn.execute("pragma database_list").fetchone()[2]))
    coverage = citing.coverage(citing.ledger_rows(db, DEFAULT_DOI), LISTING)
    db.close()
    assert {s: (c["listed"], c["union"]) for s, c in coverage.items()} == {
        "openalex": (5, 5), "semanticscholar": (5, 5), "opencitations": (4, 5),
        "europepmc": (3, 5), "icite": (3, 5), "pubmed": (3, 5),
    }
    assert {r["doi"] for r in coverage["opencitations"]["missing"]} == {E}
    assert {r["doi"] for r in coverage["europepmc"]["missing"]} == {B, D2}


def test_unchanged_counts_make_no_list_requests(ledger_db, invoke, fake_api):
    config, _ = ledger_db
    first = list_requests(fake_api)
    assert first >= 4
    assert invoke("run", "--config", str(config)).exit_code == 0
    assert list_requests(fake_api) == first  # a quiet day: counts only


def test_a_work_that_vanishes_from_a_source_is_kept_with_its_last_sighting(ledger_db, invoke, fake_api):
    config, conn = ledger_db
    edges = fake_api.records[fake_s2.CITING][DEFAULT_DOI]
    fake_api.records[fake_s2.CITING][DEFAULT_DOI] = [e for e in edges if (e["citingPaper"].get("externalIds") or {}).get("DOI") != E]
    fake_s2.set_count(fake_api, DEFAULT_DOI, fake_api.records["semanticscholar"][DEFAULT_DOI]["citationCount"] - 1)
    assert invoke("run", "--config", str(config)).exit_code == 0
    found = rows(conn)
    assert set(found) == {A, B, C, D2, E}  # never deleted
    assert found[E]["sources"] == "europepmc,openalex,pubmed"
    gone = conn.execute(
        "select cs.gone_at, cs.last_seen_at from citation_sources cs join citations e on e.id = cs.citation_id "
        "join citers c on c.id = e.citer_id where c.doi = ? and cs.source = 'semanticscholar'", [E]
    ).fetchone()
    assert gone["gone_at"] is not None and gone["last_seen_at"] < gone["gone_at"]
    assert conn.execute("select count(*) from new_citing_works").fetchone()[0] == 0


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("Jin Ming Yang", "Yang JM", True),
        ("Yan Cheng", "Cheng, Y.", True),
        ("Yan Cheng", "Yun Chen", False),
    ],
)
def test_name_keys(a, b, same):
    assert (ledger.name_key(a) == ledger.name_key(b)) is same


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("Yan Cheng", "Yong Cheng", False),  # one key, 'cheng y', but two people
        ("Yan Cheng", "Cheng Y", True),  # MEDLINE initials may be either
        ("Jin Ming Yang", "Jin-Ming Yang", True),
        ("Jin Ming Yang", "Jinming Yang", True),
        ("Jin Ming Yang", "Yang, J.-M.", True),
        ("Jin Ming Yang", "Jun Yang", False),
        ("Yan Cheng", "Yan Chen", False),
    ],
)
def test_same_person_compares_given_names_written_out_in_full(a, b, same):
    assert ledger.same_person(a, b) is same
    assert ledger.is_self_citation([{"name": b}], [{"name": "Ting Jiang"}, {"name": a}]) is same


def test_self_citation_by_orcid_beats_names():
    tracked = [{"name": "Yan Cheng", "orcid": "0000-0001"}]
    assert ledger.is_self_citation([{"name": "Y. Cheng-Smith", "orcid": "0000-0001"}], tracked)
    assert not ledger.is_self_citation([{"name": "Maria Rossi"}], tracked)
    assert ledger.is_self_citation([{"name": "Maria Rossi"}], tracked, author_sc=True)


def test_preprint_rules():
    from monitor.models import CitingRecord

    assert ledger.is_preprint(CitingRecord("x", doi="10.1101/2023.01.01.1"))
    assert ledger.is_preprint(CitingRecord("x", doi="10.5555/x", type="posted-content"))
    assert not ledger.is_preprint(CitingRecord("x", doi="10.1038/x"))
    assert ledger.normalize_title("Émerging  role: of <i>autophagy</i>!") == "emerging role of autophagy"


def test_indexing_lag_counts_only_works_published_after_monitoring_began():
    from monitor.citing import indexing_lag_days

    since = "2026-01-01T00:00:00+00:00"
    rows = [
        {"published": "2026-02-01", "sightings": {"openalex": {"first_seen_at": "2026-02-11T06:00:00+00:00"},
                                                  "semanticscholar": {"first_seen_at": "2026-03-03T06:00:00+00:00"}}},
        {"published": "2026-03-01", "sightings": {"openalex": {"first_seen_at": "2026-03-21T06:00:00+00:00"}}},
        {"published": "2020-05-01", "sightings": {"openalex": {"first_seen_at": "2026-01-01T06:00:00+00:00"}}},
        {"published": "2026", "sightings": {"openalex": {"first_seen_at": "2026-06-01T06:00:00+00:00"}}},
    ]
    assert indexing_lag_days(rows, since) == {"openalex": 15.0, "semanticscholar": 30.0}


# --- merging citers: two rows that turn out to be one work ---------------------------------


@pytest.fixture
def store_db(tmp_path):
    from datetime import UTC, datetime

    from monitor import store
    from monitor.models import Work

    db = store.open_db(tmp_path / "monitor.db")
    store.sync_works(db, [Work(DEFAULT_DOI)], datetime(2026, 1, 1, tzinfo=UTC))
    yield db
    db.close()


def save(db, day: int, source: str, *records, complete: bool = True) -> None:
    """One run in which ``source`` listed ``records`` as the works citing the default article."""
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome

    now = datetime(2026, 1, day, 6, tzinfo=UTC)
    run = store.start_run(db, now)
    listing = CitingList(DEFAULT_DOI, source, Outcome.OK,
                         tuple(CitingRecord(source, **r) for r in records), complete=complete)
    with db.atomic():
        citing.save_list(db, run, 1, listing, [], {}, now)


def test_a_merge_keeps_the_dropped_rows_contexts_intents_and_influence(store_db):
    # Europe PMC knows the work by PMID only, Semantic Scholar by DOI only (with contexts):
    # two rows, until OpenAlex gives both ids and shows they are one work.
    save(store_db, 1, "europepmc", {"pmid": "111"})
    save(store_db, 1, "semanticscholar", {"doi": "10.1/x", "contexts": ("as shown in [3]",),
                                              "intents": ("methodology",), "is_influential": True})
    assert store_db["citers"].count == 2
    save(store_db, 2, "openalex", {"doi": "10.1/x", "pmid": "111"})
    [row] = store_db.query("select * from citing_works")
    assert (row["citing_doi"], row["citing_pmid"]) == ("10.1/x", "111")
    assert row["sources"] == "europepmc,openalex,semanticscholar"
    assert row["is_influential"] == 1 and row["intents"] == '["methodology"]'
    [edge] = store_db.query("select contexts, first_seen_at, last_seen_at from citations")
    assert edge["contexts"] == '["as shown in [3]"]'
    assert edge["first_seen_at"].startswith("2026-01-01") and edge["last_seen_at"].startswith("2026-01-02")


def test_a_citing_work_named_twice_in_one_list_is_one_citation_seen_once(store_db):
    # A list that names a work first by its PMID, then by its DOI too (one row): the second
    # mention finds the citation and sighting the first one made, in the same list.
    save(store_db, 1, "europepmc", {"pmid": "600"}, {"doi": "10.1/w", "pmid": "600", "title": "A title long enough"},
         {"pmid": "700"})
    save(store_db, 2, "europepmc", {"pmid": "700"}, {"pmid": "700", "contexts": ("see [2]",)}, complete=False)
    rows = {r["citing_pmid"]: r for r in store_db.query("select * from citing_works")}
    assert set(rows) == {"600", "700"}
    assert rows["600"]["citing_doi"] == "10.1/w" and rows["600"]["sources"] == "europepmc"
    assert store_db["citations"].count == 2 and store_db["citation_sources"].count == 2
    [edge] = store_db.query("select c.contexts, c.last_seen_at from citations c join citers r on r.id = c.citer_id "
                            "where r.pmid = '700'")
    assert edge["contexts"] == '["see [2]"]' and edge["last_seen_at"].startswith("2026-01-02")


def test_a_list_of_pmids_alone_finds_the_citing_works_known_by_them_and_adds_each_new_one_once(store_db):
    # iCite's and PubMed's lists name PMIDs alone: the citers they are are read for the whole
    # list at once, and one the list adds is found again further down the same list.
    save(store_db, 1, "openalex", {"doi": "10.1/a", "pmid": "900", "title": "A title long enough"})
    save(store_db, 2, "icite", {"pmid": "900"}, {"pmid": "901"}, {"pmid": "901"}, {"pmid": "902"})
    rows = {r["citing_pmid"]: r for r in store_db.query("select * from citing_works")}
    assert set(rows) == {"900", "901", "902"} and store_db["citers"].count == 3
    assert (rows["900"]["citing_doi"], rows["900"]["sources"]) == ("10.1/a", "icite,openalex")
    assert rows["901"]["sources"] == "icite"
    assert store_db["citations"].count == 3 and store_db["citation_sources"].count == 4


def test_a_merge_keeps_a_sources_current_sighting_over_a_gone_one(store_db):
    # OpenAlex first lists the work by PMID, then (a complete list) by DOI only: the PMID row
    # is gone from OpenAlex, the DOI row listed. Crossing them merges the rows: OpenAlex lists it.
    save(store_db, 1, "openalex", {"pmid": "222"})
    save(store_db, 2, "openalex", {"doi": "10.1/y"})
    save(store_db, 3, "europepmc", {"doi": "10.1/y", "pmid": "222"})
    [row] = store_db.query("select * from citing_works")
    assert row["sources"] == "europepmc,openalex"
    [sighting] = store_db.query("select * from citation_sources where source = 'openalex'")
    assert sighting["gone_at"] is None
    assert sighting["first_seen_at"].startswith("2026-01-01")  # the earlier of the two sightings
    assert sighting["last_seen_at"].startswith("2026-01-02")


def test_ledger_rows_are_newest_first_whether_a_date_or_only_a_year_is_known(store_db):
    from monitor import citing

    save(store_db, 1, "openalex", {"doi": "10.1/old", "published": "2020-03-01", "year": 2020},
         {"doi": "10.1/new", "year": 2025}, {"doi": "10.1/mid", "published": "2023-06", "year": 2023})
    assert [r["doi"] for r in citing.ledger_rows(store_db, DEFAULT_DOI)] == ["10.1/new", "10.1/mid", "10.1/old"]


def test_a_self_citation_listed_before_the_tracked_works_authors_were_known_is_flagged(store_db):
    """Europe PMC may finish before the sources that describe the tracked work."""
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome

    save(store_db, 1, "europepmc", {"pmid": "333", "authors": ({"name": "Cheng Y"},)})  # no authors known yet
    assert [r["is_self_citation"] for r in store_db.query("select * from citing_works")] == [0]
    now = datetime(2026, 1, 1, 7, tzinfo=UTC)
    listing = CitingList(DEFAULT_DOI, "openalex", Outcome.OK, (CitingRecord("openalex", doi="10.1/z"),))
    with store_db.atomic():
        citing.save_list(store_db, store.start_run(store_db, now), 1, listing, [{"name": "Yan Cheng"}], {}, now)
    flags = {r["citing_pmid"] or r["citing_doi"]: r["is_self_citation"] for r in store_db.query("select * from citing_works")}
    assert flags == {"333": 1, "10.1/z": 0}


def test_a_citing_work_listed_again_without_authors_is_checked_with_the_authors_stored(store_db):
    """A list that names a citing work without its authors says nothing about self-citation;
    the authors an earlier list stored still decide, once the tracked work's are known."""
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome

    save(store_db, 1, "europepmc", {"pmid": "333", "authors": ({"name": "Cheng Y"},)})  # no authors known yet
    now = datetime(2026, 1, 1, 7, tzinfo=UTC)
    listing = CitingList(DEFAULT_DOI, "icite", Outcome.OK, (CitingRecord("icite", pmid="333"),))
    with store_db.atomic():
        citing.save_list(store_db, store.start_run(store_db, now), 1, listing, [{"name": "Yan Cheng"}], {}, now)
    assert [r["is_self_citation"] for r in store_db.query("select * from citing_works")] == [1]


def test_a_preprint_seen_again_after_its_merge_is_the_same_citing_work(store_db):
    """The published version took the row; the preprint's DOI, listed alone later, finds it."""
    title = "Secretory autophagy shapes the tumour immune microenvironment"
    save(store_db, 1, "semanticscholar", {"doi": D, "title": title, "year": 2023})
    save(store_db, 2, "openalex", {"doi": D2, "title": title, "year": 2024, "venue": "Nature Communications"})
    assert [(r["doi"], r["preprint_doi"]) for r in store_db.query("select * from citers")] == [(D2, D)]
    save(store_db, 3, "europepmc", {"doi": D})  # no title, no other id: only preprint_doi links it
    [row] = store_db.query("select * from citing_works")
    assert (row["citing_doi"], row["preprint_doi"]) == (D2, D)
    assert row["sources"] == "europepmc,openalex,semanticscholar"


def test_self_citation_by_openalex_author_id_alone():
    tracked = [{"name": "Ting Jiang", "openalex_id": "A500000000"}]
    assert ledger.is_self_citation([{"name": "T. Jiang-Whitfield", "openalex_id": "A500000000"}], tracked)
    assert not ledger.is_self_citation([{"name": "Maria Rossi", "openalex_id": "A5100000011"}], tracked)


def test_a_citing_author_with_the_tracked_authors_openalex_id_is_a_self_citation(
    write_config, invoke, fake_api, tmp_path
):
    """End to end: the same OpenAlex author under another name (a married name, a typo)."""
    from tests.fakeapi.routes import openalex as fake_openalex

    record = fake_api.records["openalex"][DEFAULT_DOI]
    tracked = record["authorships"][0]["author"]
    citing = fake_api.records[fake_openalex.CITING][record["id"].rsplit("/", 1)[1]]
    first = next(w for w in citing if w["doi"].endswith(A))
    first["authorships"][0]["author"] = {**first["authorships"][0]["author"], "id": tracked["id"]}
    assert ledger.name_key(first["authorships"][0]["author"]["display_name"]) != ledger.name_key(
        tracked["display_name"])
    assert invoke("run", "--config", str(write_config(only=("openalex",)))).exit_code == 0
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    flagged = {doi for doi, flag in conn.execute("select citing_doi, is_self_citation from citing_works") if flag}
    assert A in flagged


def test_two_sources_that_share_only_a_doi_list_one_citing_work(write_config, invoke, fake_api, tmp_path):
    """DOI de-duplication end to end: no PMID, no shared id, each DOI written its own way."""
    from tests.fakeapi.routes import openalex as fake_openalex

    record = fake_api.records["openalex"][DEFAULT_DOI]
    openalex_list = fake_api.records[fake_openalex.CITING][record["id"].rsplit("/", 1)[1]]
    for work in openalex_list:  # OpenAlex: https://doi.org/ URLs, no PMID
        work["ids"] = {k: v for k, v in work["ids"].items() if k != "pmid"}
    for edge in fake_api.records[fake_s2.CITING][DEFAULT_DOI]:  # Semantic Scholar: upper case, no PMID
        ids = edge["citingPaper"]["externalIds"]
        edge["citingPaper"]["externalIds"] = {"DOI": ids["DOI"].upper(), "CorpusId": ids["CorpusId"]}
    config = write_config(only=("openalex", "semanticscholar"))
    assert invoke("run", "--config", str(config)).exit_code == 0
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    found = {doi: sources for doi, sources in conn.execute("select citing_doi, sources from citing_works")}
    expected = {w["doi"].removeprefix("https://doi.org/").lower() for w in openalex_list}
    assert set(found) == expected  # the preprint D joins its published version D' by title
    listed_by_s2 = {e["citingPaper"]["externalIds"]["DOI"].lower() for e in fake_api.records[fake_s2.CITING][DEFAULT_DOI]}
    for doi in expected & listed_by_s2:
        assert found[doi] == "openalex,semanticscholar", doi


# --- the ledger's history: a past day as it was ------------------------------------------


def as_of(db, day: int) -> dict[str, dict]:
    """The ledger at the end of 2026-01-DAY, by citing DOI (or PMID)."""
    from monitor import citing

    end = f"2026-01-{day:02d}T23:59:59.999999+00:00"
    return {r["doi"] or r["pmid"]: r for r in citing.ledger_rows(db, DEFAULT_DOI, end)}


def events(db) -> list[str]:
    return [r["attribute"] for r in db.query("select attribute from ledger_events order by id")]


def test_a_preprint_published_later_shows_as_the_preprint_before(store_db):
    title = "Secretory autophagy shapes the tumour immune microenvironment"
    save(store_db, 1, "semanticscholar", {"doi": D, "title": title, "year": 2023, "venue": "bioRxiv"})
    save(store_db, 3, "openalex", {"doi": D2, "title": title, "year": 2024, "venue": "Nature Communications"})
    then, now = as_of(store_db, 2), as_of(store_db, 3)
    assert set(then) == {D} and set(now) == {D2}
    assert (then[D]["venue"], then[D]["year"], then[D]["preprint_doi"]) == ("bioRxiv", 2023, None)
    assert then[D]["sources"] == ["semanticscholar"]
    assert (now[D2]["venue"], now[D2]["preprint_doi"]) == ("Nature Communications", D)
    assert now[D2]["sources"] == ["openalex", "semanticscholar"]
    assert as_of(store_db, 2) == then  # reading the past changes nothing


def test_a_title_and_venue_filled_in_later_were_unknown_before(store_db):
    save(store_db, 1, "europepmc", {"pmid": "444"})
    save(store_db, 2, "openalex", {"pmid": "444", "title": "Autophagy in T cells", "venue": "Immunity"})
    assert (as_of(store_db, 1)["444"]["title"], as_of(store_db, 1)["444"]["venue"]) == (None, None)
    assert (as_of(store_db, 2)["444"]["title"], as_of(store_db, 2)["444"]["venue"]) == (
        "Autophagy in T cells", "Immunity")
    assert {"citers.title", "citers.venue"} <= set(events(store_db))


def test_a_self_citation_flag_set_later_was_not_set_before(store_db):
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome

    save(store_db, 1, "europepmc", {"pmid": "333", "authors": ({"name": "Cheng Y"},)})
    now = datetime(2026, 1, 3, 6, tzinfo=UTC)  # the tracked work's authors are known from day 3
    listing = CitingList(DEFAULT_DOI, "openalex", Outcome.OK, (CitingRecord("openalex", doi="10.1/z"),))
    with store_db.atomic():
        citing.save_list(store_db, store.start_run(store_db, now), 1, listing, [{"name": "Yan Cheng"}], {}, now)
    assert as_of(store_db, 2)["333"]["is_self_citation"] == 0
    assert as_of(store_db, 3)["333"]["is_self_citation"] == 1


def test_two_rows_merged_later_were_two_rows_before(store_db):
    save(store_db, 1, "europepmc", {"pmid": "111"})
    save(store_db, 1, "semanticscholar", {"doi": "10.1/x", "contexts": ("as shown in [3]",)})
    save(store_db, 2, "openalex", {"doi": "10.1/x", "pmid": "111"})
    then = as_of(store_db, 1)
    assert set(then) == {"111", "10.1/x"}
    assert then["111"]["sources"] == ["europepmc"] and then["111"]["doi"] is None
    assert then["10.1/x"]["sources"] == ["semanticscholar"] and then["10.1/x"]["pmid"] is None
    assert then["10.1/x"]["contexts"] == ["as shown in [3]"]
    [now] = as_of(store_db, 2).values()
    assert (now["doi"], now["pmid"], now["sources"]) == ("10.1/x", "111", ["europepmc", "openalex", "semanticscholar"])
    assert "merge" in events(store_db)


def test_a_work_gone_from_a_list_and_back_was_gone_in_between(store_db):
    save(store_db, 1, "openalex", {"doi": "10.1/a"}, {"doi": "10.1/b"})
    save(store_db, 2, "openalex", {"doi": "10.1/a"})  # complete: b has gone
    save(store_db, 3, "openalex", {"doi": "10.1/a"}, {"doi": "10.1/b"})  # and is back
    assert [as_of(store_db, day)["10.1/b"]["sources"] for day in (1, 2, 3)] == [["openalex"], [], ["openalex"]]


def test_only_changes_are_events(store_db):
    save(store_db, 1, "openalex", {"doi": "10.1/a", "title": "A title long enough", "venue": "Cell"})
    assert events(store_db) == []  # a new row is no event
    save(store_db, 2, "openalex", {"doi": "10.1/a", "title": "A title long enough", "venue": "Cell"})
    save(store_db, 3, "europepmc", {"doi": "10.1/a", "venue": "Cell"})
    assert events(store_db) == []  # nor is the same value again


def test_what_the_run_that_added_a_citing_work_fills_in_is_part_of_adding_it(store_db):
    """Lists of one run describing a row the run added make no events (a cold run's fill-ins
    were millions); the same fill-in by a later run is one."""
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome

    def listed(run: int, at: datetime, source: str, **record) -> None:
        listing = CitingList(DEFAULT_DOI, source, Outcome.OK, (CitingRecord(source, **record),), complete=True)
        with store_db.atomic():
            citing.save_list(store_db, run, 1, listing, [], {}, at)

    first = store.start_run(store_db, datetime(2026, 1, 1, 6, tzinfo=UTC))
    listed(first, datetime(2026, 1, 1, 6, tzinfo=UTC), "icite", pmid="444")  # merged in bulk
    listed(first, datetime(2026, 1, 1, 6, 5, tzinfo=UTC), "europepmc", pmid="555")  # record by record
    listed(first, datetime(2026, 1, 1, 6, 10, tzinfo=UTC), "openalex", pmid="444", doi="10.1/a",
           title="Autophagy in T cells", venue="Immunity")
    listed(first, datetime(2026, 1, 1, 6, 20, tzinfo=UTC), "semanticscholar", pmid="555", title="Another work",
           is_influential=True, intents=("background",))
    assert events(store_db) == []
    rows = {r["pmid"]: r for r in citing.ledger_rows(store_db, DEFAULT_DOI)}
    assert (rows["444"]["title"], rows["444"]["venue"], rows["444"]["first_seen_run_id_2"]) == (
        "Autophagy in T cells", "Immunity", first)
    assert (rows["555"]["is_influential"], rows["555"]["intents"]) == (1, ["background"])
    assert rows["444"]["first_seen_run_id"] == first  # the citation's, not the citer's

    later = store.start_run(store_db, datetime(2026, 1, 2, 6, tzinfo=UTC))
    listed(later, datetime(2026, 1, 2, 6, tzinfo=UTC), "crossref", pmid="444", year=2024)
    assert events(store_db) == ["citers.year"]
    assert (as_of(store_db, 1)["10.1/a"]["year"], as_of(store_db, 2)["10.1/a"]["year"]) == (None, 2024)
    assert as_of(store_db, 1)["10.1/a"]["venue"] == "Immunity"  # as its first run left it


def test_a_citing_work_stored_before_citers_knew_their_run_has_its_fill_ins_kept_as_events(store_db):
    """A row from before ``citers.first_seen_run_id`` (m014: NULL) was added by an earlier run."""
    save(store_db, 1, "europepmc", {"pmid": "444"})
    store_db.execute("UPDATE citers SET first_seen_run_id = NULL")
    save(store_db, 2, "openalex", {"pmid": "444", "title": "Autophagy in T cells"})
    assert events(store_db) == ["citers.title"]
    assert as_of(store_db, 1)["444"]["title"] is None


def test_a_past_report_keeps_the_ledger_of_its_day(write_config, invoke, fake_api, tmp_path):
    """End to end: a preprint is published and merged after the day; `report --as-of` that day
    gives the same bytes before and after, and today's report shows the journal."""
    config = write_config(only=("semanticscholar",))
    assert invoke("run", "--config", str(config)).exit_code == 0
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    for table in [t for (t,) in conn.execute("select name from sqlite_master where type = 'table'")]:
        for column in [c[1] for c in conn.execute(f'pragma table_info("{table}")') if c[1].endswith("_at")]:
            conn.execute(f'update "{table}" set "{column}" = ? where "{column}" is not null',
                         ["2026-01-01T06:00:00.000000+00:00"])
    conn.commit()
    conn.close()
    page = "works/10.1016-j.drup.2021.100752.html"

    def past() -> dict[str, bytes]:
        out = tmp_path / "past"
        assert invoke("report", "--config", str(config), "--as-of", "2026-01-01", "--output", str(out)).exit_code == 0
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    then = past()
    assert "Nature Communications" not in then[page].decode()
    config = write_config(only=("semanticscholar", "openalex"))
    assert invoke("run", "--config", str(config)).exit_code == 0
    assert "Nature Communications" in (tmp_path / "state/report" / page).read_text()
    assert past() == then


def test_a_listed_work_is_checked_again_with_its_stored_authors_where_the_list_named_others(store_db):
    """The merge checks each record with the authors it lists; the citing work's authors as
    stored (an earlier source's) may differ, and those are checked too before the list ends."""
    from datetime import UTC, datetime

    from monitor import citing, store
    from monitor.models import CitingList, CitingRecord, Outcome

    save(store_db, 1, "europepmc", {"pmid": "333", "authors": ({"name": "Cheng Y"},)})
    now = datetime(2026, 1, 2, 6, tzinfo=UTC)
    record = CitingRecord("openalex", doi="10.1/z", pmid="333", authors=({"name": "Someone Else"},))
    with store_db.atomic():
        citing.save_list(store_db, store.start_run(store_db, now), 1,
                         CitingList(DEFAULT_DOI, "openalex", Outcome.OK, (record,), complete=True),
                         [{"name": "Yan Cheng"}], {}, now)
    [stored] = store_db.execute("SELECT authors FROM citers").fetchall()
    assert "Cheng Y" in stored[0]  # what this test is about: the stored authors are not the list's
    assert as_of(store_db, 2)["10.1/z"]["is_self_citation"] == 1
