"""Why a source's count fell, diagnosed from the evidence in the database.

Each cause is a small rule that looks for its own evidence; the first that finds it
names the drop (``diagnose``), and a drop none explains says so:

- ``outage``: the source failed in its last few runs, or since its previous count;
- ``removal``: the ledger saw citing works go from this source's complete list in this
  run (naming them, and whether other sources still list them);
- ``merge``: the source's complete list now holds fewer entries than its last one while
  no citing work went: it merged duplicate records (the ledger already held them as one);
- ``ledger_still_lists``: the count fell below the number of citing works the ledger
  still lists (a count of 0 for a work 41 citing works are listed for is no merge);
- ``unexplained``: the source answered normally and nothing shows which citing work went.

A cause is what the evidence shows, never a guess dressed as one: a merge is named only
when the source's own list shows the duplicates gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from monitor.models import Outcome
from monitor.sources import title_of

FAILURES = tuple(o.value for o in Outcome if o.is_failure)
RECENT_RUNS = 3  # a failure of the source in its last runs makes an outage the likely cause


@dataclass(frozen=True)
class Drop:
    """One source's fall for one work in one run: what a rule looks at."""

    db: sqlite_utils.Database
    work_id: int
    source: str
    run_id: int
    started_at: str  # the run's start: citing works gone since then went in this run
    previous: int
    count: int
    previous_run_id: int | None = None

    @property
    def name(self) -> str:
        return title_of(self.source)


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    why: str  # completes "… fell by N (a → b): "
    gone: list[dict[str, Any]] = field(default_factory=list)


def outage(drop: Drop) -> Diagnosis | None:
    failure = recent_failure(drop)
    if failure is None:
        return None
    return Diagnosis("outage", f"likely a source outage: {drop.name} failed recently ({failure})")


def removal(drop: Drop) -> Diagnosis | None:
    gone = gone_in_run(drop)
    if not gone:
        return None
    lost = [g for g in gone if not g["elsewhere"]]
    if lost:
        names = _names(lost)
        kept = len(gone) - len(lost)
        also = f"; {kept} more it dropped are still listed by other sources" if kept else ""
        return Diagnosis("removal", f"likely a removal: no source lists {names} any more{also}", gone)
    n = len(gone)
    return Diagnosis(
        "removal",
        f"{drop.name} no longer lists {_names(gone)}, which other sources still list "
        f"({n} citing work{'s' if n != 1 else ''} dropped by {drop.name} alone)",
        gone,
    )


def merge(drop: Drop) -> Diagnosis | None:
    """Duplicates merged: the complete list shrank, yet the ledger lost no citing work."""
    now, before = complete_lists(drop)
    if now is None or before is None or now >= before:
        return None
    return Diagnosis(
        "merge",
        f"likely a merge of duplicate records: {drop.name}'s complete list of citing works "
        f"holds {before - now} fewer entr{'ies' if before - now != 1 else 'y'} ({before} → {now}) "
        "but lost no citing work",
    )


def ledger_still_lists(drop: Drop) -> Diagnosis | None:
    listed = drop.db.execute(
        "SELECT count(DISTINCT e.id) FROM citations e JOIN citation_sources cs "
        "ON cs.citation_id = e.id WHERE e.work_id = ? AND cs.gone_at IS NULL",
        [drop.work_id],
    ).fetchone()[0]
    if listed <= drop.count:
        return None
    own = drop.db.execute(
        "SELECT count(*) FROM citation_sources cs JOIN citations e ON e.id = cs.citation_id "
        "WHERE e.work_id = ? AND cs.source = ? AND cs.gone_at IS NULL",
        [drop.work_id, drop.source],
    ).fetchone()[0]
    by_source = f", {own} of them from {drop.name} itself" if own else ""
    return Diagnosis(
        "ledger_still_lists",
        f"the count fell while the ledger still lists {listed} citing "
        f"work{'s' if listed != 1 else ''}{by_source}",
    )


def unexplained(drop: Drop) -> Diagnosis:
    now, _ = complete_lists(drop)
    if now is not None:
        return Diagnosis(
            "unexplained",
            f"{drop.name}'s complete list of its {now} citing works lost none: "
            "nothing shows which citation went",
        )
    return Diagnosis(
        "unexplained",
        f"{drop.name} answered normally; no complete list of its citing works shows which one went",
    )


# Tried in order; the first that finds its evidence names the drop.
CAUSES: tuple[Callable[[Drop], Diagnosis | None], ...] = (
    outage,
    removal,
    merge,
    ledger_still_lists,
)


def diagnose(drop: Drop) -> Diagnosis:
    for cause in CAUSES:
        found = cause(drop)
        if found is not None:
            return found
    return unexplained(drop)


# --- evidence -----------------------------------------------------------------------


def recent_failure(drop: Drop) -> str | None:
    """A failure of the source in its last few runs or since its previous count, if any."""
    db, source = drop.db, drop.source
    recent = [
        r["run_id"]
        for r in db.query(
            "SELECT DISTINCT run_id FROM observations WHERE source = ? AND run_id <= ? "
            "ORDER BY run_id DESC LIMIT ?",
            [source, drop.run_id, RECENT_RUNS],
        )
    ]
    since = min([*recent, (drop.previous_run_id or drop.run_id) + 1])
    failed = db.execute(
        "SELECT message, outcome FROM observations WHERE source = ? AND run_id BETWEEN ? AND ? "
        f"AND outcome IN ({', '.join('?' for _ in FAILURES)}) ORDER BY run_id DESC LIMIT 1",
        [source, since, drop.run_id, *FAILURES],
    ).fetchone()
    if failed:
        return failed[0] or failed[1]
    listing = db.execute(
        "SELECT message, outcome FROM citing_fetches WHERE work_id = ? AND source = ? "
        "AND run_id = ? AND outcome != 'ok' LIMIT 1",
        [drop.work_id, source, drop.run_id],
    ).fetchone()
    return f"its citing list: {listing[0] or listing[1]}" if listing else None


def gone_in_run(drop: Drop) -> list[dict[str, Any]]:
    """Citing works this source stopped listing in this run, each with whether another
    source still lists it (``elsewhere``)."""
    return [
        dict(r)
        for r in drop.db.query(
            "SELECT c.doi, c.title, EXISTS (SELECT 1 FROM citation_sources o WHERE "
            "  o.citation_id = cs.citation_id AND o.source != cs.source AND o.gone_at IS NULL"
            ") AS elsewhere FROM citation_sources cs JOIN citations e ON e.id = cs.citation_id "
            "JOIN citers c ON c.id = e.citer_id "
            "WHERE e.work_id = ? AND cs.source = ? AND cs.gone_at >= ? ORDER BY c.id",
            [drop.work_id, drop.source, drop.started_at],
        )
    ]


def complete_lists(drop: Drop) -> tuple[int | None, int | None]:
    """The entries of the source's complete list in this run, and of its last one before."""
    rows = list(
        drop.db.query(
            "SELECT run_id, items FROM citing_fetches WHERE work_id = ? AND source = ? "
            "AND outcome = 'ok' AND complete = 1 AND run_id <= ? ORDER BY id DESC LIMIT 2",
            [drop.work_id, drop.source, drop.run_id],
        )
    )
    if not rows or rows[0]["run_id"] != drop.run_id:
        return None, None
    return rows[0]["items"], rows[1]["items"] if len(rows) > 1 else None


def _names(rows: Sequence[Mapping[str, Any]]) -> str:
    named = [r["title"] or r["doi"] or "untitled" for r in rows]
    return "; ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
