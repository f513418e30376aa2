"""The page cache: for each work, its key, its index row and its report.json entry.

A small SQLite file beside the site generations (with each work's formatted
"Cite this", which changes only with its record: formatting is the slowest part of a page). It lets a report skip the works
whose key did not change (their pages are linked from the previous generation) and
build the index, sorted three ways, and ``report.json`` without holding every work
in memory. It belongs to one generation (``meta.generation``): a cache that does not
match the site being replaced is emptied, and every page is built again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from markupsafe import Markup

from monitor.report.dashboard import ORDERS

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
    alerts INTEGER NOT NULL,
    row_html TEXT NOT NULL,
    summary TEXT NOT NULL,
    headline TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_by_doi ON pages (doi);
CREATE TABLE IF NOT EXISTS citations (work_id INTEGER PRIMARY KEY, key TEXT NOT NULL, cite TEXT NOT NULL);
"""


class PageCache:
    def __init__(self, path: Path):
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = DELETE")
        self.conn.executescript(SCHEMA)
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

    def keep(self, work_id: int) -> None:
        self.conn.execute("UPDATE pages SET seen = 1 WHERE work_id = ?", [work_id])

    def put(self, work_id: int, doi: str, slug: str, key: str, row: Any, row_html: str,
            summary: str, headline: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO pages (work_id, doi, slug, key, seen, title_sort, value, change, new, "
            "run_id, alerts, row_html, summary, headline) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [work_id, doi, slug, key, row.title_sort, row.value, row.sort_change, row.new, row.run_id,
             len(row.alerts), row_html, summary, headline],
        )

    def citations(self, work_id: int, key: str) -> dict[str, str] | None:
        """A work's "Cite this" block, if it was formatted from the same record and styles."""
        row = self.conn.execute("SELECT key, cite FROM citations WHERE work_id = ?", [work_id]).fetchone()
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

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM pages").fetchone()[0])

    def totals(self, run_id: int | None) -> dict[str, int]:
        """Works, works indexed, new citations and works with alerts in run ``run_id``."""
        works, indexed, new, with_alerts = self.conn.execute(
            "SELECT count(*), count(value), coalesce(sum(CASE WHEN run_id IS ? THEN new END), 0), "
            "coalesce(sum(run_id IS ? AND alerts > 0), 0) FROM pages", [run_id, run_id]
        ).fetchone()
        return {"works": works, "indexed": indexed, "new": new, "with_alerts": with_alerts or 0}

    def rows(self, order: str) -> Iterator[Markup]:
        """Every work's index row, in one of ``dashboard.ORDERS``."""
        for (html,) in self.conn.execute(f"SELECT row_html FROM pages ORDER BY {ORDERS[order][2]}"):
            yield Markup(html)

    def summaries(self) -> Iterator[str]:
        """Every work's report.json entry (JSON text), in the index's first order."""
        for (text,) in self.conn.execute(f"SELECT summary FROM pages ORDER BY {ORDERS['headline'][2]}"):
            yield text

    def headline(self, doi: str) -> tuple[str, str] | None:
        """(title, headline text) of a work, as its index row shows them."""
        row = self.conn.execute("SELECT headline FROM pages WHERE doi = ?", [doi]).fetchone()
        if row is None:
            return None
        title, _, text = row[0].partition("\n")
        return title, text
