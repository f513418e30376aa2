"""`kill -9` at random moments of `run`, `report` and `backup`, on one database that lives on.

After each kill: SQLite's integrity check passes, no committed row is lost, the lock is
free, the next command cleans up after the killed one (a `running` row becomes
`interrupted`, a partial backup goes) and succeeds. The moment of each kill is drawn
afresh every time the suite runs, within the span a full, unkilled command takes on this
machine. KILL_TRIALS (default 4) sets the trials per command; `KILL_TRIALS=20 pytest
tests/test_kill.py` runs 60.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, alive, assert_lock_free, children, clean_env, wait_for

TRIALS = int(os.environ.get("KILL_TRIALS", "4"))
SOURCES = ("openalex", "crossref", "semanticscholar", "opencitations", "europepmc", "icite")
TABLES = (
    "works", "runs", "observations", "responses", "raw_bodies", "citers", "citations",
    "citation_sources", "citing_fetches", "alert_events", "ledger_events",
)


@pytest.fixture
def config(write_config, invoke, fake_api):
    works = ["10.1016/j.drup.2021.100752", "10.9999/unknown.1", "10.9999/unknown.2"]
    path = write_config(works=works, only=SOURCES)
    assert invoke("run", "--config", str(path)).exit_code == 0
    return path


def slow(fake_api) -> None:
    """Each source answers a little later than the one before: writes spread over the run."""
    for i, source in enumerate(SOURCES):
        fake_api.inject(source, delay=0.05 * (i + 1), times=None)


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def check_database(db: Path, before: dict[str, int], moment: str) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)], moment
    finally:
        conn.close()
    after = counts(db)
    lost = {t: (before[t], after[t]) for t in TABLES if after[t] < before[t]}
    assert not lost, f"rows lost after a kill {moment}: {lost}"
    assert_lock_free(db)
    return after


def start(args: list[str], config: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args, "--config", str(config)],
        cwd=ROOT, env={**clean_env(), **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def full_length(args: list[str], config: Path, started: callable, env: dict[str, str] | None = None) -> float:
    """How long the command takes, unkilled, from the moment ``started()`` turns true."""
    proc = start(args, config, env)
    wait_for(lambda: started() or proc.poll() is not None, timeout=60)
    begin = time.monotonic()
    assert proc.wait(timeout=120) == 0
    return time.monotonic() - begin


def kill_at_random(
    args: list[str], config: Path, started: callable, span: float, env: dict[str, str] | None = None
) -> str:
    """Start the command, kill -9 it at a random moment of ``span`` after ``started()``;
    wait until the processes it started (a writer) are gone too."""
    delay = random.uniform(0, span)
    proc = start(args, config, env)
    wait_for(lambda: started() or proc.poll() is not None, timeout=60)
    time.sleep(delay)
    helpers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    moment = f"{delay:.3f} s into `{args[0]}` ({'killed' if proc.returncode == -9 else 'had finished'})"
    print(moment)  # pytest -s shows every trial
    wait_for(lambda: not any(alive(pid) for pid in helpers), timeout=30)
    return moment


@pytest.mark.parametrize("choice", ["thread", "process"], ids=["stored-in-thread", "writer-process"])
def test_kill_9_during_run(config, fake_api, invoke, tmp_path, choice):
    db = tmp_path / "state/monitor.db"
    env = {"CITATION_MONITOR_WRITER": choice}
    asked = functools.partial(lambda n: len(fake_api.requests) > n, len(fake_api.requests))
    slow(fake_api)
    span = full_length(["run"], config, lambda: asked(), env)
    for _ in range(TRIALS):
        before = counts(db)
        slow(fake_api)
        moment = kill_at_random(["run"], config, functools.partial(
            lambda n: len(fake_api.requests) > n, len(fake_api.requests)), span, env)
        after = check_database(db, before, moment)
        fake_api.faults.clear()
        result = invoke("run", "--config", str(config))
        assert result.exit_code == 0, f"{moment}: {result.output}"
        conn = sqlite3.connect(db)
        statuses = [s for (s,) in conn.execute("select status from runs where id > ?", [before["runs"]])]
        conn.close()
        # the killed run (if it got as far as its row) is interrupted now; the next one ok
        assert statuses in (["ok"], ["interrupted", "ok"], ["ok", "ok"]), f"{moment}: {statuses}"
        assert after["runs"] >= before["runs"]


def test_kill_9_during_report(config, invoke, tmp_path):
    db = tmp_path / "state/monitor.db"
    report = tmp_path / "state/report"
    span = full_length(["report"], config, lambda: True)
    for _ in range(TRIALS):
        before = counts(db)
        moment = kill_at_random(["report"], config, lambda: True, span)
        check_database(db, before, moment)
        assert counts(db) == before  # a report writes nothing to the database
        result = invoke("report", "--config", str(config))
        assert result.exit_code == 0, f"{moment}: {result.output}"
        assert (report / "index.html").exists() and (report / "report.json").exists()
    # The report's own temporary files are report.py's (issue 10 replaces the site as a whole):
    # counted here for the record, not judged.
    print(f"report temporary files left by {TRIALS} killed reports: {len(list(report.rglob('.*.tmp')))}")


def test_kill_9_during_backup(config, invoke, tmp_path):
    db = tmp_path / "state/monitor.db"
    conn = sqlite3.connect(db)  # a database big enough for a kill to land inside the copy
    conn.execute("create table filler (x blob)")
    conn.executemany("insert into filler values (randomblob(65536))", [()] * 300)
    conn.commit()
    conn.close()
    backups = tmp_path / "backups"
    target = backups / "monitor.db"
    args = ["backup", str(target), "--force"]
    span = full_length(args, config, lambda: True)
    for _ in range(TRIALS):
        before = counts(db)
        moment = kill_at_random(args, config, lambda: True, span)
        check_database(db, before, moment)
        result = invoke(*args, "--config", str(config))  # the next backup sweeps what was left
        assert result.exit_code == 0, f"{moment}: {result.output}"
        assert {p.name for p in backups.iterdir()} == {"monitor.db"}, moment
        copy = sqlite3.connect(target)
        try:
            assert copy.execute("pragma integrity_check").fetchall() == [("ok",)]
            assert copy.execute("select count(*) from observations").fetchone()[0] == before["observations"]
        finally:
            copy.close()
