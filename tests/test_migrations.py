"""A database made by the first schema upgrades in place and loses no row."""

from __future__ import annotations

import json
import zlib

import sqlite_utils

from monitor import store

# The views as the first release (commit 844fc60) created them inside m001_initial;
# the current m001 leaves views to views.ensure.
V1_VIEWS = """
CREATE VIEW latest_counts AS
SELECT
    w.doi, o.source, o.outcome, o.citations, o.observed_at, o.message,
    o.run_id, o.id AS observation_id, o.response_id,
    (SELECT ok.citations FROM observations ok
     WHERE ok.work_id = o.work_id AND ok.source = o.source AND ok.outcome = 'ok'
     ORDER BY ok.observed_at DESC, ok.id DESC LIMIT 1) AS last_ok_citations,
    (SELECT ok.observed_at FROM observations ok
     WHERE ok.work_id = o.work_id AND ok.source = o.source AND ok.outcome = 'ok'
     ORDER BY ok.observed_at DESC, ok.id DESC LIMIT 1) AS last_ok_at
FROM observations o JOIN works w ON w.id = o.work_id
WHERE o.id = (
    SELECT latest.id FROM observations latest
    WHERE latest.work_id = o.work_id AND latest.source = o.source
    ORDER BY latest.observed_at DESC, latest.id DESC LIMIT 1
);

CREATE VIEW count_history AS
SELECT w.doi, o.source, substr(o.observed_at, 1, 10) AS day,
       o.citations, max(o.observed_at) AS observed_at, o.id AS observation_id
FROM observations o JOIN works w ON w.id = o.work_id
WHERE o.outcome = 'ok'
GROUP BY w.doi, o.source, day;
"""
V1_TABLES = ("works", "runs", "raw_bodies", "responses", "observations")


def make_v1_database(path) -> dict[str, list[dict]]:
    """Schema m001 only, rows written as version-1 code wrote them; returns every row."""
    db = sqlite_utils.Database(path)
    db.enable_wal()
    store.migrations.apply(db, stop_before="m002_citing_works")
    db.executescript(V1_VIEWS)
    db.execute(
        "INSERT INTO works (id, doi, label, pmid, pmid_source, added_at) VALUES "
        "(1, '10.1016/j.drup.2021.100752', 'Jiang et al. 2021', '33930000', 'openalex', "
        "'2026-10-01T06:00:00.000000+00:00'), "
        "(2, '10.1/b', NULL, NULL, NULL, '2026-10-01T06:00:00.000000+00:00')"
    )
    for run, day in ((1, "2026-10-01"), (2, "2026-10-02")):
        db.execute(
            "INSERT INTO runs (id, started_at, finished_at, status, exit_code, summary) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                run,
                f"{day}T06:00:00.000000+00:00",
                f"{day}T06:00:09.000000+00:00",
                "ok" if run == 1 else "failed",
                0 if run == 1 else 1,
                json.dumps({"openalex": {"outcome": "ok", "message": ""}}),
            ],
        )
        for work in (1, 2):
            body = json.dumps({"run": run, "work": work}).encode()
            digest = f"{run}{work}".ljust(64, "0")
            db.execute(
                "INSERT INTO raw_bodies (sha256, size, compression, body) VALUES (?, ?, 'zlib', ?)",
                [digest, len(body), zlib.compress(body)],
            )
            response = db.execute(
                "INSERT INTO responses (run_id, source, method, url, status_code, headers, "
                "fetched_at, elapsed_ms, body_sha256) VALUES (?, 'openalex', 'GET', ?, 200, '{}', ?, 40, ?)",
                [
                    run,
                    # a URL as version 1 stored it: data only, no request (tests point base_url at the fake)
                    f"https://api.openalex.org/works?filter=doi:{work}",
                    f"{day}T06:00:0{work}.000000+00:00",
                    digest,
                ],
            ).lastrowid
            ok = not (run == 2 and work == 2)
            db.execute(
                "INSERT INTO observations (run_id, work_id, source, observed_at, outcome, message, "
                "citations, metrics, metadata, response_id) VALUES (?, ?, 'openalex', ?, ?, ?, ?, ?, ?, ?)",
                [
                    run,
                    work,
                    f"{day}T06:00:0{work}.000000+00:00",
                    "ok" if ok else "error",
                    "" if ok else "HTTP 500",
                    10 * run + work if ok else None,
                    json.dumps({"fwci": 1.5}),
                    json.dumps({"title": "T"}),
                    response,
                ],
            )
    rows = {table: list(db.query(f"SELECT * FROM {table} ORDER BY rowid")) for table in V1_TABLES}
    db.close()
    return rows


def test_a_first_schema_database_upgrades_in_place_without_losing_a_row(tmp_path):
    path = tmp_path / "monitor.db"
    before = make_v1_database(path)

    db = store.open_db(path)
    try:
        applied = [m.name for m in store.migrations.applied(db)]
        assert applied[:3] == ["m001_initial", "m002_citing_works", "m003_pruned_bodies"]
        assert not store.migrations.pending(db)
        views = {
            r["name"]: r["sql"] for r in db.query("SELECT * FROM sqlite_master WHERE type = 'view'")
        }
        for name, body in store.VIEWS.items():  # the first release's views were replaced
            assert views[name] == f"CREATE VIEW {name} AS{body}"
        for table, rows in before.items():
            # observations keep every row; their metrics and metadata moved to payloads
            # (m011), read back through the view observation_details
            source = "observation_details" if table == "observations" else table
            after = list(db.query(f"SELECT * FROM {source} ORDER BY id" if source != table
                                  else f"SELECT * FROM {table} ORDER BY rowid"))
            if table == "raw_bodies":  # gained pruned_at, NULL for every old body
                assert all(r.pop("pruned_at") is None for r in after)
            if table == "works":  # gained tracked (every old work is), untracked_at, counts_moved_at
                assert all((r.pop("tracked"), r.pop("untracked_at")) == (1, None) for r in after)
                assert all(r.pop("counts_moved_at") is None for r in after)
            if table == "observations":  # gained metadata_from (m013): NULL, each its own answer's
                assert all(r.pop("metadata_from") is None for r in after)
            assert after == rows, table
        assert store.raw_body(db, "11".ljust(64, "0")) == b'{"run": 1, "work": 1}'
        # four observations said the same metrics and the same metadata: each is kept once
        assert [r["body"] for r in db.query("SELECT body FROM payloads ORDER BY id")] == [
            '{"fwci": 1.5}', '{"title": "T"}']

        latest = {r["doi"]: r for r in db.query("SELECT * FROM latest_counts")}
        assert latest["10.1/b"]["outcome"] == "error"
        assert latest["10.1/b"]["last_ok_citations"] == 12
        history = list(db.query("SELECT doi, day, citations FROM count_history ORDER BY doi, day"))
        assert history == [
            {"doi": "10.1/b", "day": "2026-10-01", "citations": 12},
            {"doi": "10.1016/j.drup.2021.100752", "day": "2026-10-01", "citations": 11},
            {"doi": "10.1016/j.drup.2021.100752", "day": "2026-10-02", "citations": 21},
        ]
        [health] = db.query("SELECT * FROM source_health")
        assert (health["source"], health["failure_streak"], health["runs"]) == ("openalex", 1, 2)
        assert list(db.query("SELECT * FROM citing_works")) == []
        assert {"citers", "citations", "citation_sources", "citing_fetches"} <= set(
            db.table_names()
        )
    finally:
        db.close()

    # Opening again changes nothing.
    again = store.open_db(path)
    try:
        assert again["observations"].count == 4
        assert len(list(again.query("SELECT * FROM _sqlite_migrations"))) == len(applied)
    finally:
        again.close()
