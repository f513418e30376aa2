"""Stopping and leftovers: SIGTERM and Ctrl-C stop a run at a safe point, a killed run is
marked interrupted by the next, temporary files never outlive their command."""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor import stopping, tempfiles
from monitor.errors import Interrupted
from tests.conftest import (
    ROOT,
    alive,
    assert_lock_free,
    children,
    clean_env,
    other_threads,
    wait_for,
)


@pytest.fixture
def write_config(write_config):
    return functools.partial(write_config, only=("openalex", "crossref"))


def rows(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


@pytest.mark.parametrize("choice", ["thread", "process"], ids=["stored-in-thread", "writer-process"])
@pytest.mark.parametrize(
    "sig, code, to_a_thread",
    [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, False), (signal.SIGTERM, 143, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-another-thread-takes"],
)
def test_a_signal_stops_a_run_at_once_keeping_what_was_saved(
    write_config, fake_api, tmp_path, invoke, sig, code, to_a_thread, choice
):
    config = write_config()
    db = tmp_path / "state/monitor.db"
    answer = threading.Event()
    fake_api.inject("openalex", hold=answer)  # OpenAlex never answers while we look
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=ROOT, env={**clean_env(), "CITATION_MONITOR_WRITER": choice},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: rows(db, "select count(*) from observations where source = 'crossref'") == [(1,)])
        wait_for(lambda: fake_api.hits("openalex"))
        started = time.monotonic()
        helpers = children(proc.pid)
        os.kill(other_threads(proc.pid)[0] if to_a_thread else proc.pid, sig)
        _, stderr = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        answer.set()
        proc.kill()
    assert proc.returncode == code, stderr
    assert stderr == f"Error: stopped by {signal.Signals(sig).name}\n"
    assert stopped_in < 10  # it did not wait for OpenAlex
    assert bool(helpers) == (choice == "process")  # the writer (and multiprocessing's tracker)
    wait_for(lambda: not any(alive(pid) for pid in helpers), timeout=10)  # none outlives the run
    [(status, finished)] = rows(db, "select status, finished_at from runs")
    assert status == "interrupted" and finished
    assert rows(db, "select source, outcome from observations") == [("crossref", "ok")]  # kept
    assert_lock_free(db)
    assert invoke("run", "--config", str(config)).exit_code == 0  # and the next run is fine


def test_a_signal_during_a_save_waits_for_the_save():
    done = []
    with pytest.raises(Interrupted) as info, stopping.on_signals():
        with stopping.held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run by now: it only noted the signal
            done.append("saved")
        done.append("never")  # the stop comes as the save ends
    assert done == ["saved"]
    assert info.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted_by_the_next(write_config, invoke, tmp_path):
    config = write_config()
    assert invoke("run", "--config", str(config)).exit_code == 0
    db = tmp_path / "state/monitor.db"
    conn = sqlite3.connect(db)
    conn.execute("insert into runs (started_at, status) values ('2026-01-02T06:00:00.000000+00:00', 'running')")
    conn.commit()
    conn.close()
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0
    assert "Warning: run 2 was left unfinished by a process that is gone; it is marked interrupted" in result.output
    assert rows(db, "select id, status, finished_at is not null from runs") == [
        (1, "ok", 1), (2, "interrupted", 1), (3, "ok", 1)]
    page = (tmp_path / "state/report/index.html").read_text()
    assert "in progress" not in page


def test_email_exits_3_while_a_run_holds_the_lock(write_config, invoke, tmp_path):
    from monitor.lock import run_lock

    config = write_config(extra='[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = 9\n'
                                'sender = "m@example.org"\nrecipients = ["y@example.org"]\n')
    assert invoke("run", "--config", str(config)).exit_code == 0  # (its digest could not go: a warning)
    with run_lock(tmp_path / "state/monitor.db"):
        result = invoke("email", "--config", str(config))
    assert result.exit_code == 3
    assert result.output.startswith("Error: another run holds the lock") and result.output.count("\n") == 1


# --- temporary files ------------------------------------------------------------------


def dead_pid() -> int:
    """A pid no process has: that of a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_killed_processes_are_swept_and_live_ones_kept(tmp_path):
    target = tmp_path / "copy.db"
    host = tempfiles.beside(target).name.rsplit("@", 1)[1].removesuffix(".tmp")
    dead = tmp_path / f".copy.db.{dead_pid()}@{host}.tmp"
    live = tmp_path / f".copy.db.{os.getppid()}@{host}.tmp"
    elsewhere = tmp_path / f".copy.db.{dead_pid()}@another-host.tmp"
    other = tmp_path / f".other.db.{dead_pid()}@{host}.tmp"
    for path in (dead, live, elsewhere, other):
        path.write_text("a partial copy")
    assert tempfiles.sweep(target) == [dead]
    assert {p.name for p in tmp_path.iterdir()} == {live.name, elsewhere.name, other.name}


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), tempfiles.replacing(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("the disk went away")
    assert list(tmp_path.iterdir()) == []


def test_backup_removes_the_partial_copies_killed_backups_left(write_config, invoke, tmp_path):
    config = write_config()
    assert invoke("run", "--config", str(config)).exit_code == 0
    backups = tmp_path / "backups"
    backups.mkdir()
    host = tempfiles.beside(backups / "b.db").name.rsplit("@", 1)[1].removesuffix(".tmp")
    left = [backups / f".b.db.{dead_pid()}@{host}.tmp", backups / f".b.db.{dead_pid()}@{host}.tmp-journal"]
    for path in left:
        path.write_bytes(b"\0" * 4096)
    result = invoke("backup", str(backups / "b.db"), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert {p.name for p in backups.iterdir()} == {"b.db"}


def test_a_backup_stopped_by_sigterm_leaves_no_temporary_file(write_config, invoke, tmp_path):
    """SIGTERM lands while VACUUM INTO writes the copy (a big enough database to catch it there)."""
    config = write_config()
    assert invoke("run", "--config", str(config)).exit_code == 0
    db = tmp_path / "state/monitor.db"
    conn = sqlite3.connect(db)
    conn.execute("create table if not exists filler (x blob)")  # not ours, but backup copies all
    conn.executemany("insert into filler values (randomblob(65536))", [()] * 1500)  # ~100 MB
    conn.commit()
    conn.close()
    backups = tmp_path / "backups"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "backup", str(backups / "b.db"), "--config", str(config)],
        cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: backups.is_dir() and any(backups.iterdir()), timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    if proc.returncode == 0:
        pytest.skip("the backup finished before the signal landed")  # a very fast disk
    assert proc.returncode == 143, stderr
    assert stderr == "Error: stopped by SIGTERM\n"
    assert list(backups.iterdir()) == []
