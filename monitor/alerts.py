"""Alerts: what changed in a run that a person would want to hear about.

After each run the rules below read the database (the run's observations, the
earlier ones, the citing-works ledger, source health) and store what they find in
``alert_events`` with the run that raised them (view ``alerts``):

- ``new_citations``: new citing works in the ledger, from a source whose earlier
  complete list of the work set a baseline; else the highest count rising above
  every source's previous count (a lagging source catching up is not news).
- ``milestone``: the headline (``monitor.headline``) passes one of ``[alerts] milestones``.
- ``jump``: one source's count rises unusually in one run.
- ``drop``: a source's count falls, with its cause as the evidence shows it (see
  ``monitor.drops``): an outage, citing works removed, duplicates merged, a count below
  what the ledger still lists, or nothing that explains it.
- ``retraction`` / ``correction``: a retraction or a notice about the tracked work, as
  any source states it (``monitor.notices``: Crossref ``updated-by``, OpenAlex
  ``is_retracted``, Europe PMC and PubMed publication types and comment-corrections),
  one alert naming every source that says it; ``citing_retraction``: a citing work a
  source says is retracted, naming that source.
- ``source_failing``: a source failed ``failing_runs`` runs in a row.
- ``new_work``: a work joined a ``[[collections]]`` set after its first complete listing
  ("New work by …"; see ``new_works``).

A first observation sets a baseline and raises no count alert, also when it is a
newly enabled source's. Notices and
retracted citing works are raised once each, whenever first seen.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor import drops, headline, metadata, store
from monitor.config import NETWORK_KINDS, AlertsConfig
from monitor.notices import CORRECTIONS, RETRACTIONS
from monitor.sources import title_of

# Most important first: the digest's subject line names the first kind present.
KINDS = (
    "retraction",
    "correction",
    "new_citations",
    "new_work",
    "milestone",
    "drop",
    "jump",
    "citing_retraction",
    "source_failing",
)


@dataclass(frozen=True)
class Alert:
    kind: str
    message: str  # one line that stands on its own
    doi: str | None = None  # None for alerts about a source
    source: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""  # what makes a once-only alert the same alert again
    id: int | None = None
    run_id: int | None = None
    raised_at: str | None = None

    @property
    def rank(self) -> int:
        return KINDS.index(self.kind) if self.kind in KINDS else len(KINDS)


def raise_alerts(
    db: sqlite_utils.Database, settings: AlertsConfig, run_id: int, now: datetime
) -> list[Alert]:
    """Evaluate every rule for a finished run and store what fires, in one transaction."""
    with db.atomic():
        found = evaluate(db, settings, run_id)
        return save(db, run_id, found, now)


def save(
    db: sqlite_utils.Database, run_id: int, alerts: Iterable[Alert], now: datetime
) -> list[Alert]:
    work_ids = {row["doi"]: row["id"] for row in db.query("SELECT id, doi FROM works")}
    saved = []
    for alert in alerts:
        cursor = db.execute(
            "INSERT INTO alert_events (run_id, work_id, kind, source, message, details, key, raised_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                work_ids.get(alert.doi or ""),
                alert.kind,
                alert.source,
                alert.message,
                json.dumps(alert.details, sort_keys=True),
                alert.key,
                store.iso(now),
            ],
        )
        saved.append(replace(alert, id=cursor.lastrowid, run_id=run_id, raised_at=store.iso(now)))
    return saved


def for_runs(db: sqlite_utils.Database, first_run_id: int, last_run_id: int) -> list[Alert]:
    """The alerts raised by runs first..last, most important first."""
    rows = db.query(
        "SELECT a.*, w.doi FROM alert_events a LEFT JOIN works w ON w.id = a.work_id "
        "WHERE a.run_id BETWEEN ? AND ? ORDER BY a.id",
        [first_run_id, last_run_id],
    )
    alerts = [
        Alert(
            kind=r["kind"],
            message=r["message"],
            doi=r["doi"],
            source=r["source"],
            details=json.loads(r["details"]),
            key=r["key"],
            id=r["id"],
            run_id=r["run_id"],
            raised_at=r["raised_at"],
        )
        for r in rows
    ]
    return sorted(alerts, key=lambda a: (a.rank, a.id or 0))


# --- the rules ------------------------------------------------------------------


def evaluate(db: sqlite_utils.Database, settings: AlertsConfig, run_id: int) -> list[Alert]:
    """What the run's data says, without storing anything."""
    run = next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]), None)
    if run is None:
        return []
    rules = _Rules(db, settings, run)
    found: list[Alert] = []
    for work in store.works_rows(db):
        found += rules.for_work(work)
    if settings.failing_runs:
        found += rules.failing_sources()
    if settings.new_works:
        found += new_works(db, run_id, rules.once)
    return found


def new_works(
    db: sqlite_utils.Database, run_id: int, once: Callable[[Alert, int | None], list[Alert]]
) -> list[Alert]:
    """``new_work``: each work that joined a collection in this run as news (``is_new``:
    after the collection's baseline, its first complete listing), once per collection."""
    found: list[Alert] = []
    for row in db.query(
        "SELECT m.work_id, w.doi, m.title, m.via, c.name, c.kind, "
        "coalesce(c.label, c.display_name, c.name) AS who FROM collection_members m "
        "JOIN collections c ON c.id = m.collection_id JOIN works w ON w.id = m.work_id "
        "WHERE m.first_seen_run_id = ? AND m.is_new = 1 ORDER BY c.name, m.id",
        [run_id],
    ):
        title = row["title"] or metadata.merge(store.latest_metadata(db, row["doi"]))[0].get("title")
        by = "by" if row["kind"] in NETWORK_KINDS else "in"  # a person or an institution
        found += once(
            Alert(
                "new_work",
                f"New work {by} {row['who']}: “{shorten(title or row['doi'])}” (doi:{row['doi']})",
                row["doi"],
                None,
                {"collection": row["name"], "title": title, "via": json.loads(row["via"])},
                f"collection:{row['name']}",
            ),
            row["work_id"],
        )
    return found


class _Rules:
    def __init__(self, db: sqlite_utils.Database, settings: AlertsConfig, run: Mapping[str, Any]):
        self.db = db
        self.settings = settings
        self.run = run
        self.run_id: int = run["id"]
        self.started_at: str = run["started_at"]
        self.keys: set[tuple[str, str, int | None]] = set()  # raised in this evaluation

    def for_work(self, work: Mapping[str, Any]) -> list[Alert]:
        rows = self.observations(work["id"])
        if not rows:
            return []
        record, _ = metadata.merge(store.latest_metadata(self.db, work["doi"]))
        context = _Work(
            work["id"], work["doi"], record.get("title") or work["label"] or work["doi"]
        )
        counted = [r for r in rows if r["citations"] is not None]
        context.figures = headline.for_work(self.db, work["doi"], self.run)
        context.now = context.figures.now.value  # the one headline every view shows
        # a source's first count is a baseline: it can raise neither news nor a milestone
        known = [r for r in counted if r["previous"] is not None]
        found: list[Alert] = []
        if self.settings.retractions:
            found += self.notices(context, rows)
            found += self.retracted_citers(context)
        if self.settings.new_citations:
            found += self.new_citations(context, rows, known)
        if self.settings.milestones:
            found += self.milestone(context, known)
        for row in known:
            change = row["citations"] - row["previous"]
            if self.settings.jumps and self.is_jump(change, row["previous"]):
                found.append(self.jump(context, row, change))
            if self.settings.drops and -change >= self.settings.drop_min:
                found.append(self.drop(context, row, -change))
        return found

    def observations(self, work_id: int) -> list[dict[str, Any]]:
        """The run's observations of a work, each with its source's previous ok count."""
        rows = self.db.query(
            "SELECT o.source, o.outcome, o.citations, o.metadata, o.message, "
            "p.citations AS previous, p.run_id AS previous_run_id, p.observed_at AS previous_at "
            "FROM observation_details o LEFT JOIN observations p ON p.id = ("
            "  SELECT q.id FROM observations q WHERE q.work_id = o.work_id AND q.source = o.source "
            "  AND q.outcome = 'ok' AND q.citations IS NOT NULL AND q.run_id < o.run_id "
            "  ORDER BY q.run_id DESC, q.id DESC LIMIT 1) "
            "WHERE o.run_id = ? AND o.work_id = ? ORDER BY o.source",
            [self.run_id, work_id],
        )
        return [{**r, "metadata": json.loads(r["metadata"])} for r in rows]

    def once(self, alert: Alert, work_id: int | None, also: tuple[str, ...] = ()) -> list[Alert]:
        """Keep an alert only if no earlier run (nor this evaluation) raised the same one
        (under its key, or under one of the keys ``also`` it was raised by before)."""
        marks = [(alert.kind, key, work_id) for key in (alert.key, *also)]
        if any(mark in self.keys for mark in marks):
            return []
        earlier = any(
            self.db.execute(
                "SELECT 1 FROM alert_events WHERE kind = ? AND key = ? AND work_id IS ? LIMIT 1",
                list(mark),
            ).fetchone()
            for mark in marks
        )
        self.keys.update(marks)
        return [] if earlier else [alert]

    # -- retractions and corrections --

    def notices(self, work: _Work, rows: list[dict[str, Any]]) -> list[Alert]:
        """One retraction alert naming every source that says so; one alert per notice,
        however many sources report it (matched by the notice's DOI or PMID)."""
        ok = [r for r in rows if r["outcome"] == "ok"]
        said: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # key → (source, notice)
        retracted = [r["source"] for r in ok if r["metadata"].get("is_retracted") is True]
        first_retraction: dict[str, Any] | None = None
        for row in ok:
            for notice in row["metadata"].get("updated_by") or []:
                kind = str(notice.get("type") or "").lower().replace("-", "_")
                if kind in RETRACTIONS:
                    retracted.append(row["source"])
                    first_retraction = first_retraction or notice
                elif kind in CORRECTIONS:
                    said.setdefault(_notice_key(kind, notice), []).append((row["source"], notice))
        found: list[Alert] = []
        if retracted:
            sources = list(dict.fromkeys(retracted))
            where = f": {_describe(first_retraction)}" if first_retraction else ""
            found += self.once(
                Alert(
                    "retraction",
                    f"“{work.short}” is retracted, says {_listing(sources)}{where}",
                    work.doi,
                    sources[0],
                    {"now": work.now, "title": work.title, "sources": sources,
                     **({"notice": first_retraction} if first_retraction else {})},
                    "retracted",
                ),
                work.id,
            )
        for key, reports in said.items():
            sources = list(dict.fromkeys(source for source, _ in reports))
            notice = reports[0][1]
            kind = str(notice.get("type")).lower().replace("-", "_")
            label = notice.get("label") or kind.replace("_", " ").capitalize()
            legacy = f"{kind}:{notice.get('doi') or label}:{notice.get('date') or ''}"
            found += self.once(
                Alert(
                    "correction",
                    f"{label} published for “{work.short}” ({_describe(notice, label=False)}), "
                    f"says {_listing(sources)}",
                    work.doi,
                    sources[0],
                    {"now": work.now, "title": work.title, "notice": notice, "sources": sources},
                    key,
                ),
                work.id,
                also=(legacy,),
            )
        return found

    def retracted_citers(self, work: _Work) -> list[Alert]:
        found: list[Alert] = []
        for citer in self.db.query(
            "SELECT c.id, c.doi, c.title, c.retracted_by FROM citations e "
            "JOIN citers c ON c.id = e.citer_id "
            "WHERE e.work_id = ? AND c.is_retracted = 1 ORDER BY c.id",
            [work.id],
        ):
            name = citer["title"] or citer["doi"] or f"citing work {citer['id']}"
            doi = f" (doi:{citer['doi']})" if citer["doi"] and citer["title"] else ""
            says = f", says {title_of(citer['retracted_by'])}" if citer["retracted_by"] else ""
            found += self.once(
                Alert(
                    "citing_retraction",
                    f"A work citing “{work.short}” is retracted{says}: {name}{doi}",
                    work.doi,
                    citer["retracted_by"],
                    {
                        "now": work.now,
                        "title": work.title,
                        "citing_doi": citer["doi"],
                        "citing_title": citer["title"],
                    },
                    citer["doi"] or str(citer["id"]),
                ),
                work.id,
            )
        return found

    # -- counts --

    def new_citations(
        self, work: _Work, rows: list[dict[str, Any]], known: list[dict[str, Any]]
    ) -> list[Alert]:
        citing = self.new_citing_works(work.id)
        if citing:
            n = len(citing)
            names = "; ".join(c["title"] or c["doi"] or "untitled" for c in citing[:3])
            more = f"; and {n - 3} more" if n > 3 else ""
            return [
                Alert(
                    "new_citations",
                    f"{n} new citing work{'s' if n != 1 else ''} of “{work.short}”: {names}{more}",
                    work.doi,
                    None,
                    {
                        "count": n,
                        "now": work.now,
                        "title": work.title,
                        "basis": "ledger",
                        "citing": [_brief(c) for c in citing[:50]],
                        "citation_ids": [c["citation_id"] for c in citing],  # the digest's items
                    },
                )
            ]
        # Counts: news only when the highest count passes what every source asked in
        # this run counted before: the same citations, reached later by a source that
        # lags behind, are not news again. (A source that lost its key was not asked.)
        asked = [r for r in rows if r["outcome"] != "not_configured" and r["previous"] is not None]
        before = max((r["previous"] for r in asked), default=None)
        if before is None or not known:
            return []
        top = max(known, key=lambda r: (r["citations"], r["citations"] - r["previous"]))
        n = top["citations"] - before
        if n <= 0:
            return []
        rises = [r for r in known if r["citations"] > r["previous"]]
        return [
            Alert(
                "new_citations",
                f"{n} new citation{'s' if n != 1 else ''} of “{work.short}” on {title_of(top['source'])} "
                f"({before} → {top['citations']})",
                work.doi,
                top["source"],
                {
                    "count": n,
                    "now": work.now,
                    "title": work.title,
                    "basis": "counts",
                    "previous_highest": before,
                    "rises": {r["source"]: [r["previous"], r["citations"]] for r in rises},
                },
            )
        ]

    def new_citing_works(self, work_id: int) -> list[dict[str, Any]]:
        """Citing works first seen in this run, from a source that had listed the work before.

        A source's first complete list sets its baseline: what it lists then is not
        news, nor is what a capped (incomplete) list had left out.
        """
        rows = self.db.query(
            "SELECT c.doi, c.title, c.year, c.venue, e.id AS citation_id FROM citations e "
            "JOIN citers c ON c.id = e.citer_id WHERE e.work_id = ? AND e.first_seen_run_id = ? "
            "AND EXISTS (SELECT 1 FROM citation_sources cs WHERE cs.citation_id = e.id "
            "  AND cs.first_seen_run_id = ? AND EXISTS (SELECT 1 FROM citing_fetches f "
            "  WHERE f.work_id = e.work_id AND f.source = cs.source AND f.outcome = 'ok' "
            "  AND f.complete = 1 AND f.run_id < ?)) ORDER BY coalesce(c.published, c.year) DESC, c.id",
            [work_id, self.run_id, self.run_id, self.run_id],
        )
        return [dict(r) for r in rows]

    def milestone(self, work: _Work, known: list[dict[str, Any]]) -> list[Alert]:
        """The headline passes a milestone. A source counting the work for the first time
        sets a baseline, so the headline is taken without such sources' counts."""
        figures = work.figures
        if figures is None or figures.since_previous_run is None or not known:
            return []
        before = (figures.now.value or 0) - figures.since_previous_run
        established = {r["source"] for r in known}
        now = figures.now.without(c.source for c in figures.now.counts if c.source not in established)
        passed = [m for m in self.settings.milestones if before < m <= (now.value or 0)]
        if not passed:
            return []
        return self.once(
            Alert(
                "milestone",
                f"“{work.short}” passed {passed[-1]} citations (now {now.value} {now.basis_text})",
                work.doi,
                now.source,
                {"milestone": passed[-1], "now": now.value, "title": work.title},
                f"milestone:{passed[-1]}",
            ),
            work.id,
        )

    def is_jump(self, change: int, previous: int) -> bool:
        return change >= max(1, self.settings.jump_min) and (
            change * 100 >= self.settings.jump_percent * previous
        )

    def jump(self, work: _Work, row: Mapping[str, Any], change: int) -> Alert:
        since = (row["previous_at"] or "")[:10]
        return Alert(
            "jump",
            f"Unusual jump: {title_of(row['source'])} counts {change} more citations of "
            f"“{work.short}” than on {since} ({row['previous']} → {row['citations']})",
            work.doi,
            row["source"],
            {
                "previous": row["previous"],
                "count": row["citations"],
                "change": change,
                "now": work.now,
                "title": work.title,
            },
        )

    def drop(self, work: _Work, row: Mapping[str, Any], fall: int) -> Alert:
        found = drops.diagnose(
            drops.Drop(
                self.db,
                work.id,
                row["source"],
                self.run_id,
                self.started_at,
                row["previous"],
                row["citations"],
                row["previous_run_id"],
            )
        )
        return Alert(
            "drop",
            f"{title_of(row['source'])} count of “{work.short}” fell by {fall} "
            f"({row['previous']} → {row['citations']}): {found.why}",
            work.doi,
            row["source"],
            {
                "cause": found.cause,
                "previous": row["previous"],
                "count": row["citations"],
                "now": work.now,
                "title": work.title,
                "gone": found.gone[:50],
            },
        )

    # -- sources --

    def failing_sources(self) -> list[Alert]:
        found: list[Alert] = []
        n = self.settings.failing_runs
        for row in self.db.query(
            "SELECT * FROM source_health WHERE failure_streak >= ? AND source IN "
            "(SELECT DISTINCT source FROM observations WHERE run_id = ?) ORDER BY source",
            [n, self.run_id],
        ):
            streak = row["failure_streak"]
            message = f": {row['last_message']}" if row["last_message"] else ""
            found += self.once(
                Alert(
                    "source_failing",
                    f"{title_of(row['source'])} has failed {streak} runs in a row{message}",
                    None,
                    row["source"],
                    {"failure_streak": streak, "last_success_at": row["last_success_at"]},
                    f"{row['source']}:{row['last_success_at'] or 'never'}",
                ),
                None,
            )
        return found


def _notice_key(kind: str, notice: Mapping[str, Any]) -> str:
    """What makes two sources' notices one: the notice's DOI, else its PMID, else its words."""
    if notice.get("doi"):
        return f"notice:doi:{notice['doi']}"
    if notice.get("pmid"):
        return f"notice:pmid:{notice['pmid']}"
    return f"{kind}:{notice.get('label') or ''}:{notice.get('date') or ''}"


def _describe(notice: Mapping[str, Any], label: bool = True) -> str:
    """'Retraction in (doi:10.…, 2024-01-05)', from what a notice gives."""
    parts = [f"doi:{notice['doi']}" if notice.get("doi") else None,
             f"PMID {notice['pmid']}" if notice.get("pmid") and not notice.get("doi") else None,
             notice.get("date")]
    where = ", ".join(str(p) for p in parts if p) or str(notice.get("reference") or "no reference")
    return f"{notice.get('label') or notice.get('type')} ({where})" if label else where


def _listing(sources: list[str]) -> str:
    names = [title_of(s) for s in sources]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class _Work:
    def __init__(self, work_id: int, doi: str, title: str):
        self.id, self.doi, self.title = work_id, doi, title
        self.short = shorten(title)
        self.now: int | None = None  # the headline's value
        self.figures: headline.HeadlineChanges | None = None


def _brief(citing: Mapping[str, Any]) -> dict[str, Any]:
    return {k: citing[k] for k in ("doi", "title", "year", "venue")}


def shorten(text: str, width: int = 60) -> str:
    """Cut at a word boundary and end with an ellipsis, for subjects and one-liners."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0].rstrip(" ,.;:")
    return cut + "…"
