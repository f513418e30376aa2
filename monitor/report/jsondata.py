"""``report.json`` and ``works/<doi>.json``: the report's numbers, for scripts.

``report.json`` holds what the index shows: one entry per collection (``collection``),
one per tracked work (``summary``), and apart, the works no longer tracked, each with its
last figures and when they are of; ``works/<doi>.json`` what the work page shows (``detail``). Keys are stable snake_case
names, never display labels; docs/report-json.md explains each, and the JSON Schemas
docs/report.schema.json and docs/work.schema.json are checked against every file
the tests generate. ``works[].doi`` and ``works[].headline`` (``value``, ``basis``,
``without_self_citations``) are a public contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import IO, TYPE_CHECKING, Any

from monitor.group_metrics import GroupMetrics
from monitor.report.dashboard import IndexRow
from monitor.report.pages import WorkPage

if TYPE_CHECKING:
    from monitor.report.collection_pages import CollectionPage

SCHEMA_VERSION = 3  # 3: a work's file dates its figures by change (``since``), names no run
WHO = {"Venues": "venues", "Fields": "fields", "Countries": "countries", "Institutions": "institutions"}


def summary(page: WorkPage, row: IndexRow) -> dict[str, Any]:
    """A work's entry in ``report.json``: what the index shows of it."""
    low_high = row.count_range
    return {
        "doi": page.doi,
        "title": page.title,
        "label": page.label,
        "page": page.href,
        "detail": f"works/{page.slug}.json",
        "venue": row.venue,
        "year": row.year,
        "as_of": page.as_of_time or None,
        "run_id": page.run_id,
        "headline": page.headline.as_dict(),
        "new_citations": page.new,
        "source_range": {"lowest": low_high[0], "highest": low_high[1], "sources": low_high[2]}
        if low_high else None,
        "trend": [{"day": day, "value": value} for day, value in page.trend],
        "alerts": [{"kind": a["kind"], "source": a["source"], "message": a["message"]} for a in page.alerts],
        "notice": row.mark,
        "untracked_at": page.untracked_at,
    }


METRICS = tuple(f.name for f in fields(GroupMetrics) if f.name != "details")  # each collection_metrics column


def collection(page: CollectionPage) -> dict[str, Any]:
    """A collection's entry in ``report.json``: what its page shows, and its members."""
    s = page.summary
    asks, url = s.asks
    resolution = s.resolution
    return {
        "name": s.name,
        "label": s.label,
        "title": s.title,
        "kind": s.kind,
        "asks": asks,
        "asks_url": url,
        "page": page.href,
        "size": s.size,
        "run_id": s.metrics["run_id"] if s.metrics else None,
        "as_of": s.metrics["at"] if s.metrics else None,
        "metrics": {k: s.metrics[k] for k in METRICS} | {"details": s.metrics["details"]} if s.metrics else None,
        "change_since_previous_run": dict(s.since_previous_run),
        "change_30d": dict(s.change_30d),
        "history": [{"run_id": h["run_id"], "at": h["at"], **{k: h[k] for k in METRICS}} for h in s.history],
        "members": list(s.members),
        "last_resolution": {k: resolution[k] for k in ("resolved_at", "outcome", "message", "complete")}
        | {"complete": bool(resolution["complete"])} if resolution else None,
        "last_complete_at": s.last_complete_at,
        "skipped": [dict(k) for k in s.skipped],
        "left": [{"doi": r["doi"], "title": r["title"], "left_at": r["left_at"]} for r in s.left],
    }



def detail(page: WorkPage) -> dict[str, Any]:
    """``works/<doi>.json``: what the work page shows."""
    return {
        "schema_version": SCHEMA_VERSION,
        "doi": page.doi,
        "title": page.title,
        "headline": page.headline.as_dict(),
        "new_citations": page.new,
        "record": dict(page.record),
        "record_sources": page.origin,
        "sources": [
            {k: v for k, v in asdict(r).items() if k != "body_sha256"}
            | {"change": r.change, "raw_sha256": r.body_sha256, "status": r.status, "marks": list(r.marks)}
            for r in page.rows
        ],
        "metrics": [
            {
                "key": m.key, "label": m.label, "source": m.source, "value": m.value, "shown": m.shown,
                "provisional": m.provisional, "observation_id": m.observation_id, "observed_at": m.observed_at,
                "history": [{"day": day, "value": value} for day, value in m.history],
            }
            for m in page.metrics
        ],
        "citations_per_year": [
            {"year": int(year), "citations": n, "partial": year == page.partial_year} for year, n in page.per_year
        ],
        "citations_per_year_basis": page.per_year_basis,
        "cumulative": [
            {"label": s.label, "observed": [{"day": d.isoformat(), "citations": n} for d, n in s.points],
             "backfilled": [{"day": d.isoformat(), "citations": n} for d, n in s.backfill]}
            for s in page.series
        ],
        "monitoring_began": page.monitoring_began,
        "who_cites": {WHO[heading]: [{"name": name, "works": n} for name, n in items]
                      for (heading, _), items in page.who.items()},
        "intents": [{"intent": intent, "works": n} for intent, n in page.intents],
        "mesh": [asdict(m) | {"qualifiers": list(m.qualifiers)} for m in page.mesh],
        "topics": [asdict(t) for t in page.topics],
        "coverage": [asdict(c) | {"missing": list(c.missing)} for c in page.coverage],
        "citing_works": [
            asdict(c) | {"sources": list(c.sources), "gone_from": list(c.gone_from), "intents": list(c.intents)}
            for c in page.citing
        ],
        "cite": [{"label": label, "format": "text" if label in ("BibTeX", "RIS") else "html", "text": str(text)}
                 for label, text in page.cite.items()],
    }


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=False)


def write_report_json(out: IO[str], header: dict[str, Any], works: Iterable[str],
                      collections: Iterable[dict[str, Any]] = (), untracked: Iterable[str] = ()) -> None:
    """``report.json`` from its header, the collections, then each tracked work's and each
    untracked work's ``summary`` as JSON text, one at a time: the works are never held in
    memory together."""
    head = json.dumps({"schema_version": SCHEMA_VERSION, **header}, ensure_ascii=False, indent=2)
    out.write(head[:-2] + ',\n  "collections": [')
    for i, entry in enumerate(collections):
        out.write(("," if i else "") + "\n    " + dumps(entry))
    for key, texts in (("works", works), ("untracked", untracked)):
        out.write(f'\n  ],\n  "{key}": [')
        for i, text in enumerate(texts):
            out.write(("," if i else "") + "\n    " + text)
    out.write("\n  ]\n}\n")
