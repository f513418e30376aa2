"""The citing-works ledger in the database: one row per distinct citing work.

Tables (created in ``store``): ``citers`` (distinct citing works, a preprint and its
published version being one row), ``citations`` (tracked work × citer, with our
first-seen time), ``citation_sources`` (which source lists each citation, since
when, and when it vanished), ``citing_fetches`` (each list fetch, for request economy).
A long list may come in pieces (``CitingList.more``): each is merged as it comes, and the
last one records the fetch and finds the works that vanished (``Pieces``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from statistics import median
from typing import Any

import sqlite_utils

from monitor import ledger, ledger_bulk, ledger_history, store
from monitor.ledger_reads import CitersOfList, ReadOnce
from monitor.models import CitingList, CitingRecord, Outcome
from monitor.store import iso

_SCALARS = ("pmid", "pmcid", "openalex_id", "s2_id", "title", "year", "published", "venue", "type")
_LISTS = ("countries", "institutions", "fields")


class Pieces:
    """The lists of a run whose pieces are coming (``CitingList.more``: monitor/sources/listing.py),
    by work and source: what their pieces so far listed. Kept by the run's writer from a
    list's first piece to its last, which sees the list whole through it."""

    def __init__(self) -> None:
        self.open: dict[tuple[int, str], _Listed] = {}


class _Listed:
    """What the pieces of one list so far listed: the citations (their ids), the records,
    the authors each citation was checked with (``_merge_records``)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.records = 0
        self.checked: dict[int, bytes] = {}

    def add(self, seen: set[int], records: int, checked: dict[int, bytes]) -> None:
        """A piece's (taken as they are, not copied, when they are the list's first: most lists
        are one piece)."""
        if self.seen:
            self.seen |= seen
        else:
            self.seen = seen
        if self.checked:
            self.checked.update(checked)
        else:
            self.checked = checked
        self.records += records


def save_list(
    db: sqlite_utils.Database,
    run_id: int,
    work_id: int,
    listing: CitingList,
    tracked_authors: list[Mapping[str, Any]],
    response_ids: Mapping[int, int],
    now: datetime,
    pieces: Pieces | None = None,
) -> None:
    """Merge one source's list for one work into the ledger (inside the caller's transaction):
    a whole list, or a piece of one (``pieces``: the run's lists in pieces, which a piece
    needs). A list's fetch is recorded, its self-citations checked and its vanished works
    found at its last piece, which sees what its pieces listed before it."""
    if listing.more and pieces is None:
        raise ValueError("a piece of a list is saved with the run's Pieces: its last piece needs what it listed")
    listed = _Listed() if pieces is None else pieces.open.pop((work_id, listing.source), None) or _Listed()
    if not listing.more:
        db.execute(
            "INSERT INTO citing_fetches (run_id, work_id, source, fetched_at, outcome, message, "
            "complete, items, count_at_fetch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, work_id, listing.source, iso(now), listing.outcome.value, listing.message,
             int(listing.complete), listed.records + len(listing.records), listing.count_at_fetch],
        )
    if listing.outcome is not Outcome.OK:
        return
    citers = CitersOfList(db, listing.records)
    known = sorted(citers.ids())  # the citers its records may be: only their citations can be touched
    citations = ReadOnce(_of_citers(db, "SELECT * FROM citations WHERE work_id = ? AND citer_id IN ({})",
                                    [work_id], known), "citer_id")
    sightings = ReadOnce(_of_citers(db,
        "SELECT cs.* FROM citation_sources cs JOIN citations e ON e.id = cs.citation_id "
        "WHERE e.work_id = ? AND cs.source = ? AND e.citer_id IN ({})", [work_id, listing.source], known),
        "citation_id")
    is_self_citation = ledger.SelfCitations(tracked_authors)
    checked: dict[int, bytes]  # citation → the authors (as stored) it was just checked with: their _fingerprint
    if ledger_bulk.applies(listing.records, citers):
        seen = ledger_bulk.save_pmids(db, run_id, work_id, listing, response_ids, now, citers, citations, sightings)
        checked = {}  # PMIDs alone name no authors
    else:
        seen, checked = _merge_records(db, run_id, work_id, listing, is_self_citation, response_ids, now,
                                       (citations, sightings, citers))
    listed.add(seen, len(listing.records), checked)
    if listing.more:  # the rest of the list follows
        assert pieces is not None
        pieces.open[(work_id, listing.source)] = listed
        return
    if tracked_authors:
        _flag_self_citations(db, work_id, is_self_citation, run_id, now, listed.checked)
    if listing.complete:  # only a complete list can show that a work has vanished
        for citation_id, citer_id in db.execute(  # all read first: rows change below
            "SELECT cs.citation_id, e.citer_id FROM citation_sources cs "
            "JOIN citations e ON e.id = cs.citation_id "
            "WHERE e.work_id = ? AND cs.source = ? AND cs.gone_at IS NULL",
            [work_id, listing.source],
        ).fetchall():
            if citation_id not in listed.seen:
                db.execute(
                    "UPDATE citation_sources SET gone_at = ? WHERE citation_id = ? AND source = ?",
                    [iso(now), citation_id, listing.source],
                )
                ledger_history.record_changes(
                    db, now, "citation_sources", {"gone_at": None}, {"gone_at": iso(now)}, run_id=run_id,
                    citer_id=citer_id, work_id=work_id, citation_id=citation_id, source=listing.source,
                )


def _of_citers(db: sqlite_utils.Database, sql: str, params: list[Any], citer_ids: list[int]) -> Iterator[dict[str, Any]]:
    """The rows ``sql`` finds for ``citer_ids``, a few hundred ids a query (a list's piece
    reads what its records may touch, not the work's every citation)."""
    for part, marks in store.in_parts(citer_ids):
        yield from store.rows(db, sql.format(marks), [*params, *part])


def _merge_records(
    db: sqlite_utils.Database, run_id: int, work_id: int, listing: CitingList,
    is_self_citation: ledger.SelfCitations, response_ids: Mapping[int, int], now: datetime,
    read: tuple[ReadOnce, ReadOnce, CitersOfList],
) -> tuple[set[int], dict[int, bytes]]:
    """``save_list``'s records one by one (``read``: the work's citations and sightings, and
    the citers its records may be, read before the list): the ids of the citations listed,
    and the authors (as stored) each was checked with (their ``_fingerprint``)."""
    citations, sightings, citers = read
    seen: set[int] = set()
    checked: dict[int, bytes] = {}
    for record in listing.records:
        citer_id, merged = _upsert_citer(db, record, run_id, now, citers)
        if merged:  # rows moved between citers: what was read before the list is stale
            citations.stale = sightings.stale = citers.stale = True
        self_cite = is_self_citation(record.authors, record.author_sc)
        citation_id = _upsert_citation(
            db, work_id, citer_id, record, run_id, now, self_cite,
            citations.row(citer_id, _citation, db, work_id, citer_id),
        )
        before = sightings.row(citation_id, _sighting, db, citation_id, listing.source)
        db.execute(ledger_bulk.UPSERT_SIGHTING, ledger_bulk.sighting_row(citation_id, record, run_id, now, response_ids))
        if before is not None:  # as the statement left it (its tracked columns)
            after = {"gone_at": None,
                     "author_sc": _coalesce(ledger_bulk.flag(record.author_sc), before["author_sc"]),
                     "journal_sc": _coalesce(ledger_bulk.flag(record.journal_sc), before["journal_sc"])}
            ledger_history.record_changes(
                db, now, "citation_sources", before, after, run_id=run_id,
                citer_id=citer_id, work_id=work_id, citation_id=citation_id, source=listing.source,
            )
        seen.add(citation_id)
        if record.authors:
            checked[citation_id] = _fingerprint(json.dumps([dict(a) for a in record.authors]))
    return seen, checked


def complete_citer(db: sqlite_utils.Database, record: CitingRecord, run_id: int, now: datetime) -> int:
    """Merge what a lookup in run ``run_id`` says about a citing work (``monitor.enrich``) into
    the ledger, as a list's record is merged, inside the caller's transaction; flag the
    self-citations its authors reveal. Returns the citer's id."""
    citer_id = upsert_citer(db, record, run_id, now)
    for edge in list(store.rows(db,
        "SELECT e.work_id, w.doi FROM citations e JOIN works w ON w.id = e.work_id "
        "WHERE e.citer_id = ?", [citer_id],
    )):
        authors = store.work_authors(db, edge["doi"])
        if authors:
            _flag_self_citations(db, edge["work_id"], ledger.SelfCitations(authors), run_id, now)
    return citer_id


def _flag_self_citations(
    db: sqlite_utils.Database, work_id: int, is_self_citation: ledger.SelfCitations, run_id: int, now: datetime,
    checked: Mapping[int, bytes] | None = None,
) -> None:
    """Check the work's citing works listed before its own authors were known (a source that
    finished before the ones describing the tracked work), so none stays unflagged until its
    list is fetched again. A citation in ``checked`` was just checked with the authors it
    maps to (their ``_fingerprint``): when those are the stored ones, it is not checked again."""
    checked = checked or {}
    for citation_id, citer_id, first_seen_run_id, authors in db.execute(  # all read first: rows change below
        "SELECT e.id, e.citer_id, e.first_seen_run_id, c.authors FROM citations e JOIN citers c ON c.id = e.citer_id "
        "WHERE e.work_id = ? AND e.is_self_citation = 0 AND c.authors != '[]'", [work_id],
    ).fetchall():
        if citation_id in checked and checked[citation_id] == _fingerprint(authors):
            continue
        if is_self_citation(json.loads(authors)):
            db.execute("UPDATE citations SET is_self_citation = 1 WHERE id = ?", [citation_id])
            ledger_history.record_changes(
                db, now, "citations", {"is_self_citation": 0, "first_seen_run_id": first_seen_run_id},
                {"is_self_citation": 1}, run_id=run_id, citer_id=citer_id, work_id=work_id,
                citation_id=citation_id,
            )


def _fingerprint(authors: str) -> bytes:
    """Authors as stored (JSON text) in 16 bytes: what a list's merge keeps of each record's
    (the text itself, for a list of 10,000 citing works, held 8 MB of the writer's memory)."""
    return hashlib.blake2b(authors.encode(), digest_size=16).digest()


def _citation(db: sqlite_utils.Database, work_id: int, citer_id: int) -> dict[str, Any] | None:
    return next(store.rows(db, "SELECT * FROM citations WHERE work_id = ? AND citer_id = ?", [work_id, citer_id]), None)


def _upsert_citation(
    db: sqlite_utils.Database, work_id: int, citer_id: int, record: CitingRecord,
    run_id: int, now: datetime, self_cite: bool, before: Mapping[str, Any] | None,
) -> int:
    """The citation's id (``before``: its row as stored, if any)."""
    if before is None:
        cursor = db.execute(
            ledger_bulk.INSERT_CITATION, ledger_bulk.citation_row(work_id, citer_id, record, run_id, now, self_cite)
        )
        return int(cursor.lastrowid or 0)
    after = {
        "last_seen_at": iso(now),
        "is_self_citation": max(before["is_self_citation"], int(self_cite)),
        "is_influential": _either_known(ledger_bulk.flag(record.is_influential), before["is_influential"]),
        "contexts": json.dumps(list(record.contexts)) if record.contexts else before["contexts"],
        "intents": json.dumps(list(record.intents)) if record.intents else before["intents"],
    }
    changed = {column: value for column, value in after.items() if value != before[column]}
    if changed:  # none when the citation was listed at this same time already
        ledger_history.record_changes(
            db, now, "citations", before, changed, run_id=run_id, citer_id=citer_id, work_id=work_id,
            citation_id=before["id"],
        )
        db.execute(
            f"UPDATE citations SET {', '.join(f'{k} = ?' for k in changed)} WHERE id = ?",
            [*changed.values(), before["id"]],
        )
    return int(before["id"])


def _either_known(new: int | None, old: int | None) -> int | None:
    """The new value when a source states one, else the one we had."""
    return old if new is None else new


_coalesce = _either_known  # SQL's coalesce(new, old), as the upserts say it


def upsert_citer(db: sqlite_utils.Database, record: CitingRecord, run_id: int, now: datetime) -> int:
    """Find the citing work this record describes (merging duplicates it reveals), or add it
    (as run ``run_id``'s)."""
    return _upsert_citer(db, record, run_id, now)[0]


def _upsert_citer(
    db: sqlite_utils.Database, record: CitingRecord, run_id: int, now: datetime, citers: CitersOfList | None = None,
) -> tuple[int, bool]:
    """``upsert_citer``'s id, and whether rows were merged into it (``citers``: those the
    record's list may be, read before it, and kept up to date here)."""
    fresh = citers if citers is not None and not citers.stale else None
    matches = _matching_citers(db, record, fresh)
    if not matches:  # one INSERT of the row an empty one would be filled into
        row = {**_EMPTY_CITER, "doi": record.doi, "is_preprint": int(ledger.is_preprint(record))}
        row.update(_citer_changes(row, record), first_seen_at=iso(now), updated_at=iso(now), first_seen_run_id=run_id)
        values = {k: v for k, v in row.items() if v != _EMPTY_CITER.get(k, ...)}
        cursor = db.execute(
            f"INSERT INTO citers ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        citer_id = int(cursor.lastrowid or 0)
        if fresh:
            fresh.added({**row, "id": citer_id})
        return citer_id, False
    citer_id = min(matches)
    for other in sorted(matches.keys() - {citer_id}):
        _merge_citers(db, citer_id, other, run_id, now)
    # the row as read, unless a merge changed it
    changes = _update_citer(db, citer_id, record, run_id, now, row=matches[citer_id] if len(matches) == 1 else None)
    if fresh and changes and len(matches) == 1:
        fresh.changed(citer_id, changes)
    return citer_id, len(matches) > 1


def _matching_citers(
    db: sqlite_utils.Database, record: CitingRecord, citers: CitersOfList | None = None,
) -> dict[int, dict[str, Any]]:
    """The stored citers the record is (by any identifier, or by title as the rules allow),
    by id: one query, each of its terms an index's (``citers``: its candidates, read already)."""
    title = ledger.normalize_title(record.title) or None
    ids = {column: getattr(record, column) or None for column in ("pmid", "openalex_id", "s2_id")}
    doi = record.doi or None
    if not (doi or title or any(ids.values())):
        return {}
    if citers is not None:
        rows = list(citers.matching(record).values())
    else:
        rows = list(store.rows(db,
            "SELECT * FROM citers WHERE doi = :doi OR preprint_doi = :doi OR pmid = :pmid "
            "OR openalex_id = :openalex_id OR s2_id = :s2_id OR norm_title = :title",
            {"doi": doi, "title": title, **ids},
        ))
    found = {
        row["id"]: row for row in rows
        if (doi and doi in (row["doi"], row["preprint_doi"]))
        or any(value and row[column] is not None and str(row[column]) == str(value)
               for column, value in ids.items())
    }
    if title:
        incoming_preprint = ledger.is_preprint(record)
        for row in sorted((r for r in rows if r["norm_title"] == title), key=lambda r: r["id"]):
            row_preprint = bool(row["is_preprint"])
            either = row_preprint or incoming_preprint
            if row["id"] in found or not ledger.same_title_work(record.year, row["year"], either):
                continue
            if found and row_preprint == incoming_preprint:
                continue  # already known by an identifier: a title only links preprint and version
            if record.doi and row["doi"] and not either:
                continue  # two DOIs, neither a preprint: two works that share a title
            found[row["id"]] = row
    return found


# A citer's row as a new one starts, but its id and moments: every column's default.
_EMPTY_CITER: dict[str, Any] = {
    "doi": None, "preprint_doi": None, "is_preprint": 0, **dict.fromkeys(_SCALARS),
    **dict.fromkeys(("authors", *_LISTS), "[]"), "is_retracted": None, "retracted_by": None,
    "norm_title": None, "looked_up_at": None, "first_seen_run_id": None,
}


def _update_citer(
    db: sqlite_utils.Database, citer_id: int, record: CitingRecord, run_id: int, now: datetime,
    row: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fill and correct a citer's attributes from a record (``row``: the citer as stored, if
    just read); each change is kept as an event, unless run ``run_id`` added it. What changed."""
    if row is None:
        row = next(store.rows(db, "SELECT * FROM citers WHERE id = ?", [citer_id]))
    changes = _citer_changes(row, record)
    if changes:
        ledger_history.record_changes(db, now, "citers", row, changes, run_id=run_id, citer_id=citer_id)
        changes["updated_at"] = iso(now)
        assignments = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE citers SET {assignments} WHERE id = ?", [*changes.values(), citer_id])
    return changes


def _citer_changes(row: Mapping[str, Any], record: CitingRecord) -> dict[str, Any]:
    """What a record fills in or corrects of a citer's row."""
    changes: dict[str, Any] = {}
    incoming_preprint = ledger.is_preprint(record)
    if record.doi and record.doi not in (row["doi"], row["preprint_doi"]):
        if row["doi"] is None:
            changes["doi"] = record.doi
        elif row["is_preprint"] and not incoming_preprint:
            # the published version of a preprint we knew: it becomes the row's identity,
            # and the preprint's venue, type and dates give way (later sources fill them)
            changes.update(doi=record.doi, preprint_doi=row["doi"], is_preprint=0)
            changes.update({k: getattr(record, k) for k in ("year", "published", "venue", "type")})
            if record.title:
                changes["title"] = record.title
        elif incoming_preprint and not row["preprint_doi"]:
            changes["preprint_doi"] = record.doi
    # the preprint of a row that is its published version lends ids, never venue or dates
    lends_ids_only = incoming_preprint and not row["is_preprint"] and row["doi"] is not None
    columns = ("openalex_id", "s2_id", "title") if lends_ids_only else _SCALARS
    for column in columns:
        value = getattr(record, column)
        if value not in (None, "") and row[column] in (None, "") and column not in changes:
            changes[column] = value
    # a fuller date that agrees with the stored one ('2022' → '2022-03-14') replaces it
    if not lends_ids_only and record.published and row["published"] \
            and len(record.published) > len(row["published"]) \
            and record.published.startswith(row["published"]) and "published" not in changes:
        changes["published"] = record.published
    if record.authors and row["authors"] == "[]":
        changes["authors"] = json.dumps([dict(a) for a in record.authors])
    for column in _LISTS:
        incoming = getattr(record, column)
        if not incoming:
            continue
        stored = json.loads(row[column])
        merged = sorted(set(stored) | set(incoming))
        if merged != stored:
            changes[column] = json.dumps(merged)
    if record.is_retracted is not None and not row["is_retracted"]:
        changes["is_retracted"] = int(record.is_retracted)
        if record.is_retracted:
            changes["retracted_by"] = record.source or row["retracted_by"]
    if "title" in changes:
        changes["norm_title"] = ledger.normalize_title(changes["title"])
    return changes


def _merge_citers(db: sqlite_utils.Database, keep: int, drop: int, run_id: int, now: datetime) -> None:
    """Two rows turned out to be one work: move ``drop``'s citations onto ``keep``.

    Where both cite the same tracked work, the two links become one that keeps everything
    either knew: the earliest sighting, the latest, every source's listing, contexts and intents.
    Each tracked work's part of the merge is an event holding the rows as they were.
    """
    old = next(store.rows(db, "SELECT * FROM citers WHERE id = ?", [drop]))
    for edge in list(store.rows(db, "SELECT * FROM citations WHERE citer_id = ?", [drop])):
        twin = next(store.rows(db,
            "SELECT * FROM citations WHERE work_id = ? AND citer_id = ?", [edge["work_id"], keep]), None)
        ledger_history.record_merge(
            db, now, keep, old, edge, _sightings(db, edge["id"]),
            twin, _sightings(db, twin["id"]) if twin else [],
        )
        if twin is None:
            db.execute("UPDATE citations SET citer_id = ? WHERE id = ?", [keep, edge["id"]])
            continue
        db.execute(_MERGE_SIGHTINGS, [twin["id"], edge["id"]])
        db.execute("DELETE FROM citation_sources WHERE citation_id = ?", [edge["id"]])
        db.execute(
            "UPDATE citations SET first_seen_at = ?, first_seen_run_id = ?, last_seen_at = ?, "
            "is_self_citation = ?, is_influential = ?, contexts = ?, intents = ? WHERE id = ?",
            [
                min(twin["first_seen_at"], edge["first_seen_at"]),
                min(twin["first_seen_run_id"], edge["first_seen_run_id"]),
                max(twin["last_seen_at"], edge["last_seen_at"]),
                max(twin["is_self_citation"], edge["is_self_citation"]),
                _either(twin["is_influential"], edge["is_influential"]),
                _union_json(twin["contexts"], edge["contexts"]),
                _union_json(twin["intents"], edge["intents"]),
                twin["id"],
            ],
        )
        db.execute("DELETE FROM citations WHERE id = ?", [edge["id"]])
    db.execute("DELETE FROM citers WHERE id = ?", [drop])
    kept = next(store.rows(db, "SELECT * FROM citers WHERE id = ?", [keep]))
    first = {"first_seen_at": min(kept["first_seen_at"], old["first_seen_at"])}
    ledger_history.record_changes(db, now, "citers", kept, first, run_id=run_id, citer_id=keep)
    db.execute("UPDATE citers SET first_seen_at = ? WHERE id = ?", [first["first_seen_at"], keep])
    _update_citer(db, keep, _as_record(old), run_id, now)
    if old["preprint_doi"]:
        _update_citer(db, keep, CitingRecord(source="", doi=old["preprint_doi"], type="preprint"), run_id, now)


# One source's sighting of a link moves onto the link it merges into; where that link has a
# sighting of the same source too, the two become one: earliest first sighting, latest last
# sighting, and still listed if either is.
_MERGE_SIGHTINGS = """
    INSERT INTO citation_sources (citation_id, source, first_seen_at, first_seen_run_id,
        last_seen_at, gone_at, author_sc, journal_sc, response_id)
    SELECT ?, source, first_seen_at, first_seen_run_id, last_seen_at, gone_at, author_sc,
        journal_sc, response_id FROM citation_sources WHERE citation_id = ?
    ON CONFLICT (citation_id, source) DO UPDATE SET
        first_seen_at = min(first_seen_at, excluded.first_seen_at),
        first_seen_run_id = min(first_seen_run_id, excluded.first_seen_run_id),
        last_seen_at = max(last_seen_at, excluded.last_seen_at),
        gone_at = CASE WHEN gone_at IS NULL OR excluded.gone_at IS NULL THEN NULL
                       ELSE max(gone_at, excluded.gone_at) END,
        author_sc = coalesce(max(author_sc, excluded.author_sc), author_sc, excluded.author_sc),
        journal_sc = coalesce(max(journal_sc, excluded.journal_sc), journal_sc, excluded.journal_sc),
        response_id = CASE WHEN excluded.last_seen_at > last_seen_at
                           THEN coalesce(excluded.response_id, response_id)
                           ELSE coalesce(response_id, excluded.response_id) END"""


def _either(a: int | None, b: int | None) -> int | None:
    """A flag two rows merge into: set if either sets it, unknown only if both are."""
    known = [v for v in (a, b) if v is not None]
    return max(known) if known else None


def _union_json(a: str, b: str) -> str:
    """Two JSON lists as one, in order, without repeats."""
    return json.dumps(list(dict.fromkeys([*json.loads(a), *json.loads(b)])))


def _as_record(row: Mapping[str, Any]) -> CitingRecord:
    """A stored citer as if a source had listed it, to merge it into another row (as if
    listed by the source that said it is retracted, so that the merged row still names it)."""
    return CitingRecord(
        source=row["retracted_by"] or "",
        doi=row["doi"],
        **{k: row[k] for k in _SCALARS if k != "type"},
        type="preprint" if row["is_preprint"] else row["type"],
        authors=tuple(json.loads(row["authors"])),
        is_retracted=None if row["is_retracted"] is None else bool(row["is_retracted"]),
        countries=tuple(json.loads(row["countries"])),
        institutions=tuple(json.loads(row["institutions"])),
        fields=tuple(json.loads(row["fields"])),
    )


def _sighting(db: sqlite_utils.Database, citation_id: int, source: str) -> dict[str, Any] | None:
    return next(store.rows(db,
        "SELECT * FROM citation_sources WHERE citation_id = ? AND source = ?", [citation_id, source]), None)


def _sightings(db: sqlite_utils.Database, citation_id: int) -> list[dict[str, Any]]:
    return list(store.rows(db, "SELECT * FROM citation_sources WHERE citation_id = ?", [citation_id]))



# --- reading: request economy ------------------------------------------------------


def last_complete_lists(
    db: sqlite_utils.Database, source: str, dois: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """doi → the last complete, ok list fetch of ``source`` for that work (of ``dois`` only,
    when given: a run reads them a chunk of works at a time)."""
    sql = (
        "SELECT w.doi, f.count_at_fetch, f.fetched_at FROM citing_fetches f JOIN works w ON w.id = f.work_id "
        "WHERE f.source = ? AND f.outcome = 'ok' AND f.complete = 1 "
        "AND f.id = (SELECT max(g.id) FROM citing_fetches g WHERE g.work_id = f.work_id "
        "AND g.source = f.source AND g.outcome = 'ok' AND g.complete = 1)"
    )
    if dois is None:
        return {row["doi"]: row for row in store.rows(db, sql, [source])}
    found: dict[str, dict[str, Any]] = {}
    for part, marks in store.in_parts(list(dois)):
        rows = store.rows(db, f"{sql} AND w.doi IN ({marks})", [source, *part])
        found.update((row["doi"], row) for row in rows)
    return found


def list_priority(
    last: Mapping[str, Any] | None, count: int | None, now: datetime, max_age_days: float
) -> tuple[int, str] | None:
    """How soon a list is wanted, most urgent first; None when it is not due. Due when the
    count changed since it was fetched (first), when there is none, or when it is too old
    (the oldest first)."""
    if last is None:
        return (1, "")
    if count is not None and count != last["count_at_fetch"]:
        return (0, "")
    fetched = datetime.fromisoformat(last["fetched_at"])
    return (2, last["fetched_at"]) if now - fetched > timedelta(days=max_age_days) else None


def list_is_due(last: Mapping[str, Any] | None, count: int | None, now: datetime, max_age_days: float) -> bool:
    """Fetch a list when there is none, when the count changed, or when it is too old."""
    return list_priority(last, count, now, max_age_days) is not None


# --- reading: derived figures --------------------------------------------------------


# What each ledger row carries of its citation (the rest is its citer's, whose own
# first_seen_at and first_seen_run_id come as first_seen_at_2 and first_seen_run_id_2).
_EDGE_COLUMNS = ("first_seen_at", "first_seen_run_id", "is_self_citation", "is_influential", "contexts", "intents")


def ledger_rows(db: sqlite_utils.Database, doi: str, as_of: str | None = None) -> list[dict[str, Any]]:
    """Every distinct citing work of one tracked work, with its per-source sightings.

    With ``as_of`` (ISO time), the ledger as it stood then: rows and sightings seen by
    then, with the attributes, flags and merges of then (``ledger_history.rewind``).
    """
    work = next(store.rows(db, "SELECT id FROM works WHERE doi = ?", [doi]), None)
    if work is None:
        return []
    state = ledger_history.Ledger(
        citations={r["id"]: r for r in store.rows(db, "SELECT * FROM citations WHERE work_id = ?", [work["id"]])},
        citers={r["id"]: r for r in store.rows(db,
            "SELECT * FROM citers WHERE id IN (SELECT citer_id FROM citations WHERE work_id = ?)", [work["id"]])},
        sightings={(s["citation_id"], s["source"]): s for s in store.rows(db,
            "SELECT cs.* FROM citation_sources cs JOIN citations e ON e.id = cs.citation_id "
            "WHERE e.work_id = ?", [work["id"]])},
    )
    if as_of is not None:
        ledger_history.rewind(db, work["id"], as_of, state)
    sightings: dict[int, dict[str, dict[str, Any]]] = {}
    for (citation_id, source), s in state.sightings.items():
        if as_of is not None:
            if s["first_seen_at"] > as_of:
                continue
            if s["gone_at"] and s["gone_at"] > as_of:  # (a database from before ledger_events)
                s = {**s, "gone_at": None}
        sightings.setdefault(citation_id, {})[source] = s
    rows = []
    for edge in state.citations.values():
        citer = state.citers.get(edge["citer_id"])
        if citer is None or edge["id"] not in sightings or (as_of is not None and edge["first_seen_at"] > as_of):
            continue
        row = {"citation_id": edge["id"], **{k: edge[k] for k in _EDGE_COLUMNS}}
        row |= {(f"{k}_2" if k in _EDGE_COLUMNS else k): v for k, v in citer.items()}
        for key in ("authors", "countries", "institutions", "fields", "contexts", "intents"):
            row[key] = json.loads(row[key])
        row["sightings"] = sightings[edge["id"]]
        row["sources"] = sorted(k for k, v in row["sightings"].items() if not v["gone_at"])
        rows.append(row)
    rows.sort(key=lambda r: r["id"])
    # newest first by publication (a date, else the year); undated last, as SQL sorts NULLs
    rows.sort(key=lambda r: (_published(r) is not None, _published(r) or ""), reverse=True)
    return rows


def _published(row: Mapping[str, Any]) -> str | None:
    return row["published"] or (str(row["year"]) if row["year"] is not None else None)


def listed(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The citing works some source lists now: one every source has dropped is kept in the
    ledger (and shown), but no longer counted as citing the work."""
    return [r for r in rows if r["sources"]]


def coverage(rows: Iterable[Mapping[str, Any]], sources: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per source that ever listed one: how many of the union it lists now, and which it misses."""
    rows = list(rows)
    union = listed(rows)
    result = {}
    for source in sources:
        if not any(source in r["sightings"] for r in rows):
            continue
        result[source] = {
            "listed": sum(1 for r in union if source in r["sources"]),
            "union": len(union),
            "missing": [r for r in union if source not in r["sources"]],
        }
    return result


def indexing_lag_days(rows: Iterable[Mapping[str, Any]], monitoring_since: str) -> dict[str, float]:
    """Per source, the median days from a citing work's publication to the source listing it.

    Only works published after monitoring began count: for older ones our first
    sighting says when we started looking, not when the source indexed them.
    """
    lags: dict[str, list[float]] = {}
    for row in rows:
        published = row.get("published")
        if not published or len(published) < 10 or published < monitoring_since[:10]:
            continue
        for source, sighting in row["sightings"].items():
            seen = datetime.fromisoformat(sighting["first_seen_at"])
            days = (seen.date() - datetime.fromisoformat(published).date()).days
            lags.setdefault(source, []).append(max(0, days))
    return {source: float(median(values)) for source, values in lags.items()}
