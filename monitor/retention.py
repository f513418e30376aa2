"""Retention: prune old raw response bodies, keep everything read from them.

A body is pruned when no response newer than the cutoff points at it. Its row in
``raw_bodies`` stays (hash, size, ``pruned_at``) with ``body`` set to NULL; the
responses keep their URL, status and hash, and the observations keep every
count, metric and metadata value extracted from the body. If a later response
brings the very same bytes again, ``store.save_exchange`` stores them anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from monitor.store import iso

# Bodies every one of whose responses was fetched before the cutoff.
_PRUNABLE = """
    raw_bodies.body IS NOT NULL AND raw_bodies.sha256 IN (
        SELECT body_sha256 FROM responses GROUP BY body_sha256 HAVING max(fetched_at) < :cutoff
    )"""


@dataclass(frozen=True)
class PruneResult:
    cutoff: str  # ISO time: bodies last fetched before it were pruned
    bodies: int
    stored_bytes: int  # compressed bytes released inside the database file
    responses: int  # responses whose body is now gone (their hash remains)


def prune(
    db: sqlite_utils.Database, older_than: timedelta, now: datetime, dry_run: bool = False
) -> PruneResult:
    """Drop the bodies of responses older than ``older_than``, in one transaction."""
    cutoff = iso(now - older_than)
    with db.atomic():
        row = next(
            db.query(
                "SELECT count(*) AS bodies, coalesce(sum(length(body)), 0) AS stored_bytes, "
                "(SELECT count(*) FROM responses r WHERE r.body_sha256 IN "
                f"(SELECT sha256 FROM raw_bodies WHERE {_PRUNABLE})) AS responses "
                f"FROM raw_bodies WHERE {_PRUNABLE}",
                {"cutoff": cutoff},
            )
        )
        if not dry_run:
            db.execute(
                f"UPDATE raw_bodies SET body = NULL, pruned_at = :now WHERE {_PRUNABLE}",
                {"cutoff": cutoff, "now": iso(now)},
            )
    return PruneResult(cutoff, row["bodies"], row["stored_bytes"], row["responses"])


def pruned_at(db: sqlite_utils.Database, sha256: str) -> str | None:
    """When the body with this hash was pruned, or None if it is still stored."""
    row = next(
        db.query("SELECT pruned_at FROM raw_bodies WHERE sha256 = ? AND body IS NULL", [sha256]),
        None,
    )
    return row["pruned_at"] if row else None
