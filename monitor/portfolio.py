"""Collections read back from the store: members, their figures and metrics at each run.

``record_metrics`` is the job's step after collecting: each collection's group metrics
(monitor/group_metrics.py) at the run, stored in ``collection_snapshots`` (view
``collection_metrics``). Each work's figures are read once per run however many
collections hold it, and its citations are its headline (monitor/headline.py), so a
collection's total is the sum of the figures every page shows.

For the report and the digest (one page or message per collection):

- ``members(db, name, run)``: the works it held at a run, each with its figures;
- ``metrics_history(db, name)``: its metrics at every run, oldest first;
- ``untracked(db)``: works no longer tracked, to show apart (never with current counts);
- ``summaries(db, run)``: each collection as it stood at a run (its metrics, their changes
  and history, its members, what it asks, its last resolution and skips): what a collection
  page, report.json and a collection's digest show.

Everything is computed from stored rows as they stood at the run, so a past run's
figures come out the same at any later time.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from monitor import citing, headline, metadata, store
from monitor.group_metrics import GroupMetrics, WorkFigures, changes, compute
from monitor.models import Outcome
from monitor.sources import SOURCES

FAILURES = tuple(o.value for o in Outcome if o.is_failure)
DESCRIBING = ("openalex", "crossref", "unpaywall", "icite")  # whose latest ok answer gives figures
WINDOW = timedelta(days=30)  # a collection's "change over 30 days", as a work's
# kind → (what it asks, in words; the identifier's public page, or None)
ASKS = {
    "orcid": ("ORCID iD {}, with OpenAlex's works by it", "https://orcid.org/{}"),
    "openalex_author": ("OpenAlex author {}", "https://openalex.org/{}"),
    "ror": ("the institution {} (ROR), in OpenAlex", "https://ror.org/{}"),
    "file": ("the file {}", None),
}


@dataclass(frozen=True)
class Member:
    """A work of a collection at a run, with its figures then."""

    doi: str
    title: str | None
    first_seen_at: str
    left_at: str | None  # set when it has left since (the run's members had not yet)
    is_new: bool
    via: tuple[str, ...]
    figures: WorkFigures


# --- the job step ------------------------------------------------------------------------


def record_metrics(db: sqlite_utils.Database, run_id: int, now: datetime) -> dict[str, GroupMetrics]:
    """Compute and store every current collection's metrics at a finished run; name → metrics."""
    run = _run(db, run_id)
    if run is None:
        raise KeyError(f"no run {run_id}")
    collections = list(db.query("SELECT id, name FROM collections WHERE removed_at IS NULL ORDER BY id"))
    memberships = {c["id"]: member_rows(db, c["id"], run_id) for c in collections}
    work_ids = {row["work_id"] for rows in memberships.values() for row in rows}
    figures = work_figures(db, sorted(work_ids), run)
    year = _end(run).year
    results = {}
    with db.atomic():
        for collection in collections:
            group = compute([figures[r["work_id"]] for r in memberships[collection["id"]]], year)
            save_metrics(db, collection["id"], run_id, group, now)
            results[collection["name"]] = group
    return results


def save_metrics(
    db: sqlite_utils.Database, collection_id: int, run_id: int, group: GroupMetrics, now: datetime
) -> None:
    values = group.as_dict()
    values["details"] = json.dumps(values["details"], sort_keys=True)
    columns = ["collection_id", "run_id", "computed_at", *values]
    db.execute(
        f"INSERT OR REPLACE INTO collection_snapshots ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [collection_id, run_id, store.iso(now), *values.values()],
    )


# --- reading -----------------------------------------------------------------------------


def member_rows(db: sqlite_utils.Database, collection_id: int, run_id: int) -> list[dict[str, Any]]:
    """The collection's members at a run: joined by then, not yet left by then."""
    return list(
        db.query(
            "SELECT m.*, w.doi FROM collection_members m JOIN works w ON w.id = m.work_id "
            "WHERE m.collection_id = ? AND m.first_seen_run_id <= ? "
            "AND (m.left_run_id IS NULL OR m.left_run_id > ?) ORDER BY m.id",
            [collection_id, run_id, run_id],
        )
    )


def members(db: sqlite_utils.Database, name: str, run_id: int | None = None) -> list[Member]:
    """A collection's works at a run (default: the latest), highest headline first."""
    run = _run(db, run_id)
    collection = next(db.query("SELECT id FROM collections WHERE name = ?", [name]), None)
    if collection is None or run is None:
        return []
    rows = member_rows(db, collection["id"], run["id"])
    figures = work_figures(db, [r["work_id"] for r in rows], run)
    found = [
        Member(
            r["doi"], r["title"], r["first_seen_at"], r["left_at"], bool(r["is_new"]),
            tuple(json.loads(r["via"])), figures[r["work_id"]],
        )
        for r in rows
    ]
    return sorted(found, key=lambda m: -1 if m.figures.citations is None else m.figures.citations, reverse=True)


def metrics_history(db: sqlite_utils.Database, name: str, run_id: int | None = None) -> list[dict[str, Any]]:
    """A collection's ``collection_metrics`` rows (up to run ``run_id``), oldest run first,
    each with ``at``: when its run ended."""
    return [
        {**row, "details": json.loads(row["details"])}
        for row in db.query(
            "SELECT m.*, coalesce(r.finished_at, r.started_at) AS at FROM collection_metrics m "
            "JOIN runs r ON r.id = m.run_id WHERE m.collection = ? AND (? IS NULL OR m.run_id <= ?) "
            "ORDER BY m.run_id",
            [name, run_id, run_id],
        )
    ]


def untracked_since(work: Mapping[str, Any], as_of: str | None = None) -> str | None:
    """When a ``works`` row stopped being tracked; None while it is tracked (with ``as_of``:
    was tracked then, the day a past report shows)."""
    at = work.get("untracked_at")
    if work.get("tracked", 1) or not at or (as_of is not None and at > as_of):
        return None
    return str(at)


def untracked(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Works no longer tracked (in no collection and not in [[works]]), newest first: their
    history stays, but their last counts are from ``untracked_at`` or before, not current."""
    return list(db.query("SELECT * FROM works WHERE tracked = 0 ORDER BY untracked_at DESC, id"))


@dataclass(frozen=True)
class CollectionSummary:
    """A collection as it stood at a run: what its page, report.json and its digest show."""

    id: int
    name: str
    kind: str
    definition: str
    label: str | None
    display_name: str | None  # the person's or institution's name, as the resolver found it
    run_id: int  # the run it is shown as of (its members are those of this run)
    metrics: dict[str, Any] | None  # its latest ``collection_metrics`` row by then; None: none yet
    since_previous_run: dict[str, int | None]  # each count's change since the row before
    change_30d: dict[str, int | None]  # since the latest row at least 30 days older
    history: tuple[dict[str, Any], ...]  # its rows by then, oldest first, each with ``at`` (run end)
    member_ids: tuple[int, ...]  # works.id of its members at the run
    members: tuple[str, ...]  # their DOIs, in the same order
    resolution: dict[str, Any] | None  # its last resolution by then
    last_complete_at: str | None  # when it was last listed completely
    skipped: tuple[dict[str, Any], ...]  # the items that resolution skipped, with the reason
    left: tuple[dict[str, Any], ...] = ()  # members that left by then: doi, title, left_at; latest first
    joined: tuple[dict[str, Any], ...] = ()  # members that joined as news (``new_work``): latest first

    @property
    def title(self) -> str:
        return self.label or self.display_name or self.name

    @property
    def size(self) -> int:
        return len(self.member_ids)

    @property
    def asks(self) -> tuple[str, str | None]:
        """What it asks, in words, and the public page of what it names (or None)."""
        value = self.definition.partition(": ")[2]
        if self.kind == "works":
            n = len(value.split())
            return f"{n} DOI{'s' if n != 1 else ''} listed in config.toml", None
        identifier, _, since = value.partition(" from ")
        text, url = ASKS.get(self.kind, ("{}", None))
        return text.format(identifier) + (f", from {since}" if since else ""), url.format(identifier) if url else None


def summaries(db: sqlite_utils.Database, run_id: int | None = None, name: str | None = None) -> list[CollectionSummary]:
    """Every collection configured at run ``run_id`` (default: the latest), by name; or only
    the one called ``name``. A run adds and removes collections as it starts, so one
    configured at a run was added before the next run started and not removed by then."""
    run = _run(db, run_id)
    if run is None:
        return []
    after = db.execute("SELECT min(started_at) FROM runs WHERE id > ?", [run["id"]]).fetchone()[0]
    return [
        _summary(db, row, run)
        for row in db.query(
            "SELECT * FROM collections WHERE ((:after IS NULL AND removed_at IS NULL) OR (:after IS NOT NULL "
            "AND added_at < :after AND (removed_at IS NULL OR removed_at >= :after))) "
            "AND (:name IS NULL OR name = :name) ORDER BY name COLLATE NOCASE, id",
            {"after": after, "name": name},
        )
    ]


def slugs(db: sqlite_utils.Database) -> dict[str, str]:
    """name → the file name of each collection's page (``collections/<slug>.html``): its name
    in lower-case ASCII letters, digits and dashes, made unique by a number (the older collection
    keeps the plain one), so that a page keeps its address across runs."""
    found: dict[str, str] = {}
    for (name,) in db.execute("SELECT name FROM collections ORDER BY id").fetchall():
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
        base = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:60] or "collection"
        slug, n = base, 2
        while slug in found.values():
            slug, n = f"{base}-{n}", n + 1
        found[name] = slug
    return found


def _summary(db: sqlite_utils.Database, row: Mapping[str, Any], run: Mapping[str, Any]) -> CollectionSummary:
    history = metrics_history(db, row["name"], run["id"])
    current = member_rows(db, row["id"], run["id"])
    latest = history[-1] if history else None
    month_ago = (
        [h for h in history if datetime.fromisoformat(h["at"]) <= datetime.fromisoformat(latest["at"]) - WINDOW]
        if latest else []
    )
    resolution = next(db.query(
        "SELECT * FROM collection_resolutions WHERE collection_id = ? AND run_id <= ? ORDER BY id DESC LIMIT 1",
        [row["id"], run["id"]],
    ), None)
    complete = db.execute(
        "SELECT max(resolved_at) FROM collection_resolutions WHERE collection_id = ? AND run_id <= ? "
        "AND outcome = 'ok' AND complete = 1", [row["id"], run["id"]],
    ).fetchone()[0]
    skipped = db.query(
        "SELECT item, reason, title, pmid FROM collection_skips WHERE resolution_id = ? ORDER BY rowid",
        [resolution["id"] if resolution else None],
    )
    left = db.query(
        "SELECT w.doi, coalesce(m.title, w.label) AS title, m.left_at FROM collection_members m "
        "JOIN works w ON w.id = m.work_id WHERE m.collection_id = ? AND m.left_run_id <= ? "
        "AND m.work_id NOT IN (SELECT c.work_id FROM collection_members c WHERE c.collection_id = m.collection_id "
        "AND c.first_seen_run_id <= ? AND (c.left_run_id IS NULL OR c.left_run_id > ?)) "
        "ORDER BY m.left_at DESC, m.id DESC",
        [row["id"], run["id"], run["id"], run["id"]],
    )
    return CollectionSummary(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        definition=row["definition"],
        label=row["label"],
        display_name=row["display_name"],
        run_id=run["id"],
        metrics=latest,
        since_previous_run=changes(latest or {}, history[-2] if len(history) > 1 else None),
        change_30d=changes(latest or {}, month_ago[-1] if month_ago else None),
        history=tuple(history),
        member_ids=tuple(r["work_id"] for r in current),
        members=tuple(r["doi"] for r in current),
        resolution=resolution,
        last_complete_at=complete,
        skipped=tuple(skipped),
        left=tuple(_first_per_doi(left)),
        joined=tuple(
            {"doi": r["doi"], "title": r["title"], "first_seen_at": r["first_seen_at"], "run_id": r["first_seen_run_id"]}
            for r in sorted(current, key=lambda r: (r["first_seen_at"], r["id"]), reverse=True) if r["is_new"]
        ),
    )


def _first_per_doi(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The latest leaving of each work (a work may join and leave more than once)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r["doi"], dict(r))
    return list(seen.values())


# --- each work's figures at a run ---------------------------------------------------------


def work_figures(
    db: sqlite_utils.Database, work_ids: Sequence[int], run: Mapping[str, Any]
) -> dict[int, WorkFigures]:
    """work id → its figures at the end of ``run``: the headline as that run left it, and the
    normalised metrics of the latest ok answers of OpenAlex, iCite, Unpaywall and Crossref."""
    end = _end(run)
    at = end.isoformat(timespec="microseconds")
    active = headline.active_sources(run)
    ids = json.dumps(list(work_ids))
    answers: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for row in _latest(db, ids, list(SOURCES), at, "outcome NOT IN (" + ", ".join("?" * len(FAILURES)) + ")", FAILURES):
        answers.setdefault(row["work_id"], {})[row["source"]] = [row]
    described: dict[int, dict[str, dict[str, Any]]] = {}
    for row in _latest(db, ids, list(DESCRIBING), at, "outcome = 'ok'", ()):
        described.setdefault(row["work_id"], {})[row["source"]] = row
    cited = {r[0] for r in db.execute(
        "SELECT DISTINCT work_id FROM citations WHERE work_id IN (SELECT value FROM json_each(?))", [ids]
    ).fetchall()}
    dois = dict(db.execute(
        "SELECT id, doi FROM works WHERE id IN (SELECT value FROM json_each(?))", [ids]
    ).fetchall())
    figures = {}
    for work_id in work_ids:
        counts = headline.current_counts(answers.get(work_id, {}), active)
        listed = headline.listed_at(citing.ledger_rows(db, dois[work_id], at), end) if work_id in cited else []
        figures[work_id] = _figures(dois[work_id], headline.headline(counts, listed), described.get(work_id, {}), end.year)
    return figures


def _figures(doi: str, best: headline.Headline, rows: Mapping[str, Mapping[str, Any]], year: int) -> WorkFigures:
    metrics = {s: json.loads(r["metrics"]) for s, r in rows.items()}
    record, _ = metadata.merge({s: json.loads(r["metadata"]) for s, r in rows.items()})
    openalex = metrics.get("openalex", {})
    by_year = openalex.get("counts_by_year")
    return WorkFigures(
        doi=doi,
        citations=best.value,
        year=record.get("year"),
        # OpenAlex lists the years with citations: a year it does not list had none
        citations_this_year=by_year.get(str(year), 0) if isinstance(by_year, dict) else None,
        fwci=openalex.get("fwci"),
        rcr=metrics.get("icite", {}).get("relative_citation_ratio"),
        top_10_percent=openalex.get("is_in_top_10_percent"),
        top_1_percent=openalex.get("is_in_top_1_percent"),
        open_access=record.get("is_oa"),
        headline_basis=best.basis,
    )


def _latest(
    db: sqlite_utils.Database, ids: str, sources: Iterable[str], at: str, condition: str, params: Sequence[Any]
) -> Iterable[dict[str, Any]]:
    """Per work and source, the latest observation by ``at`` that meets ``condition``."""
    names = json.dumps(list(sources))
    return db.query(
        "SELECT o.* FROM (SELECT w.value AS work_id, s.value AS source FROM json_each(?) w, json_each(?) s) p "
        "JOIN observation_details o ON o.id = (SELECT q.id FROM observations q "
        f"WHERE q.work_id = p.work_id AND q.source = p.source AND q.observed_at <= ? AND q.{condition} "
        "ORDER BY q.run_id DESC LIMIT 1)",  # runs follow each other: the latest run's is the latest
        [ids, names, at, *params],
    )


def _run(db: sqlite_utils.Database, run_id: int | None) -> dict[str, Any] | None:
    sql = "SELECT * FROM runs WHERE id = ?" if run_id is not None else "SELECT * FROM runs ORDER BY id DESC LIMIT 1"
    row = next(db.query(sql, [run_id] if run_id is not None else []), None)
    if row and isinstance(row["summary"], str):
        row["summary"] = json.loads(row["summary"])
    return row


def _end(run: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(run.get("finished_at") or run["started_at"])
