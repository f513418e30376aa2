"""Collection pages, and the page of works no longer tracked.

Each collection (a ``[[collections]]`` table) has its pages in ``collections/``:
``<slug>.html`` and, as the index has, ``<slug>.by-change.html``, ``<slug>.by-title.html``
and numbered pages for a long list. Every page shows the collection's metrics at the run,
with their changes, and lists its works with the index's own rows (from the page cache,
rendered once when the work changed); the first page also shows the metrics over time
(charts, with their numbers in a table), the last run's alerts about its works (its own
``new_work`` alerts only), its newest citing works, the works that joined as news, the
items its last resolution skipped with the reason, and the works that left.

Nothing here computes a figure: the metrics, their changes and history are the stored
``collection_metrics`` rows, read by ``portfolio.summaries``; a work's figures are its
row in the index. Like the index, these pages are written into every new generation of
the site, from the page cache, so no work page is built again for them.

``untracked.html`` (and ``untracked-2.html``...) lists the works no longer tracked, each
with its last figure and the day it is of: apart from every current count and total.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils
from markupsafe import Markup

from monitor import charts, citing
from monitor.citing_view import CitingEntry, citing_entry
from monitor.doi import doi_slug
from monitor.portfolio import CollectionSummary, slugs, summaries
from monitor.report import reads
from monitor.report.cache import PageCache
from monitor.report.dashboard import write_pages

FOLDER = "collections"
NEWEST_CITING = 10  # the newest citing works a collection's first page lists
HISTORY_ROWS = 30  # the metrics table shows the latest runs; report.json has every one


@dataclass(frozen=True)
class CitedBy:
    """A citing work of one of the collection's works."""

    entry: CitingEntry
    work_doi: str
    work_title: str

    @property
    def work_href(self) -> str:
        return f"works/{doi_slug(self.work_doi)}.html"


@dataclass(frozen=True)
class CollectionPage:
    summary: CollectionSummary
    slug: str
    alerts: tuple[Mapping[str, Any], ...]  # the last run's, about its works
    citing: tuple[CitedBy, ...]  # its newest citing works, first seen last first
    citations_chart: Markup  # empty: nothing to draw yet
    indices_chart: Markup
    titles: dict[str, str]  # doi → title as its page shows it, for the works that joined or left

    @property
    def href(self) -> str:
        return f"{FOLDER}/{self.slug}.html"

    @property
    def history_table(self) -> list[dict[str, Any]]:
        """The latest runs' metrics, newest first."""
        return list(reversed(self.summary.history[-HISTORY_ROWS:]))


def build_all(db: sqlite_utils.Database, run: Mapping[str, Any] | None, as_of: str | None,
              run_alerts: Sequence[Mapping[str, Any]], cache: PageCache) -> list[CollectionPage]:
    """Every collection as of ``run`` (the run the site shows), by name."""
    if run is None:
        return []
    found = summaries(db, run["id"])
    names = slugs(db)
    return [_page(db, s, names[s.name], as_of, run_alerts, cache) for s in found]


def _page(db: sqlite_utils.Database, summary: CollectionSummary, slug: str, as_of: str | None,
          run_alerts: Sequence[Mapping[str, Any]], cache: PageCache) -> CollectionPage:
    mine = set(summary.members)
    alerts = tuple(
        a for a in run_alerts
        if a["doi"] in mine and (a["kind"] != "new_work" or collection_of(a) == summary.name)
    )
    title = summary.title
    citations = _series(summary.history, "citations", "Citations")
    indices = [_series(summary.history, key, label) for key, label in (("h_index", "h-index"), ("i10_index", "i10-index"))]
    return CollectionPage(
        summary,
        slug,
        alerts,
        tuple(_newest_citing(db, summary, as_of, cache)),
        charts.both(lambda layout: charts.cumulative(
            [citations], f"Citations of {title}'s works over time",
            "The sum of its works' headlines at each run.", layout)) if citations.points else Markup(""),
        charts.both(lambda layout: charts.cumulative(
            [s for s in indices if s.points], f"h-index and i10-index of {title} over time",
            "At each run, over the works it held then.", layout)) if any(s.points for s in indices) else Markup(""),
        {w["doi"]: shown[0] for w in (*summary.joined, *summary.left) if (shown := cache.headline(w["doi"]))},
    )


def collection_of(alert: Mapping[str, Any]) -> str | None:
    """The collection a ``new_work`` alert is about (its ``details``)."""
    details = alert["details"]
    details = json.loads(details) if isinstance(details, str) else details
    return details.get("collection")


def _series(history: Sequence[Mapping[str, Any]], key: str, label: str) -> charts.Series:
    """One metric at each run, the day's last run standing for its day; unknown left out."""
    by_day: dict[date, int] = {}
    for row in history:
        if row[key] is not None:
            by_day[date.fromisoformat(row["at"][:10])] = row[key]
    return charts.Series(label, tuple(sorted(by_day.items())))


def _newest_citing(db: sqlite_utils.Database, summary: CollectionSummary, as_of: str | None,
                   cache: PageCache) -> list[CitedBy]:
    newest = reads.newest_citations(db, list(summary.member_ids), as_of, NEWEST_CITING)
    wanted: dict[str, set[int]] = {}
    for citation_id, doi in newest:
        wanted.setdefault(doi, set()).add(citation_id)
    rows = {
        row["citation_id"]: row
        for doi, ids in wanted.items() for row in citing.ledger_rows(db, doi, as_of) if row["citation_id"] in ids
    }
    found = []
    for citation_id, doi in newest:
        if citation_id in rows:
            shown = cache.headline(doi)
            found.append(CitedBy(citing_entry(rows[citation_id], summary.run_id), doi, shown[0] if shown else doi))
    return found


def write_all(env: jinja2.Environment, site: Any, folder: Path, cache: PageCache,  # site: site.Site
              pages: Sequence[CollectionPage], size: int) -> None:
    """Every collection's pages into ``folder/collections/``, and ``untracked.html``."""
    template = env.get_template("collection.html")
    if pages:
        (folder / FOLDER).mkdir(exist_ok=True)
    for page in pages:
        ids = json.dumps(list(page.summary.member_ids))

        def rows(order: str, ids: str = ids) -> Iterator[Markup]:
            return cache.rows(order, ids, root="../")

        write_pages(template, folder / FOLDER, rows, cache.count(work_ids=ids), size, prefix=page.slug,
                    site=site, group=page, root="../")
    untracked = cache.count(tracked=False)
    if untracked:
        write_pages(env.get_template("untracked.html"), folder, lambda order: (row for row, _ in cache.untracked()),
                    untracked, size, prefix="untracked", orders=("headline",), site=site, root="")
