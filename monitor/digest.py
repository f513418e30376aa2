"""The email digest's content: what happened since the last delivered digest, work by work.

``build`` reads the store (never a live answer) into a ``Digest``; ``digest_email``
lays it out. For each work, the most newsworthy first:

- its headline (``headline.for_work``, the figure the report shows);
- one item per new citing work that the alerts of the covered runs announced, newest
  first, as the report lists it (``citing_view.CitingEntry``): at most ``[email]
  max_items_per_work``, then "and N more" (the report's work page has them all);
- its other alerts, one sentence each;
- each source's current count, its change over the covered runs and its history, for
  the chart.

Sent once, per audience: an alert or a citing work carried by a digest delivered to an
audience (a ``digest_items`` row of a ``sent`` delivery to ``[email] recipients``, or to one
collection's ``recipients``) is left out of that audience's later digests; another audience
still gets it, once. What a digest carries is ``Digest.carried``, for the sender to record.
``dois`` builds a digest about some works only.

A collection's digest (``collection``) is about its works only (those it holds at the
digest's last run): their new citing works and alerts (its own ``new_work`` alerts; none
about a source), and the collection's metrics with their change over the covered runs
(``CollectionNews``); its subject names it ("Jiang lab: 3 new citations of 2 works").
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urljoin

import sqlite_utils

from monitor import alerts, analysis, citing, group_metrics, headline, metadata, portfolio, store
from monitor.alerts import Alert, shorten
from monitor.citing_view import CitingEntry, citing_entry
from monitor.config import Config
from monitor.doi import doi_slug
from monitor.errors import MonitorError
from monitor.headline import HeadlineChanges
from monitor.models import Outcome
from monitor.sources import title_of
from monitor.textsafe import one_line

MAX_WORKS_SHOWN = 10  # each with its items and a chart; the report has every work
SUBJECT_TITLE_CHARS = 30


@dataclass(frozen=True)
class CountLine:
    """One source's current count of a work: a line of the chart and of its legend."""

    source: str
    title: str
    citations: int
    change: int | None  # over the runs the digest covers; None without an earlier count
    points: tuple[tuple[date, int], ...]  # its good counts by day, for the chart


@dataclass(frozen=True)
class Carried:
    """An alert or a new citing work a digest covers (a ``digest_items`` row)."""

    work_id: int | None
    alert_id: int | None = None
    citation_id: int | None = None
    shown: bool = True  # False: only counted ("and 4 more")


@dataclass(frozen=True)
class DigestWork:
    doi: str
    work_id: int
    title: str
    headline: HeadlineChanges | None  # None: not shown, so not read
    alerts: tuple[Alert, ...]  # shown as sentences: all but the new citing works listed as items
    items: tuple[CitingEntry, ...]  # the new citing works shown, newest first
    more_items: int  # new citing works not shown
    new_citations: int  # new citing works, or a count's rise where no list shows them
    citation_ids: tuple[int, ...]  # every new citing work carried, shown or not
    listed_alerts: tuple[Alert, ...] = ()  # the alerts whose new citing works are the items
    counts: tuple[CountLine, ...] = ()
    page_url: str | None = None  # the work's page in the hosted report
    change: int = 0  # sum of the sources' changes over the covered runs, for the order

    @property
    def now(self) -> int | None:
        return self.headline.now.value if self.headline else None

    @property
    def url(self) -> str:
        return f"https://doi.org/{self.doi}"

    @property
    def rank(self) -> int:
        return min((a.rank for a in self.every_alert), default=len(alerts.KINDS) + 1)

    @property
    def every_alert(self) -> tuple[Alert, ...]:
        return self.alerts + self.listed_alerts


@dataclass(frozen=True)
class CollectionNews:
    """A collection's digest: the collection at the digest's last run."""

    id: int
    name: str
    title: str
    metrics: Mapping[str, Any] | None  # its collection_metrics row at that run (None: none yet)
    change: Mapping[str, int | None]  # each count's change over the covered runs
    new_works: int  # works that joined it as news in the covered runs
    page_url: str | None = None  # its page in the hosted report


@dataclass(frozen=True)
class Digest:
    subject: str
    works: tuple[DigestWork, ...]  # those shown, the most newsworthy first
    more_works: int  # works not shown (the least newsworthy)
    more_citations: int  # their new citing works
    source_alerts: tuple[Alert, ...]  # about a source, not a work
    failed: tuple[tuple[str, str], ...]  # (source title, message) of the latest run's failures
    run: Mapping[str, Any]
    first_run_id: int
    run_id: int
    carried: tuple[Carried, ...]
    first_run_at: str = ""  # when the first run covered started
    collection: CollectionNews | None = None  # a collection's digest: the collection

    @property
    def alerts(self) -> int:
        return sum(1 for c in self.carried if c.alert_id is not None)

    @property
    def new_citations(self) -> int:
        return sum(w.new_citations for w in self.works) + self.more_citations


def carried_before(db: sqlite_utils.Database, collection_id: int | None = None) -> tuple[set[int], set[int]]:
    """(alert ids, citation ids) carried by a digest that was delivered to the audience:
    ``[email] recipients``, or with ``collection_id`` that collection's recipients."""
    rows = db.query(
        "SELECT i.alert_id, i.citation_id FROM digest_items i "
        "JOIN email_deliveries d ON d.id = i.delivery_id WHERE d.status = 'sent' AND d.collection_id IS ?",
        [collection_id],
    )
    alert_ids, citation_ids = set(), set()
    for row in rows:
        if row["alert_id"] is not None:
            alert_ids.add(row["alert_id"])
        if row["citation_id"] is not None:
            citation_ids.add(row["citation_id"])
    return alert_ids, citation_ids


def build(
    db: sqlite_utils.Database,
    config: Config,
    first_run_id: int,
    run_id: int,
    dois: Collection[str] | None = None,
    collection: str | None = None,
) -> Digest:
    """The digest of runs ``first_run_id``..``run_id``, less what a digest delivered to the
    same audience carried; with ``collection``, that collection's digest."""
    group = _collection(db, config, collection, first_run_id, run_id) if collection else None
    if group is not None and dois is None:
        dois = set(group[1])
    old_alerts, old_citations = carried_before(db, group[0].id if group else None)
    found = [
        a
        for a in alerts.for_runs(db, first_run_id, run_id)
        if a.id not in old_alerts and (dois is None or a.doi is None or a.doi in dois)
        and (collection is None or _about_collection(a, collection))
    ]
    every = []
    for row in store.works_rows(db):
        if dois is not None and row["doi"] not in dois:
            continue
        mine = [a for a in found if a.doi == row["doi"]]
        work = _work(db, row, mine, old_citations, first_run_id, run_id)
        if work is not None:
            every.append(work)
    # Many works would make a long, heavy message that mail clients clip: the most
    # newsworthy few are shown in full; the report has the rest.
    ranked = sorted(every, key=lambda w: (w.rank, -w.change))
    run = next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]), None) or {}
    settings = config.email
    shown = tuple(
        _in_full(db, work, run, first_run_id, settings.max_items_per_work, settings.report_url)
        for work in ranked[:MAX_WORKS_SHOWN]
    )
    rest = ranked[MAX_WORKS_SHOWN:]
    source_alerts = tuple(a for a in found if a.doi is None)
    carried = [Carried(None, alert_id=a.id) for a in source_alerts if a.id is not None]
    for work, is_shown in [(w, True) for w in shown] + [(w, False) for w in rest]:
        listed = {c.citation_id for c in work.items}
        carried += [Carried(work.work_id, alert_id=a.id) for a in work.every_alert if a.id]
        carried += [
            Carried(work.work_id, citation_id=i, shown=is_shown and i in listed)
            for i in work.citation_ids
        ]
    news = None
    if group is not None:
        news = replace(group[0], new_works=sum(1 for a in found if a.kind == "new_work"))
    subject = subject_line(found, [*shown, *rest])
    return Digest(
        subject=one_line(f"{news.title}: {subject}" if news else subject),
        works=shown,
        more_works=len(rest),
        more_citations=sum(w.new_citations for w in rest),
        source_alerts=source_alerts,
        failed=tuple(_failed_sources(run)),
        run=run,
        first_run_id=first_run_id,
        run_id=run_id,
        carried=tuple(carried),
        first_run_at=db.execute(
            "SELECT coalesce(min(started_at), '') FROM runs WHERE id = ?", [first_run_id]
        ).fetchone()[0],
        collection=news,
    )


def _about_collection(alert: Alert, name: str) -> bool:
    """Whether a collection's digest carries an alert: one about a work (not a source),
    and of the ``new_work`` alerts only those of this collection."""
    return alert.doi is not None and (alert.kind != "new_work" or alert.details.get("collection") == name)


def _collection(
    db: sqlite_utils.Database, config: Config, name: str, first_run_id: int, run_id: int
) -> tuple[CollectionNews, tuple[str, ...]]:
    """A collection at run ``run_id`` (its metrics' change since before ``first_run_id``),
    and its works then."""
    found = portfolio.summaries(db, run_id, name)
    if not found:
        raise MonitorError(f"no collection {name!r} at run {run_id}: run `citation-monitor run` first")
    summary = found[0]
    before = [h for h in summary.history if h["run_id"] < first_run_id]
    report_url = config.email.report_url
    slug = portfolio.slugs(db)[name]
    return CollectionNews(
        summary.id,
        summary.name,
        summary.title,
        summary.metrics,
        group_metrics.changes(summary.metrics or {}, before[-1] if before else None),
        0,
        urljoin(report_url if report_url.endswith("/") else report_url + "/", f"collections/{slug}.html")
        if report_url else None,
    ), summary.members


def _work(
    db: sqlite_utils.Database,
    row: Mapping[str, Any],
    found: list[Alert],
    old_citations: set[int],
    first_run_id: int,
    run_id: int,
) -> DigestWork | None:
    """A work's news, without what only a shown work needs (``_in_full``); None when the
    latest run did not ask about it (no longer tracked) and it has no news."""
    history = _ok_history(db, row["id"], run_id)
    asked = db.execute(
        "SELECT 1 FROM observations WHERE work_id = ? AND run_id = ? LIMIT 1", [row["id"], run_id]
    ).fetchone()
    if not asked and not found:
        return None
    sentences, listed, ids, new = [], [], [], 0
    for alert in found:
        announced = alert.details.get("citation_ids") if alert.kind == "new_citations" else None
        if announced is None:
            sentences.append(alert)
            new += int(alert.details.get("count", 0)) if alert.kind == "new_citations" else 0
            continue
        listed.append(alert)
        fresh = [i for i in announced if i not in old_citations]
        ids += fresh
        new += len(fresh)
    change = sum(abs(c or 0) for c in _changes(history, first_run_id).values())
    return DigestWork(
        doi=row["doi"],
        work_id=row["id"],
        title=row["label"] or row["doi"],  # a shown work's is its merged metadata's (_in_full)
        headline=None,
        alerts=tuple(sentences),
        items=(),
        more_items=0,
        new_citations=new,
        citation_ids=tuple(ids),
        change=change,
        listed_alerts=tuple(listed),
    )


def _in_full(
    db: sqlite_utils.Database,
    work: DigestWork,
    run: Mapping[str, Any],
    first_run_id: int,
    max_items: int,
    report_url: str,
) -> DigestWork:
    """A shown work with its title, headline, new citing works as items, and counts."""
    record, _ = metadata.merge(store.latest_metadata(db, work.doi))
    top = headline.for_work(db, work.doi, run)  # the one headline every view shows
    wanted = set(work.citation_ids)
    entries = [
        citing_entry(r, run["id"]) for r in citing.ledger_rows(db, work.doi) if r["citation_id"] in wanted
    ]
    history = _ok_history(db, work.work_id, run["id"])
    changes = _changes(history, first_run_id)
    counts = tuple(
        CountLine(
            c.source,
            c.title,
            c.citations,
            changes.get(c.source),
            analysis.source_series(c.title, history.get(c.source, [])).points,
        )
        for c in top.now.counts
    )
    return replace(
        work,
        title=record.get("title") or work.title,
        headline=top,
        items=tuple(entries[:max_items]),
        more_items=max(0, len(entries) - max_items),
        counts=counts,
        page_url=page_url(report_url, work.doi),
    )


def page_url(report_url: str, doi: str) -> str | None:
    """The work's page in the hosted report (``[email] report_url``), or None."""
    if not report_url:
        return None
    return urljoin(report_url if report_url.endswith("/") else report_url + "/", f"works/{doi_slug(doi)}.html")


def _ok_history(db: sqlite_utils.Database, work_id: int, run_id: int) -> dict[str, list[dict[str, Any]]]:
    """source → its good counts of a work up to run ``run_id``, oldest first."""
    history: dict[str, list[dict[str, Any]]] = {}
    for row in db.query(
        "SELECT source, run_id, citations, observed_at FROM observations WHERE work_id = ? "
        "AND run_id <= ? AND outcome = 'ok' AND citations IS NOT NULL ORDER BY run_id, id",
        [work_id, run_id],
    ):
        history.setdefault(row["source"], []).append(row)
    return history


def _changes(history: Mapping[str, list[dict[str, Any]]], first_run_id: int) -> dict[str, int | None]:
    """source → the change of its count since before run ``first_run_id`` (None: no count then)."""
    result: dict[str, int | None] = {}
    for source, rows in history.items():
        before = [r for r in rows if r["run_id"] < first_run_id]
        result[source] = rows[-1]["citations"] - before[-1]["citations"] if before else None
    return result


def _failed_sources(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source title, message) of each source that failed in the run, from its summary."""
    summary = json.loads(run.get("summary") or "{}")
    return [
        (title_of(name), entry.get("message") or entry["outcome"])
        for name, entry in summary.items()
        if Outcome(entry["outcome"]).is_failure
    ]


def subject_line(found: Sequence[Alert], works: Sequence[DigestWork]) -> str:
    """Says what happened: the most important kind of alert first, then how many others.

    '3 new citations of "Emerging role of autophagy…" (now 41)'; for several works,
    '7 new citations of 3 works'.
    """
    by_doi = {w.doi: w for w in works}
    if not found:
        if len(works) == 1:
            only = works[0]
            count = f" ({only.now} citations)" if only.now is not None else ""
            return f"No new alerts: {shorten(only.title, SUBJECT_TITLE_CHARS)}{count}"
        return f"No new alerts for {len(works)} works"
    lead = found[0]
    same = [a for a in found if a.kind == lead.kind]
    work = by_doi.get(lead.doi or "")
    name = shorten(work.title, SUBJECT_TITLE_CHARS) if work else ""
    now = f" (now {work.now})" if work and work.now is not None else ""
    if lead.kind == "new_citations":
        hit = [by_doi[d] for d in dict.fromkeys(a.doi for a in same) if d in by_doi]
        n = sum(w.new_citations for w in hit)
        plural = "s" if n != 1 else ""
        text = (
            f'{n} new citation{plural} of "{name}"{now}'
            if len(hit) == 1
            else f"{n} new citation{plural} of {len(hit)} works"
        )
        others = len(found) - len(same)
    elif lead.kind == "new_work":
        n = len({a.doi for a in same})  # a work new in two collections is one new work
        text = f'New work: "{name}"' if n == 1 else f"{n} new works"
        others = len(found) - len(same)
    else:
        text = {
            "retraction": f"Retraction: {name}",
            "correction": f"Correction: {name}",
            "milestone": f"{name} passed {lead.details.get('milestone')} citations",
            "drop": f"Citation count fell: {name}{now}",
            "jump": f"Unusual jump in citations: {name}{now}",
            "citing_retraction": f"A citing work was retracted: {name}",
        }.get(lead.kind, lead.message)
        if lead.kind == "source_failing":
            text = shorten(lead.message.split(":")[0], 70)
        others = len(found) - 1
    if others:
        text += f" (+{others} more alert{'s' if others != 1 else ''})"
    return text

