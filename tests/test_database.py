"""The database file as users meet it: read-only, WAL-less, another application's, newer,
damaged, on a full disk. One line and an exit code each; the file never changed."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import store, views
from tests.conftest import DEFAULT_DOI, ROOT, tmpfs
from tests.fakeapi.routes import crossref as fake_crossref
from tests.fakeapi.routes import openalex as fake_openalex
from tests.snapshot_db import database_of, snapshot_config

# Every command that opens the database, with arguments that need one.
COMMANDS = {
    "run": ["run"],
    "report": ["report"],
    "sources": ["sources"],
    "prune": ["prune", "--older-than", "30"],
    "email": ["email", "--dry-run"],
    "query": ["query", "select count(*) from observations"],
    "export": ["export", "--format", "csv"],
    "history": ["history", DEFAULT_DOI],
    "backup": ["backup", "BACKUP"],
    "provenance": ["provenance", "1"],
}
READERS = ("query", "export", "history", "report", "sources", "provenance")


@pytest.fixture
def config(write_config, invoke, fake_api, tmp_path_factory):
    """A config whose database holds a run (the fake's answers)."""
    return snapshot_config(write_config, invoke, fake_api, tmp_path_factory)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def command(name: str, config: Path) -> list[str]:
    args = [str(config.parent / "backup.db") if a == "BACKUP" else a for a in COMMANDS[name]]
    return [*args, "--config", str(config)]


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def no_traceback_logged(caplog) -> bool:
    return not any(r.exc_info for r in caplog.records)


def with_email(config: Path) -> Path:
    """The config with [email] on, pointing at a port nobody listens on."""
    config.write_text(config.read_text() + '[email]\nenabled = true\nsmtp_host = "127.0.0.1"\n'
                      'smtp_port = 9\nsender = "m@example.org"\nrecipients = ["y@example.org"]\n')
    return config


def sibling_files(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


# --- not ours: another application's database, a newer version ---------------------------


def other_application(path: Path, wal: bool) -> None:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("pragma journal_mode = wal")
    conn.execute("create table notes (id integer primary key, body text)")
    conn.execute("insert into notes (body) values ('my precious notes')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback journal", "WAL"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_another_applications_database_is_refused_untouched(write_config, invoke, tmp_path, name, wal, caplog):
    config = write_config()
    db = database_of(config)
    db.parent.mkdir(parents=True)
    other_application(db, wal)
    before, siblings = digest(db), sibling_files(db)
    result = invoke(*command(name, config))
    assert_one_line_error(result, 2, str(db), "is not a citation-monitor database", "notes")
    assert digest(db) == before
    assert sibling_files(db) == siblings  # not even a -wal, -shm or lock file beside it
    assert no_traceback_logged(caplog)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_database_from_a_newer_version_is_refused_untouched(config, invoke, name):
    db = database_of(config)
    conn = sqlite3.connect(db)
    conn.execute(
        "insert into _sqlite_migrations (migration_set, name, applied_at) "
        "values ('citation-monitor', 'm999_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.close()
    before = digest(db)
    result = invoke(*command(name, config))
    assert_one_line_error(result, 2, "newer version of citation-monitor", "m999_from_the_future")
    assert digest(db) == before


def test_an_empty_sqlite_file_is_ours_to_set_up(write_config, invoke):
    config = write_config()
    db = database_of(config)
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).close()  # zero bytes
    assert invoke("run", "--config", str(config)).exit_code == 0


# --- damaged ----------------------------------------------------------------------------


def damage(db: Path, how: str) -> None:
    data = bytearray(db.read_bytes())
    page = 4096
    if how == "header":
        data[:100] = b"\x00garbage" * 12 + b"\x00" * 4
    elif how == "a page":  # scribble over the middle of the file: some table's b-tree page
        middle = (len(data) // page // 2) * page
        data[middle : middle + page] = bytes(range(256)) * (page // 256)
    else:  # truncated
        data = data[: len(data) // 2]
    db.write_bytes(bytes(data))


def checkpointed(config: Path) -> Path:
    """The database with everything in the main file (no -wal), as after a clean close."""
    db = database_of(config)
    conn = sqlite3.connect(db)
    conn.execute("pragma wal_checkpoint(truncate)")
    conn.execute("pragma journal_mode = delete")
    conn.close()
    return db


@pytest.mark.parametrize("how", ["header", "a page", "truncated"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_damaged_database_is_one_line_and_left_as_it_is(config, invoke, name, how, caplog):
    db = checkpointed(config)
    damage(db, how)
    before = digest(db)
    result = invoke(*command(name, config))
    if result.exit_code != 0:  # a reader may not touch the damaged page: then it just works
        assert_one_line_error(result, result.exit_code)
        assert result.exit_code in (1, 2)
        assert "damaged" in result.output or "not an SQLite database" in result.output
    assert digest(db) == before
    assert no_traceback_logged(caplog)


@pytest.mark.parametrize("name", ["run", "prune", "email"])
def test_a_damaged_page_stops_every_writer_before_it_writes(config, invoke, name):
    db = checkpointed(config)
    damage(db, "a page")
    before = digest(db)
    args = command(name, config)
    if name == "email":  # a real send, which records its attempt (no server: it never gets there)
        args = ["email", "--config", str(with_email(config))]
    result = invoke(*args)
    assert_one_line_error(result, 2, "the database is damaged", "citation-monitor backup")
    assert digest(db) == before


def test_a_damaged_page_stops_a_run_that_checks_while_it_plans(config, invoke):
    """In WAL mode, as runs leave it, a run reads to plan while ``quick_check`` runs beside
    it: the damage still stops it before it writes."""
    db = database_of(config)
    conn = sqlite3.connect(db)
    conn.execute("pragma wal_checkpoint(truncate)")
    conn.close()
    damage(db, "a page")
    before = digest(db)
    result = invoke(*command("run", config))
    assert_one_line_error(result, 2, "the database is damaged", "citation-monitor backup")
    assert digest(db) == before


def test_the_check_runs_beside_the_caller_only_where_opening_writes_nothing(config):
    db = database_of(config)
    opened, check = store.open_checking(db)  # as runs leave it
    check.wait()
    opened.close()
    assert check.beside
    checkpointed(config)  # journal_mode = delete: switching to WAL writes
    opened, check = store.open_checking(db)
    assert not check.beside and opened.journal_mode == "wal"
    opened.close()
    conn = sqlite3.connect(db)
    conn.execute("drop view latest_counts")  # as an older version's: replacing it writes
    conn.execute("create view latest_counts as select 1 as doi")
    conn.commit()
    conn.close()
    opened, check = store.open_checking(db)
    assert not check.beside and views.outdated(opened.conn) == []
    opened.close()
    opened, check = store.open_checking(db.parent / "new.db")  # nothing to check
    assert not check.beside
    opened.close()


def test_a_damaged_database_in_a_real_process_prints_no_traceback(config):
    db = checkpointed(config)
    damage(db, "a page")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"Error: {db}: the database is damaged")
    with_traceback = subprocess.run(
        [sys.executable, "-m", "monitor", "-vv", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert "Traceback" in with_traceback.stderr  # -vv shows where
    assert with_traceback.stderr.rstrip().splitlines()[-1] == proc.stderr.rstrip()


# --- read-only and WAL-less ---------------------------------------------------------------


def on_read_only_medium(config: Path, read_only, wal: bool) -> Path:
    """The database copied alone (no -wal, no -shm) to a folder, then made read-only."""
    source = checkpointed(config)
    if wal:
        conn = sqlite3.connect(source)
        conn.execute("pragma journal_mode = wal")
        conn.close()
    copy = read_only.folder / "monitor.db"
    shutil.copyfile(source, copy)
    source.unlink()
    source.symlink_to(copy)
    read_only.seal()
    return copy


@pytest.mark.parametrize("wal", [True, False], ids=["WAL", "WAL-less"])
def test_a_database_on_read_only_media_is_read_by_every_reader(config, invoke, read_only_folder, tmp_path, wal):
    expected = invoke("query", "select doi, source, citations from latest_counts order by source",
                      "--csv", "--config", str(config)).output
    copy = on_read_only_medium(config, read_only_folder, wal)
    before = digest(copy)
    result = invoke("query", "select doi, source, citations from latest_counts order by source",
                    "--csv", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.output == expected
    for name in READERS:
        result = invoke(*command(name, config))
        assert result.exit_code == 0, f"{name}: {result.output}"
    assert (config.parent / "state/report/index.html").exists()
    assert digest(copy) == before
    assert sibling_files(copy) == {"monitor.db"}


def test_a_read_only_database_refuses_a_run_in_one_line(config, invoke, read_only_folder):
    copy = on_read_only_medium(config, read_only_folder, wal=True)
    before = digest(copy)
    result = invoke("run", "--config", str(config))
    assert_one_line_error(result, 2, "[monitor] database", "not writable")
    for args in (command("prune", config), ["email", "--config", str(with_email(config))]):
        assert_one_line_error(invoke(*args), 2, "read-only")
    assert digest(copy) == before


def test_a_wal_that_cannot_be_read_on_read_only_media_is_refused_saying_how(config, invoke, read_only_folder):
    """Committed data sits in -wal and no -shm can be made: reading the main file alone
    would show an older state, so the reader refuses and says what to copy."""
    source = database_of(config)
    conn = sqlite3.connect(source)
    conn.execute("pragma wal_autocheckpoint = 0")
    conn.execute("update works set label = 'only in the WAL'")
    conn.commit()
    shutil.copyfile(source, read_only_folder.folder / "monitor.db")
    shutil.copyfile(source.with_name("monitor.db-wal"), read_only_folder.folder / "monitor.db-wal")
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        source.with_name("monitor.db" + suffix).unlink(missing_ok=True)
    source.symlink_to(read_only_folder.folder / "monitor.db")
    read_only_folder.seal()
    result = invoke("query", "select label from works", "--config", str(config))
    assert_one_line_error(result, 2, "monitor.db-wal", "copy monitor.db and monitor.db-wal to a writable folder")


def test_views_older_than_this_version_are_read_as_this_version_defines_them(config, invoke, read_only_folder):
    db = checkpointed(config)
    conn = sqlite3.connect(db)
    conn.execute("drop view latest_counts")
    conn.execute("create view latest_counts as select 'stale' as doi")
    conn.commit()
    conn.close()
    on_read_only_medium(config, read_only_folder, wal=False)
    result = invoke("query", "select distinct doi from latest_counts", "--config", str(config))
    assert result.exit_code == 0 and DEFAULT_DOI in result.output and "stale" not in result.output


# --- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_database_path_that_is_a_folder_is_one_line_for_every_command(write_config, invoke, name):
    config = write_config()
    database_of(config).mkdir(parents=True)
    result = invoke(*command(name, config))
    assert_one_line_error(result, 2, "[monitor] database", "is a folder")


# --- a full disk ---------------------------------------------------------------------------


def test_a_full_disk_stops_the_run_as_interrupted_and_loses_nothing(write_config, invoke, fake_api, tmp_path):
    config = write_config()
    state = tmp_path / "state"
    with tmpfs(state, "3m"):
        assert invoke("run", "--config", str(config)).exit_code == 0
        db = state / "monitor.db"
        conn = sqlite3.connect(db)
        kept = conn.execute("select count(*) from observations").fetchone()[0]
        conn.close()
        filler = state / "filler"
        with open(filler, "wb", buffering=0) as out:  # fill the disk (unbuffered: closing it flushes nothing)
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        fake_openalex.set_count(fake_api, DEFAULT_DOI, 50)  # new answers: new bodies to store
        fake_crossref.set_count(fake_api, DEFAULT_DOI, 40)
        result = invoke("run", "--config", str(config))
        assert result.exit_code == 1, result.output
        error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
        assert len(error) == 1 and ("disk is full" in error[0] or "no space left" in error[0]), result.output
        filler.unlink()
        conn = sqlite3.connect(db)
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        assert conn.execute("select count(*) from observations").fetchone()[0] >= kept
        statuses = [s for (s,) in conn.execute("select status from runs order by id")]
        conn.close()
        # stopped before its row could be written, or as interrupted (still 'running' if even
        # that last write found no space)
        assert statuses[1:] in ([], ["interrupted"], ["running"])
        assert not list(state.rglob("*.tmp"))  # nothing half-written
        result = invoke("run", "--config", str(config))  # space again: the next run is fine
        assert result.exit_code == 0, result.output
        conn = sqlite3.connect(db)
        after = [s for (s,) in conn.execute("select status from runs order by id")]
        conn.close()
        assert after == ["ok", *(["interrupted"] if statuses[1:] else []), "ok"]


# --- output into a closed pipe ----------------------------------------------------------------


@pytest.fixture
def big_database(config) -> Path:
    """Thousands of observations: more output than a pipe holds."""
    conn = sqlite3.connect(database_of(config))
    conn.execute(
        "insert into runs (started_at, finished_at, status) "
        "select datetime('2020-01-01', '+' || value || ' days'), null, 'ok' "
        "from json_each((select json_group_array(x) from (with recursive n(x) as "
        "(select 1 union all select x + 1 from n limit 3000) select x from n)))"
    )
    conn.execute(
        "insert into observations (run_id, work_id, source, observed_at, outcome, citations) "
        "select r.id, 1, 'openalex', r.started_at || 'T06:00:00.000000+00:00', 'ok', r.id "
        "from runs r where r.started_at like '20%' and r.finished_at is null"
    )
    conn.commit()
    conn.close()
    return config


@pytest.mark.parametrize("name", ["export", "query", "history"])
def test_output_into_a_closed_pipe_exits_0_silently(big_database, name):
    args = {
        "export": ["export", "--format", "json"],
        "query": ["query", "select * from observations", "--csv"],
        "history": ["history", DEFAULT_DOI],
    }[name]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args, "--config", str(big_database)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    assert proc.stdout.readline()  # `| head -1`: read a line, then go
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0, stderr
    assert stderr == ""


def test_an_internal_error_is_one_line_asking_for_a_report(config, invoke, monkeypatch, caplog):
    from monitor import queries

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(queries, "history", broken)
    caplog.set_level(logging.WARNING)
    result = invoke("history", DEFAULT_DOI, "--config", str(config))
    assert_one_line_error(result, 1, "internal error: ValueError('a bug')", "-vv")


def test_opening_again_keeps_our_locks_so_another_process_leaves_our_log_alone(tmp_path):
    """Closing any descriptor of a file drops every POSIX lock the process holds on it:
    a header read through one of ours let another process's closing connection take
    itself for the last, checkpoint and delete the write-ahead log we still had open."""
    from monitor import store

    path = tmp_path / "monitor.db"
    db = store.open_db(path)
    try:
        db.conn.execute("PRAGMA wal_autocheckpoint = 0")
        with db.atomic():
            db.execute("INSERT INTO runs (started_at, status) VALUES ('2026-12-01', 'running')")
        store.open_db(path).close()  # what a run's later steps do beside a live connection
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM runs'); c.close()"
        subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)
        wal = path.with_name(path.name + "-wal")
        assert wal.exists() and wal.stat().st_size > 0
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    finally:
        db.close()
