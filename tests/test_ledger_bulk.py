"""Lists of PMIDs alone merged a table at a time (monitor/ledger_bulk.py) write what merging
them record by record writes: the same rows, ids and events, in random histories of lists
from iCite and PubMed (PMIDs alone) and an OpenAlex-like source (DOI, PMID, title, authors),
complete and not, with listings that vanish and come back, PMIDs listed twice, a PMID two
citers share (those two go record by record) and answers kept for provenance."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor import citing, ledger_bulk, store
from monitor.ledger_reads import CitersOfList
from monitor.models import CitingList, CitingRecord, Exchange, Outcome, Work

TABLES = ("citers", "citations", "citation_sources", "ledger_events", "citing_fetches")
AUTHORS = [{"name": "Ting Jiang"}, {"name": "Yan Cheng"}]
APPLIES = ledger_bulk.applies


def history(seed: int) -> list[tuple[str, int, str, list[int], bool]]:
    """(kind, work, source, citers listed, complete), in order: a random night after night."""
    rng = random.Random(seed)
    steps: list[tuple[str, int, str, list[int], bool]] = []
    for _ in range(40):
        work, source = rng.randrange(4), rng.choice(("icite", "pubmed", "pubmed", "openalex"))
        listed = rng.sample(range(30), rng.randrange(0, 12))
        if source != "openalex" and listed and rng.random() < 0.1:
            listed.append(listed[0])  # a PMID listed twice
        steps.append(("list", work, source, listed, rng.random() < 0.8))
        if rng.random() < 0.05:
            steps.append(("twin", rng.randrange(30), "", [], False))  # a citer (this one) with a PMID
    return steps


def replay(tmp_path, seed: int, bulk: bool, monkeypatch) -> tuple[dict[str, list[tuple]], int]:
    """The ledger after ``history(seed)``, and how many lists went in bulk."""
    merged = [0]

    def counted(records, citers) -> bool:
        ok = bulk and APPLIES(records, citers)
        merged[0] += ok
        return ok

    monkeypatch.setattr(ledger_bulk, "applies", counted)
    db = store.open_db(tmp_path / f"{seed}-{bulk}.db")
    now = datetime(2026, 1, 1, 6, tzinfo=UTC)
    works = [Work(f"10.5555/bulk.{i}") for i in range(4)]
    ids = store.sync_works(db, works, now)
    run_id = store.start_run(db, now)
    for step, (kind, work, source, listed, complete) in enumerate(history(seed)):
        now += timedelta(minutes=7)
        if step % 10 == 9:
            run_id = store.start_run(db, now)
        with db.atomic():
            if kind == "twin":
                db.execute("INSERT INTO citers (pmid, first_seen_at, updated_at) VALUES (?, ?, ?)",
                           [str(1000 + work), store.iso(now), store.iso(now)])
                continue
            exchange = Exchange(source, "GET", f"http://x/{step}", 200, {}, b"{}", now, 1)
            response_ids = {id(exchange): store.save_exchange(db, run_id, exchange)}
            records = tuple(
                CitingRecord(source, pmid=str(1000 + c), exchange=exchange if i % 3 == 0 else None)
                if source != "openalex" else
                CitingRecord(source, doi=f"10.9/c{c}", pmid=str(1000 + c) if c % 4 else None,
                             title=f"A citing work numbered {c}", year=2024,
                             authors=({"name": "Yan Cheng" if c % 5 == 0 else f"X Y{c}"},))
                for i, c in enumerate(listed)
            )
            listing = CitingList(works[work].doi, source, Outcome.OK, records, complete=complete,
                                 count_at_fetch=len(records))
            citing.save_list(db, run_id, ids[works[work].doi], listing, AUTHORS, response_ids, now)
    tables = ledger_tables(db)
    db.close()
    return tables, merged[0]


def ledger_tables(db) -> dict[str, list[tuple]]:
    """Every row of the ledger's tables, rowids included, in order."""
    return {t: [tuple(r) for r in db.conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid")] for t in TABLES}


def assert_same_ledger(one: dict[str, list[tuple]], other: dict[str, list[tuple]]) -> None:
    for table in TABLES:
        assert one[table] == other[table], table


@pytest.mark.parametrize("seed", range(12))
def test_a_list_merged_in_bulk_writes_what_record_by_record_writes(tmp_path, monkeypatch, seed):
    by_record, none = replay(tmp_path, seed, False, monkeypatch)
    in_bulk, lists = replay(tmp_path, seed, True, monkeypatch)
    assert none == 0 and lists > 5  # the bulk path was taken, and the other not
    assert_same_ledger(in_bulk, by_record)
    assert by_record["ledger_events"]  # the histories change things, vanishings and returns too
    assert any("gone_at" in str(row) for row in by_record["ledger_events"])


def test_a_pmid_two_citers_share_or_one_listed_twice_goes_record_by_record(tmp_path):
    db = store.open_db(tmp_path / "m.db")
    for pmid in ("1", "2", "2"):
        db.execute("INSERT INTO citers (pmid, first_seen_at, updated_at) VALUES (?, ?, ?)", [pmid, "x", "x"])
    def applies(pmids: tuple[str, ...], *more: CitingRecord) -> bool:
        records = [*(CitingRecord("icite", pmid=p) for p in pmids), *more]
        return ledger_bulk.applies(records, CitersOfList(db, records))

    assert applies(("1", "3"))  # one citer, and one new
    assert not applies(("1", "3", "2"))  # two citers have PMID 2: they are merged record by record
    assert not applies(("1", "3", "1"))  # listed twice
    assert not applies(("1",), CitingRecord("icite", pmid="4", title="T"))  # more than a PMID
    assert not applies(())
    db.close()
