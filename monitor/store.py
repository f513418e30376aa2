"""The snapshot store: SQLite through sqlite-utils.

Tables: ``works``, ``runs``, ``observations`` (one row per work, source and run),
``responses`` (every HTTP exchange) and ``raw_bodies`` (response bodies, zlib-compressed
and addressed by their SHA-256, so an unchanged response costs no new space).
Views are what reports and people query; see docs/schema.md.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils import Migrations

from monitor import database
from monitor.models import Exchange, Observation, SourceReport, Work
from monitor.views import VIEWS  # noqa: F401 - store.VIEWS and store.ensure_views, as before

migrations = Migrations("citation-monitor")


def _script(db: sqlite_utils.Database, sql: str) -> None:
    """Run DDL statement by statement, inside the migration's transaction.

    (``executescript`` would commit first, so a crash could leave half a migration.)
    """
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    _script(
        db,
        """
        CREATE TABLE works (
            id INTEGER PRIMARY KEY,
            doi TEXT NOT NULL UNIQUE,
            label TEXT,
            pmid TEXT,
            pmid_source TEXT,
            added_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            summary TEXT
        );
        CREATE TABLE raw_bodies (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            compression TEXT NOT NULL,
            body BLOB
        );
        CREATE TABLE responses (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            source TEXT NOT NULL,
            method TEXT NOT NULL,
            url TEXT NOT NULL,
            status_code INTEGER NOT NULL,
            headers TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            elapsed_ms INTEGER,
            body_sha256 TEXT NOT NULL REFERENCES raw_bodies(sha256)
        );
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            work_id INTEGER NOT NULL REFERENCES works(id),
            source TEXT NOT NULL,
            observed_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN
                ('ok', 'not_found', 'rate_limited', 'quota_exhausted', 'not_configured', 'error')),
            message TEXT NOT NULL DEFAULT '',
            citations INTEGER CHECK (citations IS NULL OR outcome = 'ok'),
            metrics TEXT NOT NULL DEFAULT '{}',
            metadata TEXT NOT NULL DEFAULT '{}',
            response_id INTEGER REFERENCES responses(id),
            UNIQUE (run_id, work_id, source)
        );
        CREATE INDEX observations_by_work_source ON observations (work_id, source, observed_at);
        CREATE INDEX responses_by_run ON responses (run_id, source);

        """
    )


@migrations()
def m002_citing_works(db: sqlite_utils.Database) -> None:
    _script(
        db,
        """
        CREATE TABLE citers (
            id INTEGER PRIMARY KEY,
            doi TEXT UNIQUE,
            preprint_doi TEXT,
            pmid TEXT,
            pmcid TEXT,
            openalex_id TEXT,
            s2_id TEXT,
            title TEXT,
            norm_title TEXT,
            year INTEGER,
            published TEXT,
            venue TEXT,
            type TEXT,
            authors TEXT NOT NULL DEFAULT '[]',
            countries TEXT NOT NULL DEFAULT '[]',
            institutions TEXT NOT NULL DEFAULT '[]',
            fields TEXT NOT NULL DEFAULT '[]',
            is_retracted INTEGER,
            is_preprint INTEGER NOT NULL DEFAULT 0,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX citers_pmid ON citers (pmid);
        CREATE INDEX citers_preprint_doi ON citers (preprint_doi);
        CREATE INDEX citers_openalex_id ON citers (openalex_id);
        CREATE INDEX citers_s2_id ON citers (s2_id);
        CREATE INDEX citers_norm_title ON citers (norm_title);
        CREATE TABLE citations (
            id INTEGER PRIMARY KEY,
            work_id INTEGER NOT NULL REFERENCES works(id),
            citer_id INTEGER NOT NULL REFERENCES citers(id),
            first_seen_at TEXT NOT NULL,
            first_seen_run_id INTEGER NOT NULL REFERENCES runs(id),
            last_seen_at TEXT NOT NULL,
            is_self_citation INTEGER NOT NULL DEFAULT 0,
            is_influential INTEGER,
            contexts TEXT NOT NULL DEFAULT '[]',
            intents TEXT NOT NULL DEFAULT '[]',
            UNIQUE (work_id, citer_id)
        );
        CREATE TABLE citation_sources (
            citation_id INTEGER NOT NULL REFERENCES citations(id),
            source TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            first_seen_run_id INTEGER NOT NULL REFERENCES runs(id),
            last_seen_at TEXT NOT NULL,
            gone_at TEXT,
            author_sc INTEGER,
            journal_sc INTEGER,
            response_id INTEGER REFERENCES responses(id),
            PRIMARY KEY (citation_id, source)
        );
        CREATE TABLE citing_fetches (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            work_id INTEGER NOT NULL REFERENCES works(id),
            source TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            complete INTEGER NOT NULL,
            items INTEGER NOT NULL,
            count_at_fetch INTEGER
        );
        CREATE INDEX citing_fetches_by_work ON citing_fetches (work_id, source, id);
        """
    )


@migrations()
def m003_pruned_bodies(db: sqlite_utils.Database) -> None:
    """Retention: a pruned raw body keeps its row (hash, size) with ``body`` NULL."""
    db.execute("ALTER TABLE raw_bodies ADD COLUMN pruned_at TEXT")


@migrations()
def m004_alerts_and_email(db: sqlite_utils.Database) -> None:
    """Alerts raised after each run (view ``alerts``) and every email digest attempt."""
    _script(
        db,
        """
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            work_id INTEGER REFERENCES works(id),
            kind TEXT NOT NULL,
            source TEXT,
            message TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            key TEXT NOT NULL DEFAULT '',
            raised_at TEXT NOT NULL
        );
        CREATE INDEX alert_events_by_run ON alert_events (run_id);
        CREATE INDEX alert_events_by_key ON alert_events (kind, key);
        CREATE TABLE email_deliveries (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            first_run_id INTEGER NOT NULL,
            attempted_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
            policy TEXT NOT NULL,
            subject TEXT NOT NULL,
            recipients TEXT NOT NULL DEFAULT '[]',
            alerts INTEGER NOT NULL DEFAULT 0,
            message_id TEXT,
            error TEXT NOT NULL DEFAULT ''
        );
        """
    )


@migrations()
def m005_digest_items(db: sqlite_utils.Database) -> None:
    """What each digest carried (sent once), and when a citing work was last looked up."""
    _script(
        db,
        """
        CREATE TABLE digest_items (
            delivery_id INTEGER NOT NULL REFERENCES email_deliveries(id),
            work_id INTEGER REFERENCES works(id),
            alert_id INTEGER REFERENCES alert_events(id),
            citation_id INTEGER,
            shown INTEGER NOT NULL DEFAULT 1,
            CHECK ((alert_id IS NULL) != (citation_id IS NULL))
        );
        CREATE INDEX digest_items_by_delivery ON digest_items (delivery_id);
        ALTER TABLE citers ADD COLUMN looked_up_at TEXT
        """,
    )


@migrations()
def m006_collections(db: sqlite_utils.Database) -> None:
    """Collections (``[[collections]]``), their members over time, each resolution, the
    items they skipped, their metrics per run; works no longer tracked are marked."""
    _script(
        db,
        """
        ALTER TABLE works ADD COLUMN tracked INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE works ADD COLUMN untracked_at TEXT;
        CREATE TABLE collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            definition TEXT NOT NULL,
            label TEXT,
            display_name TEXT,
            added_at TEXT NOT NULL,
            defined_at TEXT NOT NULL,
            removed_at TEXT
        );
        CREATE TABLE collection_resolutions (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id),
            run_id INTEGER NOT NULL REFERENCES runs(id),
            definition TEXT NOT NULL,
            resolved_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN
                ('ok', 'not_found', 'rate_limited', 'quota_exhausted', 'not_configured', 'error')),
            message TEXT NOT NULL DEFAULT '',
            complete INTEGER NOT NULL,
            found INTEGER NOT NULL,
            skipped INTEGER NOT NULL,
            added INTEGER NOT NULL,
            removed INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            file_sha256 TEXT REFERENCES raw_bodies(sha256)
        );
        CREATE INDEX collection_resolutions_by_collection
            ON collection_resolutions (collection_id, id);
        CREATE TABLE collection_members (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id),
            work_id INTEGER NOT NULL REFERENCES works(id),
            first_seen_at TEXT NOT NULL,
            first_seen_run_id INTEGER NOT NULL REFERENCES runs(id),
            left_at TEXT,
            left_run_id INTEGER REFERENCES runs(id),
            is_new INTEGER NOT NULL,
            via TEXT NOT NULL DEFAULT '[]',
            title TEXT,
            aliases TEXT NOT NULL DEFAULT '[]',
            response_id INTEGER REFERENCES responses(id)
        );
        CREATE UNIQUE INDEX collection_members_current
            ON collection_members (collection_id, work_id) WHERE left_at IS NULL;
        CREATE INDEX collection_members_by_work ON collection_members (work_id);
        CREATE TABLE collection_skips (
            resolution_id INTEGER NOT NULL REFERENCES collection_resolutions(id),
            item TEXT NOT NULL,
            reason TEXT NOT NULL,
            title TEXT,
            pmid TEXT
        );
        CREATE INDEX collection_skips_by_resolution ON collection_skips (resolution_id);
        CREATE TABLE collection_snapshots (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id),
            run_id INTEGER NOT NULL REFERENCES runs(id),
            computed_at TEXT NOT NULL,
            works INTEGER NOT NULL, citations INTEGER, citations_this_year INTEGER,
            h_index INTEGER, i10_index INTEGER, h5_index INTEGER,
            fwci_mean REAL, fwci_median REAL, rcr_mean REAL, rcr_median REAL,
            top_10_percent_share REAL, top_1_percent_share REAL, open_access_share REAL,
            not_indexed INTEGER NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            UNIQUE (collection_id, run_id)
        )
        """
    )


@migrations()
def m007_ledger_events(db: sqlite_utils.Database) -> None:
    """The ledger's history: each change to a citing work, citation or listing (ledger_history)."""
    _script(
        db,
        """
        CREATE TABLE ledger_events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            work_id INTEGER,
            citer_id INTEGER NOT NULL,
            citation_id INTEGER,
            source TEXT,
            attribute TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT
        );
        CREATE INDEX ledger_events_by_work ON ledger_events (work_id, at);
        CREATE INDEX ledger_events_by_citer ON ledger_events (citer_id, at)
        """
    )


@migrations()
def m008_retracted_by(db: sqlite_utils.Database) -> None:
    """Which source said a citing work is retracted (``citers.is_retracted``)."""
    db.execute("ALTER TABLE citers ADD COLUMN retracted_by TEXT")


@migrations()
def m009_installation(db: sqlite_utils.Database) -> None:
    """One row that names this installation (the feed's ids are built on it, the same across
    runs, different between installations); and the alerts indexed by work, for the report."""
    db.execute("CREATE TABLE installation (id INTEGER PRIMARY KEY CHECK (id = 1), uuid TEXT NOT NULL, "
               "created_at TEXT NOT NULL)")
    first = db.execute("SELECT min(started_at) FROM runs").fetchone()[0]
    db.execute("INSERT INTO installation (id, uuid, created_at) VALUES (1, ?, ?)",
               [str(uuid.uuid4()), first or iso(datetime.now(UTC))])
    db.execute("CREATE INDEX alert_events_by_work ON alert_events (work_id, run_id)")


@migrations()
def m010_digest_audiences(db: sqlite_utils.Database) -> None:
    """A digest goes to an audience: ``[email] recipients`` (``collection_id`` NULL) or a
    collection's own; what a delivered digest carried is left out of that audience's later ones."""
    _script(
        db,
        """
        ALTER TABLE email_deliveries ADD COLUMN collection_id INTEGER REFERENCES collections(id);
        CREATE INDEX email_deliveries_by_audience ON email_deliveries (collection_id, status, id)
        """,
    )


def open_db(path: Path, *, check: bool = True) -> sqlite_utils.Database:
    """The database at ``path`` for writing (created, migrated): ``database.open_writable``."""
    return database.open_writable(path, migrations, check=check)


def open_reader(path: Path) -> sqlite_utils.Database:
    """The database at ``path`` only to read it: ``database.open_readable``."""
    return database.open_readable(path, migrations)


def check_ours(path: Path) -> list[str]:
    """The migrations the database at ``path`` still needs: ``database.check_ours``."""
    return database.check_ours(path, migrations)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


# --- writing -------------------------------------------------------------------


def sync_works(db: sqlite_utils.Database, works: Iterable[Work], now: datetime) -> dict[str, int]:
    """Make sure every configured work has a row; return doi → work id.

    A pmid from config wins over one learned from a source.
    """
    with db.atomic():
        for work in works:
            db.execute(
                "INSERT INTO works (doi, label, pmid, pmid_source, added_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (doi) DO UPDATE SET label = excluded.label, "
                "pmid = coalesce(excluded.pmid, works.pmid), "
                "pmid_source = CASE WHEN excluded.pmid IS NOT NULL THEN 'config' ELSE works.pmid_source END",
                [work.doi, work.label, work.pmid, "config" if work.pmid else None, iso(now)],
            )
    return {row["doi"]: row["id"] for row in db.query("SELECT id, doi FROM works")}


def tracked_works(db: sqlite_utils.Database, dois: Iterable[str]) -> list[Work]:
    """The works, with the pmid as stored (from config or learned from a source)."""
    rows = {r["doi"]: r for r in db.query("SELECT doi, label, pmid FROM works")}
    return [Work(doi=d, label=rows[d]["label"], pmid=rows[d]["pmid"]) for d in dois if d in rows]


def start_run(db: sqlite_utils.Database, now: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO runs (started_at, status) VALUES (?, 'running')", [iso(now)]
    )
    return int(cursor.lastrowid or 0)


def has_running_runs(path: Path) -> bool:
    """Whether the database at ``path`` has a run marked 'running' (a quick look, no write)."""
    with database.peeking(path) as conn:
        try:
            return conn.execute("SELECT 1 FROM runs WHERE status = 'running' LIMIT 1").fetchone() is not None
        except sqlite3.Error:  # no runs table yet, or damage: the run's own open says which
            return False


def close_abandoned_runs(db: sqlite_utils.Database) -> list[int]:
    """Mark 'interrupted' the runs still 'running': call only under the run lock, which no
    running run would have let us take, so their process is gone (killed, or the machine
    stopped). Their end is the last thing they stored. Returns their ids."""
    ids = [row["id"] for row in db.query("SELECT id FROM runs WHERE status = 'running'")]
    with db.atomic():
        for run_id in ids:
            db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = coalesce("
                "(SELECT max(observed_at) FROM observations WHERE run_id = runs.id), started_at) "
                "WHERE id = ?",
                [run_id],
            )
    return ids


def finish_run(
    db: sqlite_utils.Database, run_id: int, now: datetime, status: str, exit_code: int, summary: dict[str, Any]
) -> None:
    db.execute(
        "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE id = ?",
        [iso(now), status, exit_code, json.dumps(summary, sort_keys=True), run_id],
    )


def save_source(
    db: sqlite_utils.Database, run_id: int, work_ids: dict[str, int], report: SourceReport, now: datetime
) -> dict[int, int]:
    """Store one source's exchanges and observations for a run, all or nothing.

    Returns id(exchange) → responses.id, for rows that point at their response.
    """
    with db.atomic():
        response_ids = {id(ex): save_exchange(db, run_id, ex) for ex in report.exchanges}
        for obs in report.observations:
            if obs.exchange is not None and id(obs.exchange) not in response_ids:
                response_ids[id(obs.exchange)] = save_exchange(db, run_id, obs.exchange)
            save_observation(db, run_id, work_ids[obs.doi], obs, now, response_ids)
            learn_pmid(db, work_ids[obs.doi], obs)
    return response_ids


def save_body(db: sqlite_utils.Database, body: bytes) -> str:
    """Keep a body once, by its SHA-256 (a pruned copy is restored); return the hash."""
    digest = hashlib.sha256(body).hexdigest()
    db.execute(
        "INSERT INTO raw_bodies (sha256, size, compression, body) VALUES (?, ?, 'zlib', ?) "
        "ON CONFLICT (sha256) DO UPDATE SET body = excluded.body, "
        "compression = excluded.compression, pruned_at = NULL WHERE raw_bodies.body IS NULL",
        [digest, len(body), zlib.compress(body, 6)],
    )
    return digest


def save_exchange(db: sqlite_utils.Database, run_id: int, exchange: Exchange) -> int:
    digest = save_body(db, exchange.body)
    cursor = db.execute(
        "INSERT INTO responses (run_id, source, method, url, status_code, headers, fetched_at, "
        "elapsed_ms, body_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            exchange.source,
            exchange.method,
            exchange.url,
            exchange.status_code,
            json.dumps(exchange.headers, sort_keys=True),
            iso(exchange.fetched_at),
            exchange.elapsed_ms,
            digest,
        ],
    )
    return int(cursor.lastrowid or 0)


def save_observation(
    db: sqlite_utils.Database,
    run_id: int,
    work_id: int,
    obs: Observation,
    now: datetime,
    response_ids: dict[int, int],
) -> None:
    db.execute(
        "INSERT INTO observations (run_id, work_id, source, observed_at, outcome, message, "
        "citations, metrics, metadata, response_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            work_id,
            obs.source,
            iso(obs.exchange.fetched_at if obs.exchange else now),
            obs.outcome.value,
            obs.message,
            obs.citations,
            json.dumps(obs.metrics, sort_keys=True),
            json.dumps(obs.metadata, sort_keys=True),
            response_ids.get(id(obs.exchange)) if obs.exchange else None,
        ],
    )


def learn_pmid(db: sqlite_utils.Database, work_id: int, obs: Observation) -> None:
    """Keep a PMID a source resolved for the work, unless one is already known."""
    pmid = obs.metadata.get("pmid")
    if obs.outcome.value == "ok" and isinstance(pmid, str) and pmid.isdigit():
        db.execute(
            "UPDATE works SET pmid = ?, pmid_source = ? WHERE id = ? AND pmid IS NULL",
            [pmid, obs.source, work_id],
        )


# --- reading -------------------------------------------------------------------


def raw_body(db: sqlite_utils.Database, sha256: str) -> bytes:
    row = next(db.query("SELECT compression, body FROM raw_bodies WHERE sha256 = ?", [sha256]), None)
    if row is None or row["body"] is None:
        raise KeyError(sha256)
    return zlib.decompress(row["body"]) if row["compression"] == "zlib" else bytes(row["body"])


def observation_history(
    db: sqlite_utils.Database, doi: str, as_of: str | None = None
) -> list[dict[str, Any]]:
    """One work's observations up to ``as_of`` (ISO time, inclusive), oldest first.

    ``pruned_at`` is set only where the raw body had been pruned by then.
    """
    rows = db.query(
        "SELECT w.doi, o.*, r.body_sha256, r.url AS response_url, "
        "CASE WHEN ? IS NULL OR b.pruned_at <= ? THEN b.pruned_at END AS pruned_at "  # not yet, as of then
        "FROM observations o JOIN works w ON w.id = o.work_id "
        "LEFT JOIN responses r ON r.id = o.response_id LEFT JOIN raw_bodies b ON b.sha256 = r.body_sha256 "
        "WHERE w.doi = ? AND (? IS NULL OR o.observed_at <= ?) ORDER BY o.observed_at, o.id",
        [as_of, as_of, doi, as_of, as_of],
    )
    return [
        {**row, "metrics": json.loads(row["metrics"]), "metadata": json.loads(row["metadata"])}
        for row in rows
    ]


def latest_run(db: sqlite_utils.Database, as_of: str | None = None) -> dict[str, Any] | None:
    row = next(
        db.query(
            "SELECT * FROM runs WHERE (? IS NULL OR started_at <= ?) ORDER BY id DESC LIMIT 1",
            [as_of, as_of],
        ),
        None,
    )
    if row and row["summary"]:
        row["summary"] = json.loads(row["summary"])
    return row


def previous_run(db: sqlite_utils.Database, run_id: int) -> dict[str, Any] | None:
    """The run before ``run_id``, if any."""
    return next(db.query("SELECT * FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1", [run_id]), None)


def latest_metadata(
    db: sqlite_utils.Database, doi: str, as_of: str | None = None
) -> dict[str, dict[str, Any]]:
    """source → the metadata of its latest ok observation of a work."""
    rows = db.query(
        "SELECT o.source, o.metadata FROM observations o JOIN works w ON w.id = o.work_id "
        "WHERE w.doi = ? AND o.outcome = 'ok' AND (? IS NULL OR o.observed_at <= ?) "
        "ORDER BY o.observed_at, o.id",
        [doi, as_of, as_of],
    )
    return {row["source"]: json.loads(row["metadata"]) for row in rows}


def work_authors(db: sqlite_utils.Database, doi: str) -> list[dict[str, Any]]:
    """The tracked work's authors, from whichever source describes them best."""
    from monitor.metadata import merge

    record, _ = merge(latest_metadata(db, doi))
    return list(record.get("authors") or [])


def works_rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM works ORDER BY id"))


def source_health(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {row["source"]: row for row in db.query("SELECT * FROM source_health")}


def provenance(db: sqlite_utils.Database, observation_id: int) -> dict[str, Any] | None:
    """An observation with the request it came from (URL, status, time, body hash)."""
    return next(
        db.query(
            "SELECT o.*, w.doi, r.url, r.status_code, r.fetched_at, r.body_sha256 "
            "FROM observations o JOIN works w ON w.id = o.work_id "
            "LEFT JOIN responses r ON r.id = o.response_id WHERE o.id = ?",
            [observation_id],
        ),
        None,
    )


def run_alerts(db: sqlite_utils.Database, run_id: int) -> list[dict[str, Any]]:
    """The alerts one run raised, for the report."""
    return list(db.query("SELECT * FROM alerts WHERE run_id = ? ORDER BY id", [run_id]))
