"""What a work page depends on, as one key per work, read for every work in one query.

A work page shows what each source says and since when (monitor/report/pages.py), so
its key is built from values, never from re-checks: each source's change points
(monitor/report/values.py: their ids, and whether the raw body each points at was
pruned), the ledger's rows (counts, highest ids, sightings' first and last times,
``ledger_events``), the alerts and "New" of the work's last run, whether it is still
tracked, and a few run-wide facts (``pages.Context``). A run that asks again and finds
the same values leaves the key as it was.

What moves without new data is in the key too: the changes the page shows since the
previous run and over 30 and 365 days. For each of those moments the key holds how many
change points (of the sources and of the ledger) fall after it, and whether monitoring
had begun by then: a change that slides out of a window changes the key, a quiet day
does not. The ledger's counts are taken in SQL for the moments of the latest run (most
works); a work last observed by another run (no longer tracked, or skipped) gets its own
small query. An unchanged key means an unchanged page, and the page is not built again
(monitor/report/site.py).

Timestamps are compared as the text ``store.iso`` writes (UTC, microseconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from monitor import __version__, headline
from monitor.models import Outcome
from monitor.report import values
from monitor.report.pages import Context
from monitor.sources import SOURCES
from monitor.store import iso

# The ledger of work ``{work}``: its signature, when it began, and how many first or last
# sightings fall after each of the moments :b0, :b1, :b2.
_LEDGER = """
(SELECT count(*) || ' ' || coalesce(max(s.first_seen_at), '') || ' ' || coalesce(max(s.gone_at), '')
        || ' ' || count(s.gone_at) || ' ' || coalesce(min(s.first_seen_at), '')
        || ' ' || CAST(total(s.first_seen_at > :b0) + total(s.gone_at > :b0) AS INTEGER)
        || ' ' || CAST(total(s.first_seen_at > :b1) + total(s.gone_at > :b1) AS INTEGER)
        || ' ' || CAST(total(s.first_seen_at > :b2) + total(s.gone_at > :b2) AS INTEGER)
 FROM citation_sources s JOIN citations e ON e.id = s.citation_id WHERE e.work_id = {work})"""
_ALERTS = "(SELECT group_concat(a.id) FROM alert_events a WHERE a.work_id = {work} AND a.run_id = :run)"

SIGNATURES = f"""
WITH marked AS ({values.CHANGE_POINTS}),
observed AS (
  SELECT m.work_id,
    group_concat(CASE WHEN m.changed THEN m.source || ' ' || m.id || ' ' || m.observed_at
                      || ' ' || coalesce(b.pruned_at, '') END, ';') AS changes,
    group_concat(CASE WHEN m.last THEN m.source || ' ' || m.run_id || ' ' || coalesce(m.previous_run, '')
                      || ' ' || m.outcome END, ';') AS lasts
  FROM marked m
  LEFT JOIN responses r ON m.changed AND r.id = m.response_id
  LEFT JOIN raw_bodies b ON b.sha256 = r.body_sha256
  WHERE m.changed OR m.last
  GROUP BY m.work_id
)
SELECT w.id, w.doi, w.label, w.tracked, w.untracked_at, o.changes, o.lasts,
  (SELECT count(*) || ' ' || coalesce(max(e.id), 0) || ' ' || coalesce(sum(e.is_self_citation), 0)
          || ' ' || coalesce(max(c.updated_at), '')
   FROM citations e JOIN citers c ON c.id = e.citer_id WHERE e.work_id = w.id) AS citations,
  (SELECT count(*) || ' ' || coalesce(max(v.id), 0) FROM ledger_events v WHERE v.work_id = w.id) AS events,
  {_LEDGER.format(work="w.id")} AS ledger,
  {_ALERTS.format(work="w.id")} AS alerts
FROM works w LEFT JOIN observed o ON o.work_id = w.id ORDER BY w.id
"""
_ONE_WORK = f"SELECT {_LEDGER.format(work=':work')} AS ledger, {_ALERTS.format(work=':work')} AS alerts"

_COUNTING = frozenset(name for name, module in SOURCES.items() if module.SPEC.counts_citations)
_ANSWERED = frozenset((Outcome.OK.value, Outcome.NOT_FOUND.value))


def run_wide(ctx: Context, code: str) -> str:
    """The part of every key that is the same for all works."""
    return json.dumps([__version__, code, ctx.active, list(ctx.styles), ctx.new_alerts], sort_keys=True)


@dataclass(frozen=True)
class Moments:
    """The moments a work page is as of: its last run, and the start of each change it
    shows (since the previous run, over 30 and 365 days), as the page computes them."""

    run_id: int | None
    reference: datetime | None
    bounds: tuple[str | None, str | None, str | None]

    @classmethod
    def of(cls, ctx: Context, last: int | None, previous: int | None) -> Moments:
        reference = ctx.run_ends.get(last) if last is not None else max(ctx.run_ends.values(), default=None)
        before = ctx.run_ends.get(previous) if previous is not None else None
        if reference is None:
            return cls(last, None, (None, None, None))
        windows = tuple(iso(reference - timedelta(days=days)) for _, days in headline.WINDOWS)
        return cls(last, reference, (iso(before) if before else None, *windows))  # type: ignore[arg-type]

    @property
    def as_of(self) -> str:
        return self.reference.isoformat() if self.run_id is not None and self.reference else ""


@dataclass(frozen=True)
class Key:
    """A work page's key, and what a reused page must still be told: its last run."""

    work: dict[str, Any]
    key: str
    run_id: int | None
    as_of: str


def work_keys(db: sqlite_utils.Database, ctx: Context, shared: str) -> Iterator[Key]:
    """The key of every work, in id order; one row at a time."""
    runs = sorted(ctx.run_ends)
    latest = Moments.of(ctx, runs[-1] if runs else None, runs[-2] if len(runs) > 1 else None)
    params = {"b0": latest.bounds[0], "b1": latest.bounds[1], "b2": latest.bounds[2], "run": latest.run_id}
    seen: dict[tuple[int | None, int | None], Moments] = {}  # most works share their runs
    for row in db.query(SIGNATURES, params):
        changes = sorted(tuple(c.split(" ")) for c in (row["changes"] or "").split(";") if c)
        lasts = [c.split(" ") for c in (row["lasts"] or "").split(";") if c]
        last = max((int(r[1]) for r in lasts), default=None)
        previous = max((p for p in (_previous(r, last) for r in lasts) if p is not None), default=None)
        moments = seen.get((last, previous)) or seen.setdefault((last, previous), Moments.of(ctx, last, previous))
        ledger, alerts = row["ledger"], row["alerts"]
        if moments != latest:  # a work not observed by the latest run: its own moments
            own = next(db.query(_ONE_WORK, {"work": row["id"], "run": moments.run_id, **dict(
                zip(("b0", "b1", "b2"), moments.bounds, strict=True))}))
            ledger, alerts = own["ledger"], own["alerts"]
        *ledger_rows, after_0, after_1, after_2 = ledger.split(" ")
        began = min([c[2] for c in changes] + ([ledger_rows[4]] if ledger_rows[4] else []), default=None)
        windows = [
            None if bound is None else [began is not None and bound < began,
                                        sum(c[2] > bound for c in changes), int(after)]
            for bound, after in zip(moments.bounds, (after_0, after_1, after_2), strict=True)
        ]
        answered = any(r[0] in _COUNTING and int(r[1]) == last and r[3] in _ANSWERED for r in lasts)
        reference = moments.reference
        signature = json.dumps([
            shared, [row[k] for k in ("id", "doi", "label", "tracked", "untracked_at")], changes,
            row["citations"], row["events"], ledger_rows, windows, alerts, answered,
            [reference.year, (reference.month, reference.day) == (12, 31)] if reference else None,
            None if row["tracked"] else moments.as_of,  # an untracked work's page says when it is of
        ])
        yield Key({k: row[k] for k in ("id", "doi", "label", "tracked", "untracked_at")},
                  hashlib.sha256(signature.encode()).hexdigest()[:32], last, moments.as_of)


def _previous(last_row: list[str], last: int | None) -> int | None:
    """The work's run before ``last`` as one source saw it: its latest run, or the one before."""
    run, before = int(last_row[1]), last_row[2]
    if run != last:
        return run
    return int(before) if before else None
