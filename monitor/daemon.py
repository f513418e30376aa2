"""The daemon: run the job on the ``[schedule]`` of config.toml, until told to stop.

An APScheduler 3.x ``BackgroundScheduler`` with one job, on a cron trigger in the
configured time zone: runs that were missed while the machine slept are coalesced
into one, never more than one run at a time, and a run later than
``misfire_grace_minutes`` is skipped (the next one is on its way). The job is
``run_job``, exactly what ``citation-monitor run`` does, under the same run lock,
so the daemon and a cron ``run`` can never overlap.

SIGTERM or SIGINT stops it cleanly, from the moment the command starts (``Stopper``
is installed before the config is read): no new run starts, the current one
finishes (each source's results commit as they arrive; a second signal exits at
once, and SQLite rolls back what was not committed).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from monitor import stopping
from monitor.config import Config, ScheduleConfig
from monitor.errors import LockHeldError, MonitorError
from monitor.job import JobResult, run_job
from monitor.models import Outcome

log = logging.getLogger(__name__)

JOB_ID = "run"


def build_trigger(schedule: ScheduleConfig) -> CronTrigger:
    """The cron trigger of ``[schedule]``: five crontab fields, in its time zone."""
    return CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)


def scheduled_run(config: Config) -> JobResult | None:
    """What the scheduler calls: ``run_job``, logged. Never raises: the daemon keeps going."""
    try:
        result = run_job(config)
    except LockHeldError as exc:
        log.warning("run skipped: %s", exc)
        return None
    except MonitorError as exc:
        log.error("run failed: %s", exc)
        return None
    except Exception:
        log.exception("run failed unexpectedly")
        return None
    log.info("%s", describe(result))
    for problem in result.problems:
        log.warning("run %s: %s", result.summary.run_id, problem)
    return result


def describe(result: JobResult) -> str:
    """One log line per run: outcome, failed and idle sources, alerts, email."""
    summary = result.summary
    ok = [s for s in summary.sources if s.outcome is Outcome.OK]
    failed = [s for s in summary.sources if s.outcome.is_failure]
    idle = [s for s in summary.sources if s.outcome is not Outcome.OK and not s.outcome.is_failure]
    text = f"run {summary.run_id}: {len(ok)} of {len(summary.sources)} sources ok"
    if failed:
        text += "; failed: " + ", ".join(
            f"{s.source} ({s.outcome.value}: {s.message})" for s in failed
        )
    if idle:  # not configured (no key), or not indexing any tracked work
        text += "; " + ", ".join(f"{s.source} {s.outcome.value}" for s in idle)
    for collection in summary.collections:
        if collection.failed:
            text += f"; collection {collection.name} {collection.status}: {collection.message}"
    text += f"; {len(result.alerts)} alert{'s' if len(result.alerts) != 1 else ''}"
    for delivery in result.deliveries:
        text += f"; email {delivery.status}: {delivery.subject}"
    seconds = (summary.finished_at - summary.started_at).total_seconds()
    return f"{text}; took {seconds:.1f} s"


def build_scheduler(
    config: Config,
    *,
    job: Callable[..., Any] | None = None,
    trigger: BaseTrigger | None = None,
    run_now: bool = False,
    executor: ThreadPoolExecutor | None = None,
) -> BackgroundScheduler:
    """A scheduler holding the one job. ``job`` and ``trigger`` default to the config's."""
    schedule = config.schedule
    scheduler = BackgroundScheduler(
        executors={"default": executor or ThreadPoolExecutor(max_workers=1)},
        timezone=schedule.timezone,
    )
    options: dict[str, Any] = {}
    if run_now:
        options["next_run_time"] = datetime.now(scheduler.timezone)
    scheduler.add_job(
        job or scheduled_run,
        trigger or build_trigger(schedule),
        args=[] if job else [config],
        id=JOB_ID,
        name="citation-monitor run",
        coalesce=True,
        max_instances=1,
        # 0 minutes: no grace, a late run is skipped (APScheduler's least is 1 second)
        misfire_grace_time=max(1, schedule.misfire_grace_minutes * 60),
        **options,
    )
    return scheduler


class Stopper:
    """The daemon's SIGTERM and SIGINT handlers, installed before it does anything else, so a
    signal during start-up stops it too. The first signal sets ``event`` (no new run starts,
    one in progress finishes); a second exits at once.

    The main thread never blocks for long meanwhile (``stopping.wait``, ``stopping.join``):
    the kernel may hand a signal to any thread, and Python runs its handler only when the main
    thread next runs Python code."""

    def __init__(self) -> None:
        self.event = threading.Event()

    @contextmanager
    def installed(self) -> Iterator[Stopper]:
        previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            log.warning(
                "%s again: exiting now; SQLite rolls back what the run had not committed", name
            )
            os._exit(128 + signum)
        self.event.set()
        log.info("%s: stopping; a run in progress finishes first", name)


def serve(
    config: Config,
    *,
    run_now: bool = False,
    trigger: BaseTrigger | None = None,
    stopper: Stopper | None = None,
) -> int:
    """Run the scheduler until SIGTERM or SIGINT; return the exit code.

    ``stopper``: handlers installed earlier (the CLI installs them before loading the
    config); without one, serve installs its own.
    """
    if stopper is None:
        with Stopper().installed() as own:
            return serve(config, run_now=run_now, trigger=trigger, stopper=own)
    if stopper.event.is_set():
        log.info("daemon stopped before it started")
        return 0
    executor = ThreadPoolExecutor(max_workers=1)
    scheduler = build_scheduler(config, trigger=trigger, run_now=run_now, executor=executor)

    def next_run(event: JobEvent) -> None:
        job = scheduler.get_job(JOB_ID)
        if job is not None and job.next_run_time and not stopper.event.is_set():
            log.info("next run at %s", job.next_run_time.isoformat(timespec="minutes"))

    scheduler.add_listener(next_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    job = scheduler.get_job(JOB_ID)
    first = (
        job.next_run_time
        if run_now
        else job.trigger.get_next_fire_time(None, datetime.now(scheduler.timezone))
    )
    log.info(
        "daemon started (pid %d): cron %r in %s, misfire grace %d min; first run at %s",
        os.getpid(),
        config.schedule.cron,
        config.schedule.timezone,
        config.schedule.misfire_grace_minutes,
        first.isoformat(timespec="minutes") if first else "never",
    )
    scheduler.start(paused=True)
    try:
        if not stopper.event.is_set():  # a signal while starting: not even --run-now's run
            scheduler.resume()
        stopping.wait(stopper.event)
    finally:
        scheduler.shutdown(wait=False)  # no new run starts
        # the run in progress finishes, its results committed: waited for in a thread of its
        # own, so that a second signal still exits at once (not by shutdown(wait=True), which
        # waits holding the scheduler's lock, that the run's last listener takes)
        waiting = threading.Thread(target=executor.shutdown, args=(True,), name="daemon-stop")
        waiting.start()
        stopping.join(waiting)
    log.info("daemon stopped")
    return 0
