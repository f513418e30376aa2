"""The job: what ``citation-monitor run`` does, and exactly what the daemon runs on schedule.

Under the run lock: collect a snapshot (the collections resolved first), name the citing
works its lists gave by an identifier only (``enrich``), compute each collection's metrics,
raise the alerts it calls for, write the report, send the email digest when ``[email]
policy`` says so. Cron and the daemon
both call ``run_job``, so they can never differ.

Each step after collecting stands alone: if one fails, the run's data (already
committed) and the other steps are kept, and the failure is reported as one of
the run's problems (a warning: the exit code says how the sources did).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from monitor import alerts, collect, enrich, mailer, portfolio, report, store
from monitor.alerts import Alert
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.fetching import make_client, utcnow
from monitor.lock import run_lock
from monitor.models import RunSummary, SourceResult
from monitor.progress import RunProgress

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class JobResult:
    summary: RunSummary
    report_paths: tuple[Path, ...] = ()
    alerts: tuple[Alert, ...] = ()
    deliveries: tuple[mailer.Delivery, ...] = ()  # each audience's digest sent or failed; none due: ()
    problems: tuple[str, ...] = ()  # runs found abandoned, steps after collecting that failed: a line each

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def run_job(
    config: Config,
    *,
    write_report: bool = True,
    now: Callable[[], datetime] = utcnow,
    on_source_done: Callable[[SourceResult], None] | None = None,
    progress: RunProgress | None = None,
) -> JobResult:
    """Run once. Raises LockHeldError when another run holds the lock."""
    if config.database.exists():
        store.check_ours(config.database)  # before the lock file goes beside another's database
    with run_lock(config.database):
        problems = [
            f"run {run_id} was left unfinished by a process that is gone; it is marked interrupted"
            for run_id in _close_abandoned_runs(config)
        ]
        summary = collect.run(config, now=now, on_source_done=on_source_done, progress=progress)
        db = store.open_db(config.database, check=False)  # collect.run checked it
        try:
            with make_client(config.contact_email, config.http, config.connections) as client:
                left = {  # the lookups count in the run's budget of each source
                    s.source: max(0, config.sources[s.source].max_requests - s.requests)
                    for s in summary.sources
                }
                named = _attempt(
                    problems,
                    "citing works not named",
                    lambda: enrich.name_citing_works(db, config, summary.run_id, client, now, left=left),
                )
            problems += named.problems if named else ()
            if config.collections:
                _attempt(
                    problems,
                    "collection metrics not computed",
                    lambda: portfolio.record_metrics(db, summary.run_id, now()),
                )
            raised = _attempt(
                problems,
                "alerts not evaluated",
                lambda: alerts.raise_alerts(db, config.alerts, summary.run_id, now()),
            )
            written = (
                _attempt(problems, "report not written", lambda: report.write_report(config))
                if write_report
                else None
            )
            deliveries: list[mailer.Delivery] = []
            if config.email.enabled:  # after a failed report too: the alerts still go out
                deliveries = _attempt(
                    problems,
                    "email digest not attempted",
                    lambda: mailer.deliver_all(db, config, summary.run_id, now()),
                    then="; the next digest carries its alerts",
                ) or []
                for delivery in deliveries:
                    if delivery.status == "failed":
                        whose = f" for collection {delivery.collection}" if delivery.collection else ""
                        problems.append(
                            f"email digest{whose} not sent: {delivery.error}; it is retried after the next run"
                        )
        finally:
            db.close()
        return JobResult(
            summary, (written.index,) if written else (), tuple(raised or ()), tuple(deliveries), tuple(problems)
        )


def _close_abandoned_runs(config: Config) -> list[int]:
    """Runs left 'running' by a process that is gone: we hold the lock, so none is alive."""
    if not config.database.exists() or not store.has_running_runs(config.database):
        return []
    db = store.open_db(config.database)
    try:
        ids = store.close_abandoned_runs(db)
    finally:
        db.close()
    return ids


def _attempt(problems: list[str], failure: str, step: Callable[[], T], then: str = "") -> T | None:
    """One step after collecting: a failure becomes a line of ``problems``, which the
    caller shows (``run``) or logs (the daemon); an unexpected one logs its traceback."""
    try:
        return step()
    except MonitorError as exc:
        problems.append(f"{failure}: {exc}{then}")
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        problems.append(f"{failure}: {exc.strerror or exc}{where}{then}")
    except Exception as exc:
        log.exception("%s", failure)
        problems.append(f"{failure}: internal error {exc!r}{then}")
    return None
