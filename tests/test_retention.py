"""Retention: old raw bodies go, their hashes and every value read from them stay."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from monitor import retention, store
from monitor.models import Exchange, Observation, Outcome, SourceReport, Work
from tests.snapshot_db import EARLIER, database_of, snapshot_config

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
DOI = "10.1/a"


@pytest.fixture
def db(tmp_path):
    database = store.open_db(tmp_path / "monitor.db")
    store.sync_works(database, [Work(DOI)], NOW - timedelta(days=100))
    yield database
    database.close()


def fetch(db, body: bytes, when: datetime, citations: int = 1) -> int:
    """One run in which crossref answered ``body``; returns the observation id."""
    run = store.start_run(db, when)
    exchange = Exchange("crossref", "GET", "https://api.example.org/works", 200, {}, body, when, 5)
    obs = Observation(
        DOI,
        "crossref",
        Outcome.OK,
        citations=citations,
        metrics={"n": citations},
        exchange=exchange,
    )
    store.save_source(db, run, {DOI: 1}, SourceReport("crossref", (obs,), (exchange,)), when)
    return next(db.query("SELECT max(id) AS id FROM observations"))["id"]


def sha(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


def test_prune_drops_old_bodies_and_keeps_hashes_and_values(db):
    fetch(db, b'{"old": 1}', NOW - timedelta(days=40), citations=3)
    fetch(db, b'{"new": 1}', NOW - timedelta(days=2), citations=5)
    observations = list(db.query("SELECT * FROM observations ORDER BY id"))
    responses = list(db.query("SELECT * FROM responses ORDER BY id"))

    result = retention.prune(db, timedelta(days=30), NOW)

    assert (result.bodies, result.responses) == (1, 1)
    assert result.cutoff.startswith("2026-10-21")
    assert result.stored_bytes > 0
    old = next(db.query("SELECT * FROM raw_bodies WHERE sha256 = ?", [sha(b'{"old": 1}')]))
    assert old["body"] is None and old["size"] == len(b'{"old": 1}')
    assert old["pruned_at"] == store.iso(NOW)
    assert retention.pruned_at(db, sha(b'{"old": 1}')) == store.iso(NOW)
    assert retention.pruned_at(db, sha(b'{"new": 1}')) is None
    assert store.raw_body(db, sha(b'{"new": 1}')) == b'{"new": 1}'
    with pytest.raises(KeyError):
        store.raw_body(db, sha(b'{"old": 1}'))
    # nothing read from the body was lost
    assert list(db.query("SELECT * FROM observations ORDER BY id")) == observations
    assert list(db.query("SELECT * FROM responses ORDER BY id")) == responses
    assert [r["citations"] for r in db.query("SELECT citations FROM count_history")] == [3, 5]


def test_a_body_a_recent_response_still_points_at_is_kept(db):
    fetch(db, b'{"same": true}', NOW - timedelta(days=90))
    fetch(db, b'{"same": true}', NOW - timedelta(days=1))
    assert retention.prune(db, timedelta(days=30), NOW).bodies == 0
    assert store.raw_body(db, sha(b'{"same": true}')) == b'{"same": true}'


def test_dry_run_counts_and_changes_nothing(db):
    fetch(db, b'{"old": 1}', NOW - timedelta(days=40))
    result = retention.prune(db, timedelta(days=30), NOW, dry_run=True)
    assert result.bodies == 1
    assert store.raw_body(db, sha(b'{"old": 1}')) == b'{"old": 1}'


def test_a_pruned_body_fetched_again_is_stored_again(db):
    fetch(db, b'{"back": 1}', NOW - timedelta(days=40))
    retention.prune(db, timedelta(days=30), NOW)
    fetch(db, b'{"back": 1}', NOW)
    assert store.raw_body(db, sha(b'{"back": 1}')) == b'{"back": 1}'
    assert retention.pruned_at(db, sha(b'{"back": 1}')) is None
    assert db["raw_bodies"].count == 1


@pytest.fixture
def config(write_config, invoke, fake_api, tmp_path_factory):
    return snapshot_config(write_config, invoke, fake_api, tmp_path_factory)


def test_prune_command_and_provenance_after_it(config, invoke):
    conn = sqlite3.connect(database_of(config))
    [(old_id,)] = conn.execute(
        "SELECT o.id FROM observations o JOIN runs r ON r.id = o.run_id "
        "WHERE o.source = 'openalex' AND r.id = (SELECT min(id) FROM runs)"
    ).fetchall()
    [(new_id,)] = conn.execute(
        "SELECT id FROM observations WHERE source = 'openalex' ORDER BY id DESC LIMIT 1"
    ).fetchall()
    conn.close()

    dry = invoke("prune", "--older-than", "1", "--dry-run", "--config", str(config))
    assert dry.exit_code == 0, dry.output
    old_bodies = len(EARLIER)  # the earlier run's responses, one per source, two days old
    assert dry.output.startswith(f"would prune {old_bodies} raw bodies")

    result = invoke("prune", "--older-than", "1", "--vacuum", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"pruned {old_bodies} raw bodies (")
    assert "hashes and extracted values are kept" in result.output

    old = invoke("provenance", str(old_id), "--config", str(config))
    assert old.exit_code == 0, old.output
    assert "body sha256: " in old.output
    today = datetime.now(UTC).date().isoformat()
    assert f"raw response pruned on {today}; the values read from it are kept" in old.output
    assert f"citations: {EARLIER['openalex']}" in old.output

    new = invoke("provenance", str(new_id), "--config", str(config))
    assert new.exit_code == 0 and "pruned" not in new.output
    assert '"cited_by_count"' in new.output


def test_prune_needs_a_positive_number_of_days(config, invoke):
    result = invoke("prune", "--older-than", "0", "--config", str(config))
    assert result.exit_code == 2
    assert "--older-than" in result.output
