"""Read the headline each view shows, the way a reader sees it: for the tests that check
every view shows the same figure (the index, a work page, report.json; the digest's
tests use the same helpers for the email).

A view marks its headline number with a ``data-headline`` attribute (the index also
marks each row with ``data-doi``); the text inside is what a reader reads: a number,
or "not indexed yet".
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

NOT_INDEXED = "not indexed yet"


class _Marks(HTMLParser):
    """Collects the text of every element with ``data-headline`` (and ``data-new``),
    with the ``data-doi`` of the row around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doi: str | None = None
        self.open: list[tuple[str, str, list[str]]] = []  # (tag, kind, text parts)
        self.found: list[tuple[str | None, str, str]] = []  # (doi, kind, text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if "data-doi" in names:
            self.doi = names["data-doi"]
        for kind in ("data-headline", "data-new"):
            if kind in names:
                self.open.append((tag, kind, []))
        if self.open and self.open[-1][0] != tag and tag not in ("br", "img"):
            self.open.append((tag, "", []))

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1][0] == tag:
            _, kind, parts = self.open.pop()
            if kind:
                self.found.append((self.doi, kind, " ".join("".join(parts).split())))
            elif self.open:
                self.open[-1][2].extend(parts)

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1][2].append(data)


def _marks(html: str) -> list[tuple[str | None, str, str]]:
    parser = _Marks()
    parser.feed(html)
    return parser.found


def as_value(text: str) -> int | None:
    """'750' → 750; 'not indexed yet' → None."""
    return None if text == NOT_INDEXED else int(text.replace(",", ""))


def from_index(html: str) -> dict[str, int | None]:
    """doi → the headline its index row shows."""
    return {doi: as_value(text) for doi, kind, text in _marks(html) if kind == "data-headline" and doi}


def new_from_index(html: str) -> dict[str, str]:
    """doi → what the index's "New" column shows ("2", "0" or "—")."""
    return {doi: text for doi, kind, text in _marks(html) if kind == "data-new" and doi}


def from_work_page(html: str) -> int | None:
    """The headline a work page shows (it shows exactly one)."""
    [text] = [text for _, kind, text in _marks(html) if kind == "data-headline"]
    return as_value(text)


def new_from_work_page(html: str) -> str:
    [text] = [text for _, kind, text in _marks(html) if kind == "data-new"]
    return text


def from_report_json(data: dict[str, Any] | Path) -> dict[str, int | None]:
    """doi → ``headline.value`` of report.json (a parsed document or its path)."""
    if isinstance(data, Path):
        data = json.loads(data.read_text())
    return {w["doi"]: w["headline"]["value"] for w in data["works"]}


def index_pages(site: Path) -> list[Path]:
    """Every page of the index's first order: index.html, index-2.html, ..."""
    pages = [site / "index.html"]
    n = 2
    while (site / f"index-{n}.html").exists():
        pages.append(site / f"index-{n}.html")
        n += 1
    return pages


def from_whole_index(site: Path) -> dict[str, int | None]:
    """doi → headline over every page of the index."""
    found: dict[str, int | None] = {}
    for page in index_pages(site):
        found.update(from_index(page.read_text()))
    return found
