"""A populated snapshot database, for the tests of the database as a product.

``populate`` makes one the way a user gets one: an earlier run written through
the store (two days ago, so there is history), then `citation-monitor run`
against the fake with Dimensions failing (the sources that list citing works
fill the ledger).

``snapshot_config`` makes that database once per test session and gives each test
its own copy: tests that read it, or write to it, stay independent and fast.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import store
from monitor.fetching import utcnow
from monitor.models import Exchange, Observation, Outcome, SourceReport, Work
from tests.conftest import DEFAULT_DOI

EARLIER = {"openalex": 20, "crossref": 18}


def database_of(config: Path) -> Path:
    return config.parent / "state" / "monitor.db"


def snapshot_config(
    write_config: Callable[..., Path],
    invoke: Callable[..., Any],
    fake_api: Any,
    tmp_path_factory: Any,
) -> Path:
    """A config (pointing at the fake) whose database is a copy of the populated one."""
    template = tmp_path_factory.getbasetemp() / "populated-snapshot" / "monitor.db"
    if not template.exists():
        config = populate(write_config, invoke, fake_api)
        template.parent.mkdir(exist_ok=True)
        copy_database(database_of(config), template)
        return config
    config = write_config()
    database_of(config).parent.mkdir(parents=True, exist_ok=True)
    copy_database(template, database_of(config))
    return config


def copy_database(source: Path, destination: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def populate(write_config: Callable[..., Path], invoke: Callable[..., Any], fake_api: Any) -> Path:
    """Returns the config path; the database is ``<config folder>/state/monitor.db``."""
    # a collection, so the collection tables and views have rows: the default article, and a
    # line that is no DOI (a skipped item)
    config = write_config(extra='\n[[collections]]\nname = "lab"\nfile = "works.txt"\n')
    (config.parent / "works.txt").write_text(f"{DEFAULT_DOI}\nnot-a-doi\n")
    earlier_run(database_of(config), utcnow() - timedelta(days=2))
    fake_api.inject("dimensions", status=500, times=None)
    result = invoke("run", "--config", str(config), "--no-report")
    assert result.exit_code == 1, result.output  # Dimensions failed, the rest answered
    return config


def earlier_run(database: Path, when: datetime) -> None:
    db = store.open_db(database)
    try:
        ids = store.sync_works(db, [Work(DEFAULT_DOI)], when)
        run_id = store.start_run(db, when)
        for source, count in EARLIER.items():
            exchange = Exchange(
                source,
                "GET",
                f"https://example.org/{source}",
                200,
                {},
                f'{{"count": {count}}}'.encode(),
                when,
                12,
            )
            obs = Observation(DEFAULT_DOI, source, Outcome.OK, citations=count, exchange=exchange)
            store.save_source(db, run_id, ids, SourceReport(source, (obs,), (exchange,)), when)
        store.finish_run(db, run_id, when, "ok", 0, {})
    finally:
        db.close()
