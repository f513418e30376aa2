"""What a source said, apart from when it was asked: observations reduced to their changes.

Every run stores a new observation of every work at every batched source, even when
nothing changed. A work page shows what each source says and since when, not when it
was last asked, so it is built from the *change points* of each source's history: the
first observation, and each one whose value differs from the one before. The value is
``VALUE_COLUMNS``; at any moment a source said what its last change point by then says,
so the page's figures, windows and charts come out as from every observation.

The same definition twice, once for each side of the page cache: ``change_points`` for a
page being built (Python, over one work's rows as ``store.observation_history`` reads
them, metrics and metadata decoded), ``CHANGE_POINTS`` for the keys of every work (SQL,
over the whole table in one pass, metrics and metadata as payload ids: one payload per
distinct JSON, so equal ids are equal values). Runs follow one another (one at a time,
under the run lock), so a source's observations of a work in run order are in time order:
the SQL walks them by run, along the table's (work_id, source, run_id) index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# What an observation says (its value); two consecutive observations of a work by one
# source that agree on all of these are one value, checked twice. In SQL, the payloads'
# ids stand for the metrics and the metadata.
VALUE_COLUMNS = ("outcome", "message", "citations", "metrics", "metadata")
SQL_VALUE_COLUMNS = ("outcome", "message", "citations", "metrics_id", "metadata_id")

_SAME = " AND ".join(f"o.{c} IS lag(o.{c}) OVER w" for c in SQL_VALUE_COLUMNS)

# Every observation with ``changed`` (a change point: its source's first, or a value unlike
# the one before), ``last`` (its source's latest of the work) and ``previous_run`` (the run
# of the observation before it).
CHANGE_POINTS = f"""
SELECT o.work_id, o.source, o.id, o.run_id, o.observed_at, o.outcome, o.response_id,
       NOT ({_SAME}) AS changed,
       lead(o.id) OVER w IS NULL AS last,
       lag(o.run_id) OVER w AS previous_run
FROM observations o
WINDOW w AS (PARTITION BY o.work_id, o.source ORDER BY o.run_id)
"""


def change_points(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One source's observations of a work (oldest first) reduced to its change points."""
    kept: list[Mapping[str, Any]] = []
    for row in rows:
        if not kept or any(row[c] != kept[-1][c] for c in VALUE_COLUMNS):
            kept.append(row)
    return kept
