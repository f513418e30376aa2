"""The job: what ``citation-monitor run`` does, and exactly what the daemon runs on schedule.

Under the run lock: collect a snapshot, write the report. Later steps (alerts,
email) hang off ``run_job`` too, so cron and the daemon can never differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from monitor import collect, report
from monitor.config import Config
from monitor.fetching import utcnow
from monitor.lock import run_lock
from monitor.models import RunSummary, SourceReport


@dataclass(frozen=True)
class JobResult:
    summary: RunSummary
    report_paths: tuple[Path, ...] = ()

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
        paths: list[Path] = []
        if write_report:
            paths = report.write_report(config)
        return JobResult(summary, tuple(paths))
