"""The Atom feed: a rolling window of the latest news across runs.

Its entries are the citing works the ledger first saw and the alerts the runs raised
(a ledger-based "new citations" alert is left out: each of its citing works is an
entry of its own), newest first, the latest ``[report] feed_entries`` of them. A quiet
run adds none and removes none, so a feed reader never sees the feed empty out.

A ``new_work`` alert's entry is tagged with its collection (an Atom ``category`` whose
term is ``collection:NAME``) and links to the collection's page. An entry about a work no
longer tracked says so, rather than quoting its last figures as current.

Ids are stable and unique per installation: a ``tag:`` URI on the host of ``[email]
report_url`` when it is set (RFC 4151; the date is the installation's first day),
else a ``urn:uuid:`` made from the installation id kept in the database. Links are
absolute when ``report_url`` is set.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from monitor import citing
from monitor.doi import doi_slug
from monitor.report import reads
from monitor.sources import title_of

CITATIONS = """
SELECT e.id, e.first_seen_at AS at, w.doi AS work, c.doi, c.pmid, c.title, c.venue, c.year, c.authors,
  (SELECT group_concat(s.source, ',') FROM citation_sources s WHERE s.citation_id = e.id) AS sources
FROM citations e JOIN works w ON w.id = e.work_id JOIN citers c ON c.id = e.citer_id
ORDER BY e.first_seen_at DESC, e.id DESC LIMIT :n
"""
ALERTS = """
SELECT a.id, a.raised_at AS at, a.kind, a.source, a.message, a.details, w.doi AS work
FROM alert_events a LEFT JOIN works w ON w.id = a.work_id
WHERE (:as_of IS NULL OR a.raised_at <= :as_of)
  AND NOT (a.kind = 'new_citations' AND json_extract(a.details, '$.basis') = 'ledger')
ORDER BY a.raised_at DESC, a.id DESC LIMIT :n
"""


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    updated: str
    link: str | None  # the citing work, or our work page
    related: str | None  # our work page
    author: str
    summary: str
    categories: tuple[tuple[str, str], ...] = ()  # (term, label): a new work's collection


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    updated: str
    self_link: str
    home_link: str
    entries: tuple[Entry, ...]


class Ids:
    """Ids for the feed and its entries, one scheme per installation."""

    def __init__(self, installation: dict[str, Any], report_url: str):
        self.uuid = uuid.UUID(installation["uuid"])
        parts = urlsplit(report_url) if report_url else None
        self.tag = (
            f"tag:{parts.hostname},{installation['created_at'][:10]}:{parts.path.rstrip('/') or '/'}"
            if parts and parts.hostname else None
        )

    def of(self, name: str) -> str:
        if self.tag:
            return f"{self.tag}/{name}" if name else self.tag
        return f"urn:uuid:{uuid.uuid5(self.uuid, name) if name else self.uuid}"


def _citations(db: sqlite_utils.Database, as_of: str | None, size: int) -> list[dict[str, Any]]:
    """The ``size`` citing works first seen last (by ``as_of``), newest first, each with
    ``work`` (the DOI it cites), ``at``, its attributes and ``sources``. A past day's come
    from the ledger as it stood then (attributes and merges of that day)."""
    if as_of is None:
        return [{**r, "authors": json.loads(r["authors"] or "[]"),
                 "sources": [s for s in (r["sources"] or "").split(",") if s]}
                for r in db.query(CITATIONS, {"n": size})]
    rows = []
    for (doi,) in db.execute("SELECT doi FROM works ORDER BY id").fetchall():
        for r in citing.ledger_rows(db, doi, as_of):
            rows.append({"id": r["citation_id"], "at": r["first_seen_at"], "work": doi, "doi": r["doi"],
                         "pmid": r["pmid"], "title": r["title"], "venue": r["venue"], "year": r["year"],
                         "authors": r["authors"], "sources": list(r["sightings"])})
        rows = sorted(rows, key=lambda r: (r["at"], r["id"]), reverse=True)[:size]
    return rows


def _now(work: tuple[str, str, str | None] | None) -> str:
    """The cited work's figure now, or that it is no longer tracked (its figure is not current)."""
    if work is None:
        return ""
    if work[2]:
        return f" No longer tracked since {work[2][:10]}."
    return f" Now: {work[1]}."


def build(
    db: sqlite_utils.Database,
    as_of: str | None,
    size: int,
    report_url: str,
    generated_at: str,
    headline_text: Callable[[str], tuple[str, str, str | None] | None],
    collections: Mapping[str, tuple[str, str]] | None = None,
) -> Feed:
    """The feed as of ``as_of``. ``headline_text(doi)``: the work's (title, headline text,
    when it stopped being tracked or None) as the index shows it, for the entry's summary;
    ``collections``: name → (title, page) of each collection, for new works' entries."""
    ids = Ids(reads.installation(db), report_url)
    base = report_url if report_url.endswith("/") or not report_url else report_url + "/"
    params = {"as_of": as_of, "n": size}
    found: list[tuple[str, int, Entry]] = []
    for row in _citations(db, as_of, size):
        work = headline_text(row["work"])
        title = row["title"] or row["doi"] or (f"PMID {row['pmid']}" if row["pmid"] else "untitled")
        names = [a.get("name") for a in row["authors"] if a.get("name")]
        where = ", ".join(str(p) for p in (row["venue"], row["year"]) if p)
        listed = ", ".join(title_of(s) for s in sorted(row["sources"]))
        summary = f"{title}{f' ({where})' if where else ''} cites “{work[0] if work else row['work']}” (doi:{row['work']})."
        summary += f" Listed by {listed}." if listed else ""
        summary += _now(work)
        url = f"https://doi.org/{row['doi']}" if row["doi"] else (
            f"https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/" if row["pmid"] else None)
        page = f"{base}works/{doi_slug(row['work'])}.html"
        found.append((row["at"], row["id"], Entry(
            ids.of(f"citation/{row['id']}"), title, row["at"], url, page,
            ", ".join(names[:3]) + (" et al." if len(names) > 3 else "") or "unknown authors", summary,
        )))
    for row in db.query(ALERTS, params):
        work = headline_text(row["work"]) if row["work"] else None
        label = row["kind"].replace("_", " ").capitalize()
        summary = row["message"] + _now(work)
        page = f"{base}works/{doi_slug(row['work'])}.html" if row["work"] else f"{base}index.html"
        source = title_of(row["source"]) if row["source"] else "citation-monitor"
        name = json.loads(row["details"]).get("collection") if row["kind"] == "new_work" else None
        group = (collections or {}).get(name) if name else None
        found.append((row["at"], -row["id"], Entry(
            ids.of(f"alert/{row['id']}"), f"{label}: {row['message']}", row["at"], page,
            f"{base}{group[1]}" if group else None, source, summary,
            ((f"collection:{name}", group[0] if group else name),) if name else (),
        )))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    entries = tuple(entry for _, _, entry in found[:size])
    return Feed(
        id=ids.of(""),
        title="Citation report: new citing works and alerts",
        updated=max([generated_at, *(e.updated for e in entries)]) if generated_at or entries else "1970-01-01T00:00:00+00:00",
        self_link=f"{base}feed.atom",
        home_link=f"{base}index.html",
        entries=entries,
    )
