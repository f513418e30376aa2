"""The page cache: for each work, its key, its index row and its report.json entry.

A small SQLite file beside the site generations (with each work's formatted
"Cite this", which changes only with its record: formatting is the slowest part of a page). It lets a report skip the works
whose key did not change (their pages are linked from the previous generation) and
build the index, sorted three ways, and ``report.json`` without holding every work
in memory. It belongs to one generation (``meta.generation``): a cache that does not
match the site being replaced is emptied, and every page is built again; so is one
written by another version of this schema (``VERSION``, kept as SQLite's user_version).

A work no longer tracked keeps its page and its row (``tracked`` 0, ``untracked_at``), but
its row is left out of the index, its totals and report.json's ``works``: it is listed
apart (``untracked``), with its last figures dated.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from markupsafe import Markup

from monitor.report.dashboard import ORDERS

VERSION = 3  # 2: tracked, untracked_at; 3: as_of, pages keyed on values
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
    work_id INTEGER PRIMARY KEY,
    doi TEXT NOT NULL,
    slug TEXT NOT NULL,
    key TEXT NOT NULL,
    seen INTEGER NOT NULL DEFAULT 1,
    title_sort TEXT NOT NULL,
    value INTEGER,
    change INTEGER,
    new INTEGER,
    run_id INTEGER,
    as_of TEXT,
    alerts INTEGER NOT NULL,
    tracked INTEGER NOT NULL,
    untracked_at TEXT,
    row_html TEXT NOT NULL,
    summary TEXT NOT NULL,
    headline TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_by_doi ON pages (doi);
CREATE TABLE IF NOT EXISTS citations (work_id INTEGER PRIMARY KEY, key TEXT NOT NULL, cite TEXT NOT NULL);
"""


class PageCache:
    def __init__(self, path: Path, known: Path | None = None):
        """The cache at ``path``; ``known``: the current site's cache, whose formatted
        citations a past day's report reuses (read only) rather than format them again."""
        self.path = path
        self.built = 0  # work pages built in this report (not kept from the one before)
        self.conn = sqlite3.connect(path.absolute().as_uri(), isolation_level=None, uri=True)
        self.conn.execute("PRAGMA journal_mode = DELETE")
        if self.conn.execute("PRAGMA user_version").fetchone()[0] != VERSION:  # another layout: start afresh
            self.conn.executescript("DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS pages; DROP TABLE IF EXISTS citations;")
            self.conn.execute(f"PRAGMA user_version = {VERSION}")
        self.conn.executescript(SCHEMA)
        self.known = False
        if known is not None and known.is_file():
            self.conn.execute("ATTACH DATABASE ? AS known", [known.absolute().as_uri() + "?mode=ro"])
            self.known = bool(self.conn.execute(
                "SELECT 1 FROM known.sqlite_master WHERE name = 'citations'").fetchone())
        self.conn.execute("BEGIN")  # one transaction: committed only with the site it describes

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def start(self, generation: str | None) -> bool:
        """Begin a new report; True when the cache describes ``generation`` (the site now
        served), so unchanged pages can be taken from it. Otherwise it is emptied."""
        valid = generation is not None and self.meta("generation") == generation
        if not valid:
            self.conn.execute("DELETE FROM pages")
        self.conn.execute("UPDATE pages SET seen = 0")
        return valid

    def get(self, work_id: int) -> tuple[str, str] | None:
        """(key, slug) of a work's cached page."""
        row = self.conn.execute("SELECT key, slug FROM pages WHERE work_id = ?", [work_id]).fetchone()
        return (row[0], row[1]) if row else None

    def keep(self, work_id: int, run_id: int | None, as_of: str) -> None:
        """A work's page stays as it was; its last run (which ``report.json`` and the
        totals name) may have moved on."""
        self.conn.execute("UPDATE pages SET seen = 1, run_id = ?, as_of = ? WHERE work_id = ?",
                          [run_id, as_of or None, work_id])

    def put(self, work_id: int, doi: str, slug: str, key: str, row: Any, row_html: str,
            summary: str, headline: str, untracked_at: str | None = None) -> None:
        """A work's row; ``untracked_at``: when it stopped being tracked (None: tracked)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO pages (work_id, doi, slug, key, seen, title_sort, value, change, new, "
            "run_id, as_of, alerts, tracked, untracked_at, row_html, summary, headline) "
            "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [work_id, doi, slug, key, row.title_sort, row.value, row.sort_change, row.new, row.run_id,
             row.as_of or None, len(row.alerts), int(untracked_at is None), untracked_at, row_html, summary, headline],
        )

    def citations(self, work_id: int, key: str) -> dict[str, str] | None:
        """A work's "Cite this" block, if it was formatted from the same record and styles."""
        row = self.conn.execute("SELECT key, cite FROM citations WHERE work_id = ?", [work_id]).fetchone()
        if (row is None or row[0] != key) and self.known:
            row = self.conn.execute("SELECT key, cite FROM known.citations WHERE work_id = ?", [work_id]).fetchone()
        return json.loads(row[1]) if row and row[0] == key else None

    def put_citations(self, work_id: int, key: str, cite: dict[str, str]) -> None:
        self.conn.execute("INSERT OR REPLACE INTO citations (work_id, key, cite) VALUES (?, ?, ?)",
                          [work_id, key, json.dumps(cite)])

    def finish(self, generation: str) -> None:
        """Forget works not seen in this report and name the generation it describes."""
        self.conn.execute("DELETE FROM pages WHERE seen = 0")
        self.conn.execute("DELETE FROM citations WHERE work_id NOT IN (SELECT work_id FROM pages)")
        self.set_meta("generation", generation)

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def count(self, tracked: bool | None = None, work_ids: str | None = None) -> int:
        """Work pages: all of them, only the tracked (or untracked) works', or those of the
        works whose ids a JSON list names."""
        if work_ids is not None:
            found = self.conn.execute(
                "SELECT count(*) FROM pages WHERE work_id IN (SELECT value FROM json_each(?))", [work_ids])
        else:
            found = self.conn.execute("SELECT count(*) FROM pages WHERE ? IS NULL OR tracked = ?", [tracked, tracked])
        return int(found.fetchone()[0])

    def totals(self, run_id: int | None) -> dict[str, int]:
        """Tracked works, those indexed, new citations and works with alerts in run ``run_id``;
        and works no longer tracked (in no total)."""
        works, indexed, new, with_alerts, untracked = self.conn.execute(
            "SELECT sum(tracked), count(CASE WHEN tracked THEN value END), "
            "coalesce(sum(CASE WHEN tracked AND run_id IS ? THEN new END), 0), "
            "coalesce(sum(tracked AND run_id IS ? AND alerts > 0), 0), sum(1 - tracked) FROM pages",
            [run_id, run_id],
        ).fetchone()
        return {"works": works or 0, "indexed": indexed, "new": new, "with_alerts": with_alerts or 0,
                "untracked": untracked or 0}

    def rows(self, order: str, work_ids: str | None = None, root: str = "") -> Iterator[Markup]:
        """Every tracked work's index row (or, with ``work_ids`` as a JSON list, those
        works'), in one of ``dashboard.ORDERS``; ``root``: where the site's root is from
        the page that shows them (rows link to ``works/...``)."""
        for (html,) in self.conn.execute(
            f"SELECT row_html FROM pages WHERE {_WHICH} ORDER BY {ORDERS[order][2]}", [work_ids, work_ids]
        ):
            yield Markup(html.replace('href="works/', f'href="{root}works/') if root else html)

    def untracked(self, root: str = "") -> Iterator[tuple[Markup, str]]:
        """The rows of works no longer tracked, most recently untracked first, with their
        report.json entries."""
        for html, text in self.conn.execute(
            "SELECT row_html, summary FROM pages WHERE NOT tracked ORDER BY untracked_at DESC, title_sort, doi"
        ):
            yield Markup(html.replace('href="works/', f'href="{root}works/') if root else html), text

    def summaries(self, work_ids: str | None = None) -> Iterator[str]:
        """Every tracked work's report.json entry (JSON text), in the index's first order,
        with the run it is of now (a page kept from an earlier report is of the latest run)."""
        for (text,) in self.conn.execute(
            "SELECT json_set(summary, '$.as_of', as_of, '$.run_id', run_id) "
            f"FROM pages WHERE {_WHICH} ORDER BY {ORDERS['headline'][2]}", [work_ids, work_ids]
        ):
            yield text

    def headline(self, doi: str) -> tuple[str, str, str | None] | None:
        """(title, headline text, when it stopped being tracked or None) of a work, as its
        index row shows them."""
        row = self.conn.execute("SELECT headline, untracked_at FROM pages WHERE doi = ?", [doi]).fetchone()
        if row is None:
            return None
        title, _, text = row[0].partition("\n")
        return title, text, row[1]


# the tracked works, or the works whose ids a JSON list names
_WHICH = "CASE WHEN ? IS NULL THEN tracked ELSE work_id IN (SELECT value FROM json_each(?)) END"
