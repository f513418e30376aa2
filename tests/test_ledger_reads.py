"""A citing list's records matched against the citers read once before it
(``monitor.ledger_reads.CitersOfList``) find what each record's own query finds: the same
rows, ids and events, in random histories of lists from several sources that each know a
different part of a citing work (DOI, PMID, OpenAlex and Semantic Scholar ids, title, year),
preprints and their published versions, titles two works share, a work listed twice in one
list, and the merges all that leads to."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor import citing, store
from monitor.ledger_reads import CitersOfList
from monitor.models import CitingList, CitingRecord, Outcome, Work
from tests.test_ledger_bulk import assert_same_ledger, ledger_tables

AUTHORS = [{"name": "Ting Jiang"}, {"name": "Yan Cheng"}]
POOL = 24  # citing works


def record(rng: random.Random, source: str, k: int) -> CitingRecord:
    """What ``source`` says of citing work ``k``: a random part of what there is to know."""
    knows = {name: rng.random() < 0.6 for name in ("doi", "pmid", "openalex_id", "s2_id", "title", "year")}
    preprint = k % 6 == 0 and rng.random() < 0.5  # its preprint, as a preprint server lists it
    return CitingRecord(
        source,
        doi=(f"10.1101/p{k}" if preprint else f"10.9/w{k}") if knows["doi"] else None,
        pmid=str(5000 + k) if knows["pmid"] and k % 3 else None,
        openalex_id=f"W{k}" if knows["openalex_id"] and not preprint else None,
        s2_id=f"S{k}" if knows["s2_id"] else None,
        title=f"A citing work about topic number {k // 2}" if knows["title"] or preprint else None,
        year=(2020 + k % 4 - (1 if preprint else 0)) if knows["year"] else None,
        type="posted-content" if preprint else None,
        venue=rng.choice((None, "A Journal")),
        authors=({"name": "Yan Cheng" if k % 7 == 0 else f"X Y{k}"},) if rng.random() < 0.5 else (),
    )


def history(seed: int) -> list[tuple[int, str, list[CitingRecord], bool]]:
    """(work, source, records, complete), list after list."""
    rng = random.Random(seed)
    steps = []
    for _ in range(40):
        source = rng.choice(("openalex", "semanticscholar", "europepmc", "crossref"))
        listed = [record(rng, source, k) for k in rng.sample(range(POOL), rng.randrange(0, 10))]
        if listed and rng.random() < 0.15:
            listed.append(record(rng, source, rng.choice(range(POOL))))  # maybe a work again
        steps.append((rng.randrange(3), source, listed, rng.random() < 0.8))
    return steps


def replay(tmp_path, seed: int, read_once: bool, monkeypatch) -> tuple[dict[str, list[tuple]], int]:
    """The ledger after ``history(seed)``, and how many records were matched against the
    citers read once."""
    matched = [0]
    if read_once:
        matching = CitersOfList.matching

        def counted(self, record):
            matched[0] += 1
            return matching(self, record)

        monkeypatch.setattr(CitersOfList, "matching", counted)
    else:  # each record asks the database, as before
        own_query = citing._matching_citers
        monkeypatch.setattr(citing, "_matching_citers", lambda db, record, citers=None: own_query(db, record))
    db = store.open_db(tmp_path / f"{seed}-{read_once}.db")
    now = datetime(2026, 1, 1, 6, tzinfo=UTC)
    works = [Work(f"10.5555/reads.{i}") for i in range(3)]
    ids = store.sync_works(db, works, now)
    run_id = store.start_run(db, now)
    for step, (work, source, records, complete) in enumerate(history(seed)):
        now += timedelta(minutes=7)
        if step % 10 == 9:
            run_id = store.start_run(db, now)
        listing = CitingList(works[work].doi, source, Outcome.OK, tuple(records), complete=complete,
                             count_at_fetch=len(records))
        with db.atomic():
            citing.save_list(db, run_id, ids[works[work].doi], listing, AUTHORS, {}, now)
    tables = ledger_tables(db)
    db.close()
    monkeypatch.undo()
    return tables, matched[0]


@pytest.mark.parametrize("seed", range(10))
def test_the_citers_read_once_for_a_list_match_as_each_records_own_query(tmp_path, monkeypatch, seed):
    by_query, _ = replay(tmp_path, seed, False, monkeypatch)
    read_once, matched = replay(tmp_path, seed, True, monkeypatch)
    assert matched > 50  # most records were matched against what was read once
    assert_same_ledger(read_once, by_query)


def test_the_histories_fill_in_link_and_merge_citing_works(tmp_path, monkeypatch):
    """What the test above compares is the ledger's hard part: changes to citers the lists
    read, preprints linked to their versions, and merges (after which each record asks)."""
    events = [replay(tmp_path, seed, True, monkeypatch)[0]["ledger_events"] for seed in range(10)]
    attributes = [{row[7] for row in rows} for rows in events]  # rowid, id, at, ..., attribute
    assert sum("merge" in a for a in attributes) >= 3
    assert sum("citers.preprint_doi" in a or "citers.doi" in a for a in attributes) >= 3
    assert all({"citers.title", "citers.year"} & a for a in attributes)
