"""The ledger's history: each change to a citing work kept as an event, so a past day can be rebuilt.

``citers``, ``citations`` and ``citation_sources`` hold the ledger as it is now.
Every later change to a row they already hold is also written to ``ledger_events``,
with its time and the value it replaced: a citing work's title, venue or any other
attribute; a citation's self-citation flag, influence, contexts and intents; a
source's listing going or coming back; and a merge of two rows into one, with the
rows as they were just before. A new row is no event (its first sighting says when
it came), and neither is what the run that added it fills in or corrects in it (a
citing work one source lists by its PMID and another describes in the same run is one
finding: on a cold run at 100,000 works such fill-ins were 2.7 million events, a fifth
of the database), nor a value written again unchanged: the table grows with changes only.

``rewind`` undoes, newest first, every event after a moment: what is left is the
ledger as it stood then (a row added by a run still going at that moment as that run
left it), which ``citing.ledger_rows(db, doi, as_of)`` gives to
``report --as-of``. A database from before this table has no events: its rows
rewind to their current values, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor import ledger
from monitor.store import in_parts, iso

MERGE = "merge"
# What is kept as events, per table; other columns are identity, derived or "now" (last_seen_at).
TRACKED = {
    "citers": frozenset({
        "doi", "preprint_doi", "pmid", "pmcid", "openalex_id", "s2_id", "title", "year",
        "published", "venue", "type", "authors", "countries", "institutions", "fields",
        "is_retracted", "retracted_by", "is_preprint", "first_seen_at",
    }),
    "citations": frozenset({"is_self_citation", "is_influential", "contexts", "intents"}),
    "citation_sources": frozenset({"gone_at", "author_sc", "journal_sc"}),
}


def record_changes(
    db: sqlite_utils.Database,
    at: datetime,
    table: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    run_id: int,
    citer_id: int,
    work_id: int | None = None,
    citation_id: int | None = None,
    source: str | None = None,
) -> None:
    """One event per tracked column of ``table`` whose value in ``after`` differs from ``before``
    (inserted together: a citing work's first description fills in several at once); none
    where ``before`` is a row run ``run_id`` added (its ``first_seen_run_id``)."""
    if before.get("first_seen_run_id") == run_id:
        return
    events = [
        _event(at, f"{table}.{column}", before[column], value, citer_id, work_id, citation_id, source)
        for column, value in after.items() if column in TRACKED[table] and value != before[column]
    ]
    if events:
        db.conn.executemany(_INSERT_EVENT, events)


def record_merge(
    db: sqlite_utils.Database,
    at: datetime,
    keep: int,
    dropped: Mapping[str, Any],
    edge: Mapping[str, Any],
    edge_sightings: Iterable[Mapping[str, Any]],
    twin: Mapping[str, Any] | None,
    twin_sightings: Iterable[Mapping[str, Any]],
) -> None:
    """Citer ``dropped`` merges into ``keep``: its citation ``edge`` of one tracked work moves
    to ``keep`` or, where ``keep`` cites that work too (``twin``), joins that citation."""
    before = {
        "dropped": dict(dropped),
        "edge": dict(edge),
        "edge_sightings": [dict(s) for s in edge_sightings],
        "twin": dict(twin) if twin is not None else None,
        "twin_sightings": [dict(s) for s in twin_sightings],
    }
    _insert(db, at, MERGE, before, None, keep, edge["work_id"], edge["id"], None)


_INSERT_EVENT = (
    "INSERT INTO ledger_events (at, work_id, citer_id, citation_id, source, attribute, "
    "old_value, new_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _event(
    at: datetime, attribute: str, old: Any, new: Any,
    citer_id: int, work_id: int | None, citation_id: int | None, source: str | None,
) -> list[Any]:
    return [iso(at), work_id, citer_id, citation_id, source, attribute, json.dumps(old), json.dumps(new)]


def _insert(
    db: sqlite_utils.Database, at: datetime, attribute: str, old: Any, new: Any,
    citer_id: int, work_id: int | None, citation_id: int | None, source: str | None,
) -> None:
    db.conn.execute(_INSERT_EVENT, _event(at, attribute, old, new, citer_id, work_id, citation_id, source))


@dataclass
class Ledger:
    """One tracked work's ledger in memory: rows by id, sightings by (citation id, source)."""

    citations: dict[int, dict[str, Any]]
    citers: dict[int, dict[str, Any]]
    sightings: dict[tuple[int, str], dict[str, Any]]


def rewind(db: sqlite_utils.Database, work_id: int, as_of: str, state: Ledger) -> None:
    """Undo in ``state`` every event after ``as_of`` (ISO time), newest first."""
    events = list(db.query(
        "SELECT * FROM ledger_events WHERE work_id = ? AND at > ?", [work_id, as_of]
    ))
    citer_ids = set(state.citers)
    for event in events:
        if event["attribute"] == MERGE:
            citer_ids |= {event["citer_id"], json.loads(event["old_value"])["dropped"]["id"]}
    for part, marks in in_parts(sorted(citer_ids)):
        events += db.query(
            f"SELECT * FROM ledger_events WHERE work_id IS NULL AND at > ? AND citer_id IN ({marks})",
            [as_of, *part],
        )
    for event in sorted(events, key=lambda e: e["id"], reverse=True):
        _undo(event, state)


def _undo(event: Mapping[str, Any], state: Ledger) -> None:
    old = json.loads(event["old_value"])
    if event["attribute"] == MERGE:
        dropped, edge, twin = old["dropped"], old["edge"], old["twin"]
        state.citers[dropped["id"]] = dropped
        state.citations[edge["id"]] = edge
        for sighting in old["edge_sightings"]:
            state.sightings[(edge["id"], sighting["source"])] = sighting
        if twin is not None:
            state.citations[twin["id"]] = twin
            for key in [k for k in state.sightings if k[0] == twin["id"]]:
                del state.sightings[key]
            for sighting in old["twin_sightings"]:
                state.sightings[(twin["id"], sighting["source"])] = sighting
        return
    table, _, column = event["attribute"].partition(".")
    row: dict[str, Any] | None
    if table == "citers":
        row = state.citers.get(event["citer_id"])
    elif table == "citations":
        row = state.citations.get(event["citation_id"])
    else:
        row = state.sightings.get((event["citation_id"], event["source"]))
    if row is None:
        return  # a row this work's ledger never held
    row[column] = old
    if table == "citers" and column == "title":
        row["norm_title"] = ledger.normalize_title(old)
