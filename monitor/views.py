"""The views: the stable interface people and reports query (docs/schema.md).

Views hold no data: ``ensure`` (re)creates them after the migrations, so they are
always current. A view's name and columns change only with a CHANGELOG line.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

VIEWS: dict[str, str] = {
    "alerts": """
        SELECT a.id, w.doi, a.kind, a.source, a.message, a.run_id, a.raised_at, a.details
        FROM alert_events a LEFT JOIN works w ON w.id = a.work_id""",
    "latest_counts": """
        SELECT
            w.doi, o.source, o.outcome, o.citations, o.observed_at, o.message,
            o.run_id, o.id AS observation_id, o.response_id,
            (SELECT ok.citations FROM observations ok
             WHERE ok.work_id = o.work_id AND ok.source = o.source AND ok.outcome = 'ok'
             ORDER BY ok.run_id DESC LIMIT 1) AS last_ok_citations,
            (SELECT ok.observed_at FROM observations ok
             WHERE ok.work_id = o.work_id AND ok.source = o.source AND ok.outcome = 'ok'
             ORDER BY ok.run_id DESC LIMIT 1) AS last_ok_at
        FROM observations o JOIN works w ON w.id = o.work_id
        WHERE o.id = (
            SELECT latest.id FROM observations latest
            WHERE latest.work_id = o.work_id AND latest.source = o.source
            ORDER BY latest.run_id DESC LIMIT 1
        )""",
    "observation_details": """
        SELECT o.id, o.run_id, o.work_id, o.source, o.observed_at, o.outcome, o.message,
               o.citations, coalesce(m.body, '{}') AS metrics, coalesce(d.body, '{}') AS metadata,
               o.response_id, o.metadata_from
        FROM observations o
        LEFT JOIN payloads m ON m.id = o.metrics_id
        LEFT JOIN payloads d ON d.id = o.metadata_id""",
    "count_history": """
        SELECT w.doi, o.source, substr(o.observed_at, 1, 10) AS day,
               o.citations, max(o.observed_at) AS observed_at, o.id AS observation_id
        FROM observations o JOIN works w ON w.id = o.work_id
        WHERE o.outcome = 'ok'
        GROUP BY w.doi, o.source, day""",
    "source_health": """
        WITH per_run AS (
            SELECT source, run_id, max(observed_at) AS observed_at,
                   max(outcome IN ('error', 'rate_limited', 'quota_exhausted')) AS failed,
                   CASE
                       WHEN sum(outcome = 'error') > 0 THEN 'error'
                       WHEN sum(outcome = 'quota_exhausted') > 0 THEN 'quota_exhausted'
                       WHEN sum(outcome = 'rate_limited') > 0 THEN 'rate_limited'
                       WHEN sum(outcome = 'ok') > 0 THEN 'ok'
                       WHEN sum(outcome = 'not_found') > 0 THEN 'not_found'
                       ELSE 'not_configured'
                   END AS outcome,
                   (SELECT m.message FROM observations m
                    WHERE m.run_id = o.run_id AND m.source = o.source AND m.outcome != 'ok'
                    ORDER BY CASE m.outcome WHEN 'error' THEN 0 WHEN 'quota_exhausted' THEN 1
                             WHEN 'rate_limited' THEN 2 WHEN 'not_found' THEN 3 ELSE 4 END, m.id
                    LIMIT 1) AS message
            FROM observations o GROUP BY source, run_id
        )
        SELECT
            p.source,
            (SELECT outcome FROM per_run l WHERE l.source = p.source
             ORDER BY l.run_id DESC LIMIT 1) AS last_outcome,
            (SELECT message FROM per_run l WHERE l.source = p.source
             ORDER BY l.run_id DESC LIMIT 1) AS last_message,
            max(p.observed_at) AS last_observed_at,
            max(CASE WHEN p.failed = 0 THEN p.observed_at END) AS last_success_at,
            (SELECT count(*) FROM per_run f WHERE f.source = p.source AND f.failed = 1
               AND f.run_id > coalesce((SELECT max(g.run_id) FROM per_run g
                                        WHERE g.source = p.source AND g.failed = 0), 0)
            ) AS failure_streak,
            count(*) AS runs,
            sum(p.failed) AS failed_runs
        FROM per_run p GROUP BY p.source""",
    "citing_works": """
        SELECT
            w.doi, c.doi AS citing_doi, c.pmid AS citing_pmid, c.title, c.year,
            (SELECT group_concat(source, ',') FROM (
                SELECT cs.source FROM citation_sources cs
                WHERE cs.citation_id = e.id AND cs.gone_at IS NULL ORDER BY cs.source)
            ) AS sources,
            e.first_seen_at, e.is_self_citation, c.is_retracted, c.retracted_by,
            c.published, c.venue, c.preprint_doi, c.openalex_id, c.s2_id, c.pmcid,
            e.is_influential, e.intents, e.first_seen_run_id,
            e.id AS citation_id, c.id AS citer_id
        FROM citations e
        JOIN works w ON w.id = e.work_id
        JOIN citers c ON c.id = e.citer_id""",
    "new_citing_works": """
        SELECT * FROM citing_works
        WHERE first_seen_run_id = (SELECT max(id) FROM runs)""",
    "collection_works": """
        SELECT c.name AS collection, w.doi, m.first_seen_at, m.left_at, m.is_new,
               m.via, coalesce(m.title, w.label) AS title, w.tracked,
               m.first_seen_run_id, m.left_run_id, m.work_id, m.collection_id
        FROM collection_members m
        JOIN collections c ON c.id = m.collection_id
        JOIN works w ON w.id = m.work_id""",
    "collection_metrics": """
        SELECT c.name AS collection, s.run_id, s.works, s.citations, s.h_index, s.i10_index,
               s.citations_this_year, s.h5_index, s.fwci_mean, s.fwci_median,
               s.rcr_mean, s.rcr_median, s.top_10_percent_share, s.top_1_percent_share,
               s.open_access_share, s.not_indexed, s.computed_at, s.details,
               c.label, s.collection_id
        FROM collection_snapshots s JOIN collections c ON c.id = s.collection_id""",
}


def ensure(db: sqlite_utils.Database, temporary: bool = False) -> None:
    """Create each view, or replace it when its definition changed.

    ``temporary``: on a read-only connection, as TEMP views that shadow the file's
    older ones for this connection only.
    """
    with db.atomic():
        for name in outdated(db.conn):
            body = VIEWS[name]
            if temporary:
                db.execute(f"CREATE TEMP VIEW {name} AS{body}")
                continue
            db.execute(f"DROP VIEW IF EXISTS {name}")
            db.execute(f"CREATE VIEW {name} AS{body}")


def outdated(conn: sqlite3.Connection) -> list[str]:
    """The views the database lacks, or holds with another definition (an older version's)."""
    existing = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))
    return [name for name, body in VIEWS.items() if existing.get(name) != f"CREATE VIEW {name} AS{body}"]
