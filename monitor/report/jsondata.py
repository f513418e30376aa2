"""``report.json`` and ``works/<doi>.json``: the report's numbers, for scripts.

``report.json`` holds what the index shows, one entry per work (``summary``), and
``works/<doi>.json`` what the work page shows (``detail``). Keys are stable snake_case
names, never display labels; docs/report-json.md explains each, and the JSON Schemas
docs/report.schema.json and docs/work.schema.json are checked against every file
the tests generate. ``works[].doi`` and ``works[].headline`` (``value``, ``basis``,
``without_self_citations``) are a public contract.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import IO, Any

from monitor.report.dashboard import IndexRow
from monitor.report.pages import WorkPage

SCHEMA_VERSION = 2
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
    }


def detail(page: WorkPage) -> dict[str, Any]:
    """``works/<doi>.json``: what the work page shows."""
    return {
        "schema_version": SCHEMA_VERSION,
        "doi": page.doi,
        "title": page.title,
        "as_of": page.as_of_time or None,
        "run_id": page.run_id,
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


def write_report_json(out: IO[str], header: dict[str, Any], works: Iterable[str]) -> None:
    """``report.json`` from its header and each work's ``summary`` as JSON text, one at a
    time: the file is never held in memory whole."""
    head = json.dumps({"schema_version": SCHEMA_VERSION, **header}, ensure_ascii=False, indent=2)
    out.write(head[:-2] + ',\n  "works": [')
    for i, text in enumerate(works):
        out.write(("," if i else "") + "\n    " + text)
    out.write("\n  ]\n}\n")
