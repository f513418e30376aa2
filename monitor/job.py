"""The job: what ``citation-monitor run`` does, and exactly what the daemon runs on schedule.

Under the run lock: collect a snapshot, raise the alerts it calls for, write the
report, send the email digest when ``[email] policy`` says so. Cron and the daemon
both call ``run_job``, so they can never differ.

Each step after collecting stands alone: if one fails, the run's data (already
committed) and the steps before it are kept, and the failure is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor import alerts, collect, mailer, report, store
from monitor.alerts import Alert
from monitor.config import Config
from monitor.fetching import utcnow
from monitor.lock import run_lock
from monitor.models import RunSummary, SourceReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    summary: RunSummary
    report_paths: tuple[Path, ...] = ()
    alerts: tuple[Alert, ...] = ()
    delivery: mailer.Delivery | None = None  # None when email is off or no digest was due
    problems: tuple[str, ...] = ()  # steps after collecting that failed, one line each

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def run_job(
    config: Config,
    *,
    write_report: bool = True,
    now: Callable[[], datetime] = utcnow,
    on_source_done: Callable[[SourceReport], None] | None = None,
) -> JobResult:
    """Run once. Raises LockHeldError when another run holds the lock."""
    with run_lock(config.database):
        summary = collect.run(config, now=now, on_source_done=on_source_done)
        problems: list[str] = []
        raised: list[Alert] = []
        db = store.open_db(config.database)
        try:
            try:
                raised = alerts.raise_alerts(db, config.alerts, summary.run_id, now())
            except Exception as exc:  # the run's data is committed; keep going
                log.exception("alerts for run %s failed", summary.run_id)
                problems.append(f"alerts not evaluated: internal error {exc!r}")
            paths: list[Path] = []
            if write_report:
                paths = report.write_report(config)
            delivery = None
            if config.email.enabled:
                delivery = mailer.deliver(db, config, summary.run_id, now())
                if delivery and delivery.status == "failed":
                    problems.append(
                        f"email digest not sent: {delivery.error}; it is retried after the next run"
                    )
        finally:
            db.close()
        return JobResult(summary, tuple(paths), tuple(raised), delivery, tuple(problems))
