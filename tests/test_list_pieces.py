"""Long citing lists stored in pieces as their pages come (monitor/sources/listing.py),
through the fake and in the ledger: the ledger a list in pieces leaves is the one it
leaves whole; a work vanishes only once the last piece came, and never for having been
listed in an earlier piece; a list whose end failed vanishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import citing, collect, source_job, store
from monitor.config import load_config
from monitor.models import CitingList, CitingRecord, Outcome, Work
from monitor.sources import europepmc, listing, openalex, semanticscholar
from tests.conftest import DEFAULT_DOI, db_rows
from tests.fakeapi.routes import openalex as fake_openalex

PAGED = ("openalex", "semanticscholar", "europepmc")

LEDGER = (
    "SELECT cs.source, coalesce(c.doi, c.pmid, c.title) AS citer, cs.gone_at IS NULL AS listed, "
    "cs.response_id IS NOT NULL AS answered, e.is_self_citation FROM citation_sources cs "
    "JOIN citations e ON e.id = cs.citation_id JOIN citers c ON c.id = e.citer_id ORDER BY 1, 2"
)
FETCHES = "SELECT source, outcome, complete, items FROM citing_fetches ORDER BY source, id"
DELIVER = source_job._deliver_lists


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of two records, so that the constructed lists (3 to 5 records) take 2 or 3."""
    monkeypatch.setattr(openalex, "PER_PAGE", 2)
    monkeypatch.setattr(semanticscholar, "PAGE_SIZE", 2)
    monkeypatch.setattr(europepmc, "PAGE_SIZE", 2)


def run_recording_pieces(config_path: Path, monkeypatch) -> list[tuple[str, bool, int]]:
    """A run; the lists it handed over (source, more, records), in order."""
    handed: list[tuple[str, bool, int]] = []
    deliver = DELIVER

    def recording(session, listings, *args, **kwargs):
        handed.extend((c.source, c.more, len(c.records)) for c in listings)
        return deliver(session, listings, *args, **kwargs)

    monkeypatch.setattr(source_job, "_deliver_lists", recording)
    collect.run(load_config(config_path, environ={}))
    return handed


@pytest.mark.parametrize("writer", ["thread", "process"])
@pytest.mark.parametrize("concurrency", [None, 1])
def test_a_list_in_pieces_leaves_the_ledger_it_leaves_whole(
    write_config, fake_api, small_pages, monkeypatch, tmp_path, writer, concurrency
):
    """Each page its own piece, or the list whole: the same citations, sources, answers
    (every sighting keeps the answer it came from) and fetches; each source records one fetch
    a list, its items the list's records, at the last piece. With one place (the calls in the
    lister's own thread) as with several."""
    monkeypatch.setenv("CITATION_MONITOR_WRITER", writer)
    sources = {name: {"max_concurrency": concurrency} for name in PAGED} if concurrency else {}
    config_path = write_config(only=PAGED, sources=sources)
    database = tmp_path / "state/monitor.db"

    monkeypatch.setattr(listing, "PIECE_RECORDS", 10**9)
    whole = run_recording_pieces(config_path, monkeypatch)
    expected = db_rows(database, LEDGER), db_rows(database, FETCHES)
    for leftover in database.parent.glob("monitor.db*"):
        leftover.unlink()

    monkeypatch.setattr(listing, "PIECE_RECORDS", 1)
    pieced = run_recording_pieces(config_path, monkeypatch)
    assert not any(more for _, more, _ in whole)
    assert {source for source, more, _ in pieced if more} == set(PAGED)  # each list came in pieces
    for source in PAGED:  # the pieces add up to the list
        assert sum(n for s, _, n in pieced if s == source) == sum(n for s, _, n in whole if s == source)
    assert (db_rows(database, LEDGER), db_rows(database, FETCHES)) == expected
    assert all(row["answered"] for row in expected[0]) and len(expected[1]) == len(PAGED)


def test_a_work_vanishes_from_a_list_in_pieces_only_at_its_end(write_config, fake_api, small_pages, monkeypatch,
                                                               tmp_path):
    """OpenAlex drops its list's first work: at the next run, in pieces of a page each, that
    work is gone and every other (listed in an earlier piece or in the last) is not."""
    monkeypatch.setattr(listing, "PIECE_RECORDS", 1)
    config_path = write_config(only=("openalex",))
    run_recording_pieces(config_path, monkeypatch)
    work_id = fake_api.records["openalex"][DEFAULT_DOI]["id"].rsplit("/", 1)[1]
    results = fake_api.records[fake_openalex.CITING][work_id]
    dropped = results.pop(0)["doi"].removeprefix("https://doi.org/")
    fake_openalex.set_count(fake_api, DEFAULT_DOI, len(results))  # a count that moved: the list is due
    handed = run_recording_pieces(config_path, monkeypatch)
    assert len(results) == 4 and [more for _, more, _ in handed] == [True, True, False]  # 2, 2, the empty page
    rows = db_rows(tmp_path / "state/monitor.db", LEDGER)
    assert {row["citer"]: row["listed"] for row in rows} == {
        **{r["doi"].removeprefix("https://doi.org/"): 1 for r in results}, dropped: 0}
    [*_, last] = db_rows(tmp_path / "state/monitor.db", FETCHES)
    assert (last["outcome"], last["complete"], last["items"]) == ("ok", 1, len(results))


# --- the ledger's side: citing.save_list with the run's Pieces ---

NOW = datetime(2026, 1, 2, 6, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    db = store.open_db(tmp_path / "monitor.db")
    store.sync_works(db, [Work(DEFAULT_DOI)], NOW)
    yield db
    db.close()


def records(*dois: str) -> tuple[CitingRecord, ...]:
    return tuple(CitingRecord("openalex", doi=doi, title=f"A title of {doi}") for doi in dois)


def save(db, run_id: int, listed: CitingList, pieces: citing.Pieces | None = None) -> None:
    with db.atomic():
        citing.save_list(db, run_id, 1, listed, [], {}, NOW, pieces)


def piece(*dois: str) -> CitingList:
    return CitingList(DEFAULT_DOI, "openalex", Outcome.OK, records(*dois), more=True)


def listed(db) -> dict[str, bool]:
    return {citer: bool(gone) for _, citer, gone, *_ in db.execute(LEDGER).fetchall()}


def test_pieces_are_merged_as_they_come_and_the_list_ends_at_its_last(db):
    first = store.start_run(db, NOW)
    save(db, first, CitingList(DEFAULT_DOI, "openalex", Outcome.OK, records("10.1/a", "10.1/b", "10.1/c"), True))
    later, pieces = store.start_run(db, NOW), citing.Pieces()
    save(db, later, piece("10.1/a"), pieces)
    save(db, later, piece("10.1/d"), pieces)
    assert listed(db) == {"10.1/a": True, "10.1/b": True, "10.1/c": True, "10.1/d": True}  # merged, none gone yet
    assert db.execute("SELECT run_id FROM citing_fetches").fetchall() == [(first,)]  # none for the pieces yet
    save(db, later, CitingList(DEFAULT_DOI, "openalex", Outcome.OK, records("10.1/b"), True), pieces)
    assert listed(db) == {"10.1/a": True, "10.1/b": True, "10.1/c": False, "10.1/d": True}
    fetches = db.execute("SELECT run_id, complete, items FROM citing_fetches ORDER BY id").fetchall()
    assert fetches == [(first, 1, 3), (later, 1, 3)]
    assert pieces.open == {}  # the list is done with


def test_a_list_whose_end_failed_keeps_its_pieces_and_vanishes_nothing(db):
    first = store.start_run(db, NOW)
    save(db, first, CitingList(DEFAULT_DOI, "openalex", Outcome.OK, records("10.1/a", "10.1/b"), True))
    later, pieces = store.start_run(db, NOW), citing.Pieces()
    save(db, later, piece("10.1/c"), pieces)
    save(db, later, CitingList(DEFAULT_DOI, "openalex", Outcome.ERROR, message="HTTP 500"), pieces)
    assert listed(db) == {"10.1/a": True, "10.1/b": True, "10.1/c": True}  # what came stays; none vanished
    assert db.execute("SELECT run_id, outcome, complete, items FROM citing_fetches ORDER BY id").fetchall() == [
        (first, "ok", 1, 2), (later, "error", 0, 1)]


def test_a_piece_needs_the_runs_pieces(db):
    with pytest.raises(ValueError, match="Pieces"):
        save(db, store.start_run(db, NOW), piece("10.1/a"))
