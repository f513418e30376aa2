"""What the report reads from the store that no other step reads."""

from __future__ import annotations

import json
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
    ``installation``, made by ``migrations.m009_installation``."""
    return next(db.query("SELECT uuid, created_at FROM installation WHERE id = 1"))


def newest_citations(db: sqlite_utils.Database, work_ids: list[int], as_of: str | None,
                     n: int) -> list[tuple[int, str]]:
    """(citation id, cited DOI) of the ``n`` citing works of these works first seen last
    (by ``as_of``), newest first."""
    return [(r[0], r[1]) for r in db.execute(
        "SELECT e.id, w.doi FROM citations e JOIN works w ON w.id = e.work_id JOIN citers c ON c.id = e.citer_id "
        "WHERE e.work_id IN (SELECT value FROM json_each(?)) AND (? IS NULL OR e.first_seen_at <= ?) "
        "ORDER BY e.first_seen_at DESC, coalesce(c.published, c.year) DESC, e.id DESC LIMIT ?",
        [json.dumps(work_ids), as_of, as_of, n],
    ).fetchall()]


def last_answered(db: sqlite_utils.Database, as_of: str | None = None) -> dict[str, dict[str, Any]]:
    """source → the last run (by ``as_of``) in which it answered (outcome ok): ``run_id`` and
    ``at`` (the run's end). The work pages date each figure by when it last changed; this
    says when the sources last confirmed them."""
    found: dict[str, dict[str, Any]] = {}
    for row in db.query(
        "SELECT j.key AS source, r.id AS run_id, coalesce(r.finished_at, r.started_at) AS at "
        "FROM runs r, json_each(r.summary) j WHERE json_valid(r.summary) "
        "AND json_extract(j.value, '$.outcome') = 'ok' AND (? IS NULL OR r.started_at <= ?) ORDER BY r.id",
        [as_of, as_of],
    ):
        found[row["source"]] = {"run_id": row["run_id"], "at": row["at"]}
    return found
