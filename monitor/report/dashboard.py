"""The index: a portfolio dashboard of every work, sortable and paged without JavaScript.

Each work is one row (``IndexRow``, made from its ``WorkPage``): the headline, its
changes, a trend line, the range across sources, "New" and the latest run's alerts.
The per-source detail lives on the work page. Each sort order is its own set of
static pages (``index.html``, ``by-change.html``, ``by-title.html``, then ``-2``,
``-3``, ...), so that sorting and paging work from ``file://`` with no script, and
the first page stays small whatever the number of works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from monitor import charts
from monitor.report.generations import write_file
from monitor.report.pages import WorkPage

# order → (file stem, what it sorts by, SQL ORDER BY over the page cache)
ORDERS: dict[str, tuple[str, str, str]] = {
    "headline": ("index", "citations, highest first", "value IS NULL, value DESC, title_sort, doi"),
    "change": ("by-change", "change over 30 days, largest rise first",
               "change IS NULL, change DESC, value IS NULL, value DESC, title_sort, doi"),
    "title": ("by-title", "title, A to Z", "title_sort, doi"),
}


def page_name(order: str, number: int, prefix: str = "") -> str:
    """``index.html``, ``by-change-2.html``...; with a ``prefix`` (a collection's pages):
    ``lab.html``, ``lab.by-change-2.html``..."""
    stem = ORDERS[order][0]
    if prefix:
        stem = prefix if order == "headline" else f"{prefix}.{stem}"
    return f"{stem}.html" if number == 1 else f"{stem}-{number}.html"


@dataclass(frozen=True)
class IndexRow:
    """What the index shows of one work."""

    doi: str
    slug: str
    title: str
    venue: str | None
    year: int | None
    value: int | None
    basis_text: str
    text: str
    without_self_citations: int | None
    since_previous_run: int | None
    change_30d: int | None
    change_365d: int | None
    trend: tuple[tuple[str, int], ...]
    count_range: tuple[int, int, int] | None
    new: int | None
    alerts: tuple[tuple[str, str], ...]  # (kind, message) of the latest run's alerts
    mark: str | None
    as_of: str
    run_id: int | None = None  # the work's last run, which its figures, "New" and alerts are of
    untracked_at: str | None = None  # no longer tracked since then: listed apart, never as current

    @property
    def href(self) -> str:
        return f"works/{self.slug}.html"

    @property
    def trend_svg(self) -> Markup:
        if len(self.trend) < 2:
            return Markup("")
        (first_day, first), (last_day, last) = self.trend[0], self.trend[-1]
        return charts.sparkline(self.trend, f"Trend: {first} on {first_day} to {last} on {last_day}")

    @property
    def sort_change(self) -> int | None:
        """The index's "change" order: over 30 days, or since the previous run for a work
        monitored for less than that."""
        return self.change_30d if self.change_30d is not None else self.since_previous_run

    @property
    def title_sort(self) -> str:
        return self.title.casefold().strip()


def index_row(page: WorkPage) -> IndexRow:
    heads = page.headline
    return IndexRow(
        doi=page.doi,
        slug=page.slug,
        title=page.title,
        venue=page.record.get("journal"),
        year=page.record.get("year"),
        value=heads.now.value,
        basis_text=heads.now.basis_text,
        text=heads.now.text,
        without_self_citations=heads.now.without_self_citations,
        since_previous_run=heads.since_previous_run,
        change_30d=heads.change_30d,
        change_365d=heads.change_365d,
        trend=page.trend,
        count_range=page.count_range,
        new=page.new,
        alerts=tuple((a["kind"], a["message"]) for a in page.alerts),
        mark=page.notice_mark,
        as_of=page.as_of_time,
        run_id=page.run_id,
        untracked_at=page.untracked_at,
    )


def write_pages(template: jinja2.Template, folder: Path, rows: Callable[[str], Iterable[Markup]], total: int,
                size: int, prefix: str = "", orders: Iterable[str] = tuple(ORDERS), only_first: bool = False,
                **context: Any) -> None:
    """Each order's ``total`` rows, ``size`` a page, into ``folder`` as ``template`` lays out
    one ``IndexPage`` (with ``context``): the index's pages, and a collection's."""
    pages = max(1, -(-total // size))
    for order in orders:
        chunk: list[Markup] = []
        number = 1
        for row in rows(order):
            chunk.append(row)
            if len(chunk) == size:
                page = IndexPage(order, number, pages, total, (number - 1) * size + 1, tuple(chunk), prefix)
                write_file(folder / page.name, template.render(page=page, **context))
                if only_first:
                    return
                chunk, number = [], number + 1
        if chunk or number == 1:
            page = IndexPage(order, number, pages, total, (number - 1) * size + 1, tuple(chunk), prefix)
            write_file(folder / page.name, template.render(page=page, **context))
            if only_first:
                return


@dataclass(frozen=True)
class IndexPage:
    """One page of one sort order, with what its navigation needs."""

    order: str
    number: int
    pages: int
    total: int
    first: int  # the position of its first row, from 1
    rows: tuple[Markup, ...]
    prefix: str = ""  # "": the index; a collection's slug: its pages

    @property
    def name(self) -> str:
        return page_name(self.order, self.number, self.prefix)

    def link(self, order: str | None = None, number: int | None = None) -> str:
        return page_name(order or self.order, number or 1, self.prefix)

    @property
    def orders(self) -> list[tuple[str, str, str]]:
        """(order, file of its first page, what it sorts by)."""
        return [(o, page_name(o, 1, self.prefix), label) for o, (_, label, _) in ORDERS.items()]

    @property
    def numbers(self) -> list[int | None]:
        """The page numbers the pager links: the first, the last and three either side of
        this one; None where numbers are left out (a pager of 1,000 pages stays short)."""
        near = {1, self.pages, *range(max(1, self.number - 3), min(self.pages, self.number + 3) + 1)}
        shown: list[int | None] = []
        for n in sorted(near):
            if shown and shown[-1] is not None and n > shown[-1] + 1:
                shown.append(None)
            shown.append(n)
        return shown
