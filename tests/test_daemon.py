"""The daemon: trigger from [schedule], coalescing and misfires on a controlled clock,
and the real process: runs on schedule, stops cleanly on SIGTERM, never overlaps a run."""

from __future__ import annotations

import functools
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from apscheduler.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
)

from monitor import daemon
from monitor.config import ScheduleConfig, load_config
from monitor.job import JobResult
from monitor.models import Observation, Outcome, RunSummary, SourceReport
from tests.conftest import (
    DEFAULT_DOI,
    ROOT,
    assert_lock_free,
    clean_env,
    other_threads,
    wait_for,
)

# --- the trigger ----------------------------------------------------------------------


def test_the_trigger_is_the_configured_cron_in_its_time_zone():
    trigger = daemon.build_trigger(ScheduleConfig("30 6 * * mon-fri", "Europe/Berlin", 15))
    fields = {f.name: str(f) for f in trigger.fields}
    assert fields["minute"] == "30" and fields["hour"] == "6" and fields["day_of_week"] == "mon-fri"
    assert str(trigger.timezone) == "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    friday_after = datetime(2026, 3, 27, 7, 0, tzinfo=berlin)
    # the weekend in between moves Berlin to summer time: 06:30 local is 04:30 UTC on Monday
    monday = trigger.get_next_fire_time(None, friday_after)
    assert monday == datetime(2026, 3, 30, 6, 30, tzinfo=berlin)
    assert monday.astimezone(UTC).hour == 4


def test_the_job_coalesces_runs_one_at_a_time_with_the_configured_grace(tmp_path):
    config = config_with_schedule(tmp_path, 'cron = "0 6 * * *"\nmisfire_grace_minutes = 45\n')
    scheduler = daemon.build_scheduler(config)
    (job,) = scheduler.get_jobs()
    assert job.func is daemon.scheduled_run and job.args == (config,)
    assert job.coalesce is True and job.max_instances == 1
    assert job.misfire_grace_time == 45 * 60
    assert str(job.trigger) == "cron[month='*', day='*', day_of_week='*', hour='6', minute='0']"


def test_no_misfire_grace_means_a_late_run_is_skipped(tmp_path):
    config = config_with_schedule(tmp_path, "misfire_grace_minutes = 0\n")
    (job,) = daemon.build_scheduler(config).get_jobs()
    assert job.misfire_grace_time == 1  # APScheduler's least; 0 would be a TypeError


def config_with_schedule(tmp_path: Path, schedule: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[[works]]\ndoi = "10.1016/j.drup.2021.100752"\n[schedule]\n{schedule}')
    return load_config(path, environ={})


def test_the_log_line_of_a_run_tells_ok_failed_and_idle_sources_apart():
    def report(source: str, outcome: Outcome, message: str = "") -> SourceReport:
        return SourceReport(source, (Observation(DEFAULT_DOI, source, outcome, message),), ())

    started = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    summary = RunSummary(
        7,
        started,
        started + timedelta(seconds=12.3),
        (
            report("openalex", Outcome.OK),
            report("crossref", Outcome.ERROR, "HTTP 500 from api.crossref.org"),
            report("scopus", Outcome.NOT_CONFIGURED, "no key"),
        ),
    )
    assert daemon.describe(JobResult(summary)) == (
        "run 7: 1 of 3 sources ok; failed: crossref (error: HTTP 500 from api.crossref.org); "
        "scopus not_configured; 0 alerts; took 12.3 s"
    )


def test_the_log_line_names_a_collection_that_could_not_be_resolved():
    from monitor.models import CollectionReport

    started = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    collections = (
        CollectionReport("lab", "ORCID …", Outcome.OK, size=3),
        CollectionReport("ghost", "ORCID …", Outcome.NOT_FOUND, "ORCID has no record 0000-0002-9079-593X"),
        CollectionReport("uni", "ROR …", None, size=40),  # not due
    )
    summary = RunSummary(8, started, started + timedelta(seconds=2), (), collections)
    assert summary.exit_code == 1
    assert daemon.describe(JobResult(summary)) == (
        "run 8: 0 of 0 sources ok; collection ghost not_found: ORCID has no record "
        "0000-0002-9079-593X; 0 alerts; took 2.0 s"
    )


# --- a controlled clock -------------------------------------------------------------------


class Clock:
    """Stands in for ``datetime`` inside APScheduler: ``now()`` is whatever the test says."""

    def __init__(self, start: datetime):
        self.moment = start
        clock = self

        class FakeDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.moment.astimezone(tz) if tz else clock.moment.replace(tzinfo=None)

        self.datetime = FakeDatetime


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))  # a Monday, 05:00 UTC
    for module in (apscheduler.schedulers.base, apscheduler.executors.base, daemon):
        monkeypatch.setattr(module, "datetime", clock.datetime)
    return clock


@pytest.fixture
def scheduled(tmp_path, clock):
    """Start the real scheduler with a job that records its calls."""
    started = []

    def start(
        schedule: str = 'cron = "0 6 * * *"\nmisfire_grace_minutes = 60\n', job=None, run_now=False
    ):
        config = config_with_schedule(tmp_path, schedule)
        calls: list[datetime] = []
        events: queue.Queue = queue.Queue()
        scheduler = daemon.build_scheduler(
            config, job=job or (lambda: calls.append(clock.moment)), run_now=run_now
        )
        scheduler.add_listener(
            events.put, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        scheduler.start()
        started.append(scheduler)
        return scheduler, calls, events

    yield start
    for scheduler in started:
        scheduler.shutdown(wait=True)


def advance_to(clock: Clock, scheduler, moment: datetime) -> None:
    clock.moment = moment
    scheduler.wakeup()


def test_missed_runs_coalesce_into_one(clock, scheduled):
    scheduler, calls, events = scheduled()
    # the machine slept from Monday 05:00 to Thursday 06:30: four 06:00 runs were missed
    advance_to(clock, scheduler, datetime(2026, 3, 5, 6, 30, tzinfo=UTC))
    event = events.get(timeout=5)
    assert event.code == EVENT_JOB_EXECUTED
    assert event.scheduled_run_time == datetime(2026, 3, 5, 6, 0, tzinfo=UTC)  # the latest only
    time.sleep(0.1)
    assert events.empty() and len(calls) == 1
    assert scheduler.get_job(daemon.JOB_ID).next_run_time == datetime(2026, 3, 6, 6, 0, tzinfo=UTC)


def test_a_run_later_than_the_grace_is_skipped_not_run(clock, scheduled):
    scheduler, calls, events = scheduled()
    advance_to(clock, scheduler, datetime(2026, 3, 2, 7, 1, tzinfo=UTC))  # 61 minutes late
    event = events.get(timeout=5)
    assert event.code == EVENT_JOB_MISSED
    assert calls == []
    assert scheduler.get_job(daemon.JOB_ID).next_run_time == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    advance_to(clock, scheduler, datetime(2026, 3, 3, 6, 59, tzinfo=UTC))  # 59 minutes late: runs
    assert events.get(timeout=5).code == EVENT_JOB_EXECUTED
    assert len(calls) == 1


def test_never_two_runs_at_once(clock, scheduled):
    release = threading.Event()
    running = []

    def slow_job():
        running.append(clock.moment)
        release.wait(5)

    scheduler, _, events = scheduled(job=slow_job)
    advance_to(clock, scheduler, datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    deadline = time.monotonic() + 5
    while not running and time.monotonic() < deadline:
        time.sleep(0.01)
    advance_to(
        clock, scheduler, datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    )  # still running a day later
    assert events.get(timeout=5).code == EVENT_JOB_MAX_INSTANCES
    release.set()
    assert events.get(timeout=5).code == EVENT_JOB_EXECUTED
    assert len(running) == 1


def test_run_now_runs_at_start_then_on_schedule(clock, scheduled):
    scheduler, calls, events = scheduled(run_now=True)
    assert events.get(timeout=5).code == EVENT_JOB_EXECUTED
    assert calls == [datetime(2026, 3, 2, 5, 0, tzinfo=UTC)]
    assert scheduler.get_job(daemon.JOB_ID).next_run_time == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


# --- the real process -------------------------------------------------------------------------


@pytest.fixture
def write_config(write_config):
    return functools.partial(write_config, only=("openalex", "crossref"))


def finish(proc: subprocess.Popen, timeout: float) -> str:
    """The process's stderr once it exited; one that does not exit in time fails the test
    with what it printed."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the daemon did not stop within {timeout} s:\n{reap(proc)}")


def reap(proc: subprocess.Popen) -> str:
    """Kill the process if it still runs and collect it and its pipes, so that no warning of
    either is left to fail a later test. Its stderr."""
    if proc.poll() is None:
        proc.kill()
    return proc.communicate()[1]


def daemon_running_now(config: Path) -> subprocess.Popen:
    """``citation-monitor daemon --run-now`` in a process of its own, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "daemon", "--run-now", "--config", str(config)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def runs(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, status, finished_at FROM runs ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


def test_the_daemon_runs_on_schedule_and_stops_cleanly_on_sigterm(write_config, tmp_path):
    """A cron trigger that fires every second stands in for the config's (minutes at best)."""
    config = write_config()
    db = tmp_path / "state/monitor.db"
    script = (
        "import logging, sys\n"
        "from apscheduler.triggers.cron import CronTrigger\n"
        "from monitor import daemon\n"
        "from monitor.config import load_config\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "sys.exit(daemon.serve(load_config(sys.argv[1]), trigger=CronTrigger(second='*')))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(config)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: any(status != "running" for _, status, _ in runs(db)))
        proc.send_signal(signal.SIGTERM)
        stderr = finish(proc, timeout=30)
    finally:
        reap(proc)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "run 1: 2 of 2 sources ok; 0 alerts" in stderr
    assert "SIGTERM: stopping" in stderr and "daemon stopped" in stderr
    assert all(status == "ok" and finished for _, status, finished in runs(db))
    assert_lock_free(db)


def test_sigterm_while_the_scheduler_starts_still_stops_it(write_config, tmp_path):
    """The signal lands after serve decided to start but before the scheduler runs."""
    config = write_config(extra='[schedule]\ncron = "0 0 1 1 *"\n')
    script = (
        "import logging, os, signal, sys, time\n"
        "from apscheduler.schedulers.base import BaseScheduler\n"
        "from monitor import daemon\n"
        "from monitor.config import load_config\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "check = BaseScheduler._check_uwsgi  # the first thing start() does\n"
        "def signal_then_start(self):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.3)  # the handler's shutdown finds the scheduler not running yet\n"
        "    check(self)\n"
        "BaseScheduler._check_uwsgi = signal_then_start\n"
        "sys.exit(daemon.serve(load_config(sys.argv[1])))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(config)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = finish(proc, timeout=15)
    assert proc.returncode == 0, stderr
    assert "SIGTERM: stopping" in stderr and "daemon stopped" in stderr
    assert runs(tmp_path / "state/monitor.db") == []


def test_sigterm_during_a_run_lets_it_finish(write_config, fake_api, tmp_path):
    config = write_config(extra='[schedule]\ncron = "0 0 1 1 *"\n')  # only --run-now runs
    db = tmp_path / "state/monitor.db"
    fake_api.inject("openalex", delay=1.0)  # the run is in progress for a second
    proc = daemon_running_now(config)
    try:
        wait_for(lambda: fake_api.hits("openalex"))  # mid-run
        proc.send_signal(signal.SIGTERM)
        stderr = finish(proc, timeout=30)
    finally:
        reap(proc)
    assert proc.returncode == 0, stderr
    assert "SIGTERM: stopping; a run in progress finishes first" in stderr
    assert "run 1: 2 of 2 sources ok" in stderr
    ((_, status, finished),) = runs(db)
    assert status == "ok" and finished
    conn = sqlite3.connect(db)
    assert (
        conn.execute(
            "SELECT count(*) FROM observations WHERE run_id = 1 AND outcome = 'ok'"
        ).fetchone()[0]
        == 2
    )
    conn.close()
    assert_lock_free(db)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc/PID/task")
@pytest.mark.parametrize("when", ["during a run", "between runs"])
def test_a_sigterm_another_thread_takes_still_stops_the_daemon(write_config, fake_api, tmp_path, when):
    """The kernel may hand the daemon's SIGTERM to any of its threads (``other_threads``): it
    must not sleep on to next year's run, as it once did under CI's load."""
    config = write_config(extra='[schedule]\ncron = "0 0 1 1 *"\n')  # only --run-now runs
    db = tmp_path / "state/monitor.db"
    answer = threading.Event()
    fake_api.inject("openalex", hold=answer)
    proc = daemon_running_now(config)
    try:
        wait_for(lambda: fake_api.hits("openalex"))  # mid-run: the job and HTTP threads exist
        if when == "between runs":
            answer.set()
            wait_for(lambda: [status for _, status, _ in runs(db)] == ["ok"])
        (thread, *_) = other_threads(proc.pid)
        os.kill(thread, signal.SIGTERM)
        time.sleep(0.5)
        answer.set()
        stderr = finish(proc, timeout=30)
    finally:
        answer.set()
        reap(proc)
    assert proc.returncode == 0, stderr
    assert "SIGTERM: stopping" in stderr and "daemon stopped" in stderr
    assert [status for _, status, _ in runs(db)] == ["ok"]
    assert_lock_free(db)


@pytest.mark.parametrize("to_a_thread", [False, True], ids=["to-the-pid", "another-thread-takes-it"])
def test_a_second_sigterm_exits_at_once_while_a_run_is_in_progress(
    write_config, fake_api, tmp_path, invoke, to_a_thread
):
    """The first signal waits for the run in progress; a second does not (``systemctl stop``
    run twice, or Ctrl-C pressed again): the process exits 143, SQLite keeping what was
    committed, and the next run marks the unfinished one interrupted."""
    config = write_config(extra='[schedule]\ncron = "0 0 1 1 *"\n')  # only --run-now runs
    db = tmp_path / "state/monitor.db"
    answer = threading.Event()
    fake_api.inject("openalex", hold=answer)  # the run stays in progress
    proc = daemon_running_now(config)
    try:
        wait_for(lambda: fake_api.hits("openalex"))
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        os.kill(other_threads(proc.pid)[0] if to_a_thread else proc.pid, signal.SIGTERM)
        stderr = finish(proc, timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        answer.set()
        reap(proc)
    assert proc.returncode == 143, stderr
    assert "SIGTERM: stopping; a run in progress finishes first" in stderr
    assert "SIGTERM again: exiting now" in stderr
    assert stopped_in < 10  # it did not wait for OpenAlex (held up to 60 s)
    assert [status for _, status, _ in runs(db)] == ["running"]  # left as it was
    assert invoke("run", "--config", str(config)).exit_code == 0
    assert [status for _, status, _ in runs(db)] == ["interrupted", "ok"]


def test_two_concurrent_runs_one_exits_3(write_config, fake_api, tmp_path):
    """The first run is held mid-run (the fake keeps OpenAlex's answer) until the second has
    finished: however loaded the machine, the second starts while the first holds the lock."""
    config = write_config()
    answer = threading.Event()
    fake_api.inject("openalex", hold=answer)
    command = [sys.executable, "-m", "monitor", "run", "--config", str(config)]
    first = subprocess.Popen(
        command,
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: fake_api.hits("openalex"))  # the first run holds the lock
        second = subprocess.run(
            command,
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        answer.set()
        first_out, first_err = first.communicate(timeout=30)
    finally:
        answer.set()
        first.kill()
    assert second.returncode == 3
    assert "Error: another run holds the lock" in second.stderr
    assert f"(pid {first.pid})" in second.stderr
    assert first.returncode == 0, first_err
    assert first_out == ""  # quiet when not on a terminal, and nothing failed
    assert [status for _, status, _ in runs(tmp_path / "state/monitor.db")] == ["ok"]


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(write_config, invoke, tmp_path):
    config = write_config()
    db = tmp_path / "state/monitor.db"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from monitor.lock import run_lock\n"
        "with run_lock(Path(sys.argv[1])):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert invoke("run", "--config", str(config)).exit_code == 3
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait(10)
        holder.stdout.close()
    assert (tmp_path / "state/monitor.db.lock").read_text() == str(holder.pid)  # stale pid left
    assert invoke("run", "--config", str(config)).exit_code == 0


def test_a_sigterm_while_the_daemon_reads_its_config_stops_it_cleanly(write_config, tmp_path):
    """systemd stops the service while it starts: the handlers are there before the config is read."""
    config = write_config()
    script = (
        "import os, signal, sys, time\n"
        "from monitor import cli, cli_support\n"
        "load = cli_support.load_config\n"
        "def load_slowly(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.2)\n"
        "    return load(*args, **kwargs)\n"
        "cli_support.load_config = load_slowly\n"
        "cli.cli(['daemon', '--run-now', '--config', sys.argv[1]], prog_name='citation-monitor')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SIGTERM: stopping" in proc.stderr and "daemon stopped before it started" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "state/monitor.db").exists()  # --run-now, yet no run started
