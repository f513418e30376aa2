"""The schema of the snapshot store, as ``sqlite_utils.Migrations`` steps (docs/schema.md).

An old database upgrades in place: each step runs once, in order, inside a transaction,
and is recorded in ``_sqlite_migrations``. Never edit a step that has shipped; add one.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import sqlite_utils
from sqlite_utils import Migrations

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
               [str(uuid.uuid4()), first or datetime.now(UTC).isoformat(timespec="microseconds")])
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


@migrations()
def m011_observation_payloads(db: sqlite_utils.Database) -> None:
    """Metrics and metadata kept once each, in ``payloads`` (by their SHA-256), and
    referenced by the observations that said them, so an unchanged answer adds a small
    row instead of its JSON again. Observations are one row per work, source and run as
    before, every old row kept; looked up by work and source, and by run."""
    db.conn.create_function("payload_sha256", 1, payload_sha256, deterministic=True)
    for (view,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
        db.execute(f"DROP VIEW {view}")  # recreated after the migrations (views.ensure)
    _script(
        db,
        """
        CREATE TABLE payloads (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL
        );
        INSERT OR IGNORE INTO payloads (sha256, body)
            SELECT payload_sha256(metrics), metrics FROM observations WHERE metrics NOT IN ('', '{}');
        INSERT OR IGNORE INTO payloads (sha256, body)
            SELECT payload_sha256(metadata), metadata FROM observations WHERE metadata NOT IN ('', '{}');
        CREATE TABLE observations_slim (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            work_id INTEGER NOT NULL REFERENCES works(id),
            source TEXT NOT NULL,
            observed_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN
                ('ok', 'not_found', 'rate_limited', 'quota_exhausted', 'not_configured', 'error')),
            message TEXT NOT NULL DEFAULT '',
            citations INTEGER CHECK (citations IS NULL OR outcome = 'ok'),
            metrics_id INTEGER REFERENCES payloads(id),
            metadata_id INTEGER REFERENCES payloads(id),
            response_id INTEGER REFERENCES responses(id),
            UNIQUE (work_id, source, run_id)
        );
        INSERT INTO observations_slim (id, run_id, work_id, source, observed_at, outcome, message,
                                       citations, metrics_id, metadata_id, response_id)
            SELECT o.id, o.run_id, o.work_id, o.source, o.observed_at, o.outcome, o.message,
                   o.citations,
                   (SELECT p.id FROM payloads p WHERE p.sha256 = payload_sha256(o.metrics)),
                   (SELECT p.id FROM payloads p WHERE p.sha256 = payload_sha256(o.metadata)),
                   o.response_id
            FROM observations o ORDER BY o.id;
        DROP TABLE observations;
        ALTER TABLE observations_slim RENAME TO observations;
        CREATE INDEX observations_by_run ON observations (run_id)
        """,
    )


def payload_sha256(text: str) -> str:
    """The address of a payload: the SHA-256 of its JSON text (keys sorted), in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@migrations()
def m012_counts_moved_at(db: sqlite_utils.Database) -> None:
    """When a batched source's count of a work last changed: the refresh policy asks the
    per-work sources about it again then (monitor/plan.py)."""
    db.execute("ALTER TABLE works ADD COLUMN counts_moved_at TEXT")


@migrations()
def m013_metadata_from(db: sqlite_utils.Database) -> None:
    """Which observation's answer a brief answer's metadata was carried from (NULL: its own):
    a source asked briefly between whole records ([sources.NAME] metadata_days) keeps the
    fields it was not asked for from its last whole record (store.carry_metadata)."""
    db.execute("ALTER TABLE observations ADD COLUMN metadata_from INTEGER REFERENCES observations(id)")


@migrations()
def m014_citers_first_seen_run(db: sqlite_utils.Database) -> None:
    """The run that added each citing work (NULL for those added before this column), as
    ``citations`` and ``citation_sources`` have: what that run fills in or corrects in a row
    it added is part of adding it, not an event (``ledger_history.record_changes``)."""
    db.execute("ALTER TABLE citers ADD COLUMN first_seen_run_id INTEGER REFERENCES runs(id)")
