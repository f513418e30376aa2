"""A list of PMIDs alone (iCite's, PubMed's) merged into the ledger a table at a time.

Such a record changes nothing in a citer it matches (it knows only the PMID they share) and
carries no authors, flags, contexts or intents; so where no PMID matches two citers (a merge)
and none is listed twice, merging the list is: the new citers, the new citations, the
existing ones seen again, and each citation's sighting by the source; a handful of
statements for the whole list, not a few for each record. On a cold run at 100,000 works
these are about half the ledger's records (every work's iCite and PubMed lists). The rows, ids and events it writes are those
``citing.save_list`` would write record by record (tests/test_ledger_bulk.py compares
both); ``citing`` takes the statements they share from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor import ledger_history, store
from monitor.ledger_reads import CitersOfList, ReadOnce, names_a_pmid_alone
from monitor.models import CitingList, CitingRecord
from monitor.store import iso

INSERT_CITATION = (
    "INSERT INTO citations (work_id, citer_id, first_seen_at, first_seen_run_id, last_seen_at, "
    "is_self_citation, is_influential, contexts, intents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPSERT_SIGHTING = (
    "INSERT INTO citation_sources (citation_id, source, first_seen_at, first_seen_run_id, "
    "last_seen_at, author_sc, journal_sc, response_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (citation_id, source) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
    "gone_at = NULL, author_sc = coalesce(excluded.author_sc, author_sc), "
    "journal_sc = coalesce(excluded.journal_sc, journal_sc), "
    "response_id = coalesce(excluded.response_id, response_id)"
)


def citation_row(
    work_id: int, citer_id: int, record: CitingRecord, run_id: int, now: datetime, self_cite: bool
) -> list[Any]:
    """``INSERT_CITATION``'s values for a citation first seen in ``record``."""
    return [work_id, citer_id, iso(now), run_id, iso(now), int(self_cite), flag(record.is_influential),
            json.dumps(list(record.contexts)), json.dumps(list(record.intents))]


def sighting_row(
    citation_id: int, record: CitingRecord, run_id: int, now: datetime, response_ids: Mapping[int, int]
) -> list[Any]:
    """``UPSERT_SIGHTING``'s values for ``record``'s source listing the citation now."""
    response_id = response_ids.get(id(record.exchange)) if record.exchange else None
    return [citation_id, record.source, iso(now), run_id, iso(now),
            flag(record.author_sc), flag(record.journal_sc), response_id]


def applies(records: Sequence[CitingRecord], citers: CitersOfList) -> bool:
    """Whether a list (``citers``: the citers it may be, read for it) can be merged here:
    PMIDs alone, none listed twice, none that two citers share."""
    if citers.stale or not records or not all(names_a_pmid_alone(r) for r in records):
        return False
    pmids = [str(r.pmid) for r in records]
    return len(set(pmids)) == len(pmids) and all(len(citers.with_pmid(p)) <= 1 for p in pmids)


def save_pmids(
    db: sqlite_utils.Database, run_id: int, work_id: int, listing: CitingList,
    response_ids: Mapping[int, int], now: datetime,
    citers: CitersOfList, citations: ReadOnce, sightings: ReadOnce,
) -> set[int]:
    """Merge a list ``applies`` accepts (inside the caller's transaction); the ids of the
    citations it lists."""
    records, at = listing.records, iso(now)
    pmids = [str(r.pmid) for r in records]  # every record names one (``applies``)
    known = {p: next(iter(found)) for p in pmids if (found := citers.with_pmid(p))}
    new = [p for p in pmids if p not in known]
    db.conn.executemany("INSERT INTO citers (pmid, first_seen_at, updated_at, first_seen_run_id) VALUES (?, ?, ?, ?)",
                        [(p, at, at, run_id) for p in new])
    citer_ids = {**known, **_ids(db, "SELECT pmid AS k, id FROM citers WHERE pmid IN ({})", [], new)}
    before = {p: citations.row(citer_ids[p], _never) for p in pmids}
    db.conn.executemany(INSERT_CITATION, [
        citation_row(work_id, citer_ids[p], record, run_id, now, False)
        for p, record in zip(pmids, records, strict=True) if before[p] is None
    ])
    db.conn.executemany("UPDATE citations SET last_seen_at = ? WHERE id = ?", [
        (at, row["id"]) for row in before.values() if row is not None and row["last_seen_at"] != at
    ])
    fresh = [citer_ids[p] for p in pmids if before[p] is None]
    citation_ids = {
        **{citer_ids[p]: row["id"] for p, row in before.items() if row is not None},
        **_ids(db, "SELECT citer_id AS k, id FROM citations WHERE work_id = ? AND citer_id IN ({})",
               [work_id], fresh),
    }
    listed = [(citation_ids[citer_ids[p]], p, record) for p, record in zip(pmids, records, strict=True)]
    db.conn.executemany(UPSERT_SIGHTING, [
        sighting_row(citation_id, record, run_id, now, response_ids) for citation_id, _, record in listed
    ])
    for citation_id, pmid, _ in listed:  # a listing that had gone comes back: the only event
        seen_before = sightings.row(citation_id, _never)
        if seen_before is not None and seen_before["gone_at"] is not None:
            ledger_history.record_changes(
                db, now, "citation_sources", seen_before, {"gone_at": None}, run_id=run_id,
                citer_id=citer_ids[pmid], work_id=work_id, citation_id=citation_id,
                source=listing.source,
            )
    return {citation_id for citation_id, _, _ in listed}


def _ids(db: sqlite_utils.Database, sql: str, params: list[Any], keys: Sequence[Any]) -> dict[Any, int]:
    """``k`` → ``id`` of the rows ``sql`` finds for ``keys``, a few hundred to a query."""
    found: dict[Any, int] = {}
    for part, marks in store.in_parts(keys):
        for row in db.conn.execute(sql.format(marks), [*params, *part]):
            found[row[0]] = row[1]
    return found


def _never(*_: Any) -> None:
    """The read a ``ReadOnce`` falls back on, never reached here: each row is asked once."""
    raise AssertionError("a list merged in bulk asks for each row once")


def flag(value: bool | None) -> int | None:
    """A flag as stored: 1, 0, or NULL when unknown."""
    return None if value is None else int(value)
