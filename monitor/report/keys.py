"""What a work page depends on, as one key per work, read for every work in one query.

A work page shows that work's observations, its ledger rows, the alerts its last run
raised about it, whether it is still tracked, and a few run-wide facts (``pages.Context``). Its key digests a signature of
each (counts, highest ids, latest timestamps: every change to those rows moves one of
them) with the code and templates, so an unchanged key means an unchanged page and the
page is not built again (monitor/report/site.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from monitor import __version__
from monitor.report.pages import Context

SIGNATURES = """
SELECT w.id, w.doi, w.label, w.tracked, w.untracked_at,
  (SELECT count(*) || ':' || coalesce(max(o.id), 0) FROM observations o
   WHERE o.work_id = w.id) AS observations,
  (SELECT count(*) || ':' || coalesce(max(e.id), 0) || ':' || coalesce(max(e.last_seen_at), '')
          || ':' || coalesce(sum(e.is_self_citation), 0) || ':' || coalesce(max(c.updated_at), '')
   FROM citations e JOIN citers c ON c.id = e.citer_id WHERE e.work_id = w.id) AS citations,
  (SELECT count(*) || ':' || coalesce(max(s.first_seen_at), '') || ':' || coalesce(max(s.gone_at), '')
          || ':' || count(s.gone_at)
   FROM citation_sources s JOIN citations e ON e.id = s.citation_id WHERE e.work_id = w.id) AS sightings,
  (SELECT group_concat(a.id) FROM alert_events a WHERE a.work_id = w.id AND a.run_id =
     (SELECT max(o.run_id) FROM observations o WHERE o.work_id = w.id)) AS alerts
FROM works w ORDER BY w.id
"""


def run_wide(db: sqlite_utils.Database, ctx: Context, code: str) -> str:
    """The part of every key that is the same for all works."""
    pruned = db.execute("SELECT count(pruned_at), max(pruned_at) FROM raw_bodies").fetchone()
    return json.dumps(
        [__version__, code, ctx.active, list(ctx.styles), ctx.new_alerts, list(pruned)],
        sort_keys=True,
    )


def work_keys(db: sqlite_utils.Database, ctx: Context, shared: str) -> Iterator[tuple[dict[str, Any], str]]:
    """(works row, key) for every work, in id order; one row at a time."""
    for row in db.query(SIGNATURES):
        signature = json.dumps([shared, row], sort_keys=True, default=str)
        yield {k: row[k] for k in ("id", "doi", "label", "tracked", "untracked_at")}, hashlib.sha256(
            signature.encode()
        ).hexdigest()[:32]
