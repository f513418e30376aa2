"""What the report reads from the store that no other step reads."""

from __future__ import annotations

from typing import Any

import sqlite_utils


def runs(db: sqlite_utils.Database, as_of: str | None = None) -> list[dict[str, Any]]:
    """Every run started by ``as_of`` (all without it), oldest first, without summaries."""
    return list(db.query(
        "SELECT id, started_at, finished_at, status FROM runs "
        "WHERE (? IS NULL OR started_at <= ?) ORDER BY id",
        [as_of, as_of],
    ))


def work_alerts(db: sqlite_utils.Database, run_id: int, doi: str) -> list[dict[str, Any]]:
    """The alerts one run raised about one work."""
    return list(db.query("SELECT * FROM alerts WHERE run_id = ? AND doi = ? ORDER BY id", [run_id, doi]))


def installation(db: sqlite_utils.Database) -> dict[str, Any]:
    """This installation's id (``uuid``) and since when it exists (``created_at``): table
    ``installation``, made by ``store.m009_installation``."""
    return next(db.query("SELECT uuid, created_at FROM installation WHERE id = 1"))
