"""One run: ask every enabled source about every tracked work, store what comes back.

Sources run concurrently, each in its own thread with its own rate limit, so the
slowest source sets the run's length. Results are stored from this thread, one
atomic write per source, as each source finishes.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Callable, Iterator, Sequence

import httpx
import sqlite_utils

from monitor import store
from monitor.config import Config, SourceConfig
from monitor.fetching import Session, make_client, utcnow
from monitor.models import Observation, Outcome, RunSummary, SourceReport, Work
from monitor.sources import SOURCES
from monitor.sources.base import not_configured

log = logging.getLogger(__name__)


def run(
    config: Config,
    *,
    now: Callable[[], datetime] = utcnow,
    on_source_done: Callable[[SourceReport], None] | None = None,
) -> RunSummary:
    """Run every enabled source once and store a snapshot. Never raises for a source's failure."""
    db = store.open_db(config.database)
    try:
        started = now()
        work_ids = store.sync_works(db, config.works, started)
        works = store.tracked_works(db, [w.doi for w in config.works])
        run_id = store.start_run(db, started)
        reports: list[SourceReport] = []
        status = "interrupted"
        try:
            with make_client(config.contact_email, config.http) as client:
                for report in _fetch_all(db, config, works, client, now):
                    store.save_source(db, run_id, work_ids, report, now())
                    reports.append(report)
                    if on_source_done:
                        on_source_done(report)
            summary = RunSummary(run_id, started, now(), tuple(sorted(reports, key=_order)))
            status = "failed" if summary.failed else "ok"
            return summary
        finally:
            store.finish_run(
                db,
                run_id,
                now(),
                status,
                {"ok": 0, "failed": 1}.get(status, 1),
                {r.source: {"outcome": r.outcome.value, "message": r.message} for r in reports},
            )
    finally:
        db.close()


def _fetch_all(
    db: sqlite_utils.Database,
    config: Config,
    works: list[Work],
    client: httpx.Client,
    now: Callable[[], datetime],
) -> Iterator[SourceReport]:
    """Run the sources concurrently, yielding each one's report as it finishes.

    Sources that need a PMID start once the sources that can provide one have
    finished and their PMIDs are stored; the others start at once.
    """
    later = [s for s in config.enabled_sources if SOURCES[s.name].SPEC.needs_pmid]
    first = [s for s in config.enabled_sources if s not in later]
    providers = {s.name for s in first if SOURCES[s.name].SPEC.provides_pmid}
    with ThreadPoolExecutor(max_workers=max(1, len(config.enabled_sources))) as pool:
        running: dict[Future[SourceReport], str] = {
            pool.submit(fetch_source, s, works, client, config, now): s.name for s in first
        }
        while running or later:
            if later and not providers:
                known = store.tracked_works(db, [w.doi for w in works])
                for source in later:
                    running[pool.submit(fetch_source, source, known, client, config, now)] = source.name
                later = []
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                providers.discard(running.pop(future))
                yield future.result()


def _order(report: SourceReport) -> int:
    return list(SOURCES).index(report.source)


def fetch_source(
    source: SourceConfig,
    works: Sequence[Work],
    client: httpx.Client,
    config: Config,
    now: Callable[[], datetime] = utcnow,
) -> SourceReport:
    """Ask one source about all works. Whatever happens, returns one observation per work."""
    module = SOURCES[source.name]
    spec = module.SPEC
    started = time.monotonic()
    session = Session(
        source,
        client,
        config.http,
        contact_email=config.contact_email,
        secret_params=spec.secret_params,
        now=now,
    )
    if spec.needs_key and not source.has_key:
        observations = not_configured(works, source.name, spec.key_hint)
    elif spec.needs_contact and not config.contact_email:
        observations = not_configured(
            works, source.name, f"{spec.title} needs an email address: set [monitor] contact_email"
        )
    else:
        try:
            observations = list(module.fetch(works, session))
        except Exception as exc:  # a bug in one source must not stop the others
            log.exception("%s: unexpected failure", source.name)
            observations = [
                Observation(w.doi, source.name, Outcome.ERROR, f"internal error: {exc!r}")
                for w in works
            ]
    observations = _one_per_work(source.name, works, observations)
    return SourceReport(
        source.name,
        tuple(observations),
        tuple(session.exchanges),
        int((time.monotonic() - started) * 1000),
    )


def _one_per_work(
    source: str, works: Sequence[Work], observations: list[Observation]
) -> list[Observation]:
    by_doi = {o.doi: o for o in observations}
    return [
        by_doi.get(w.doi)
        or Observation(w.doi, source, Outcome.ERROR, "internal error: source returned no result")
        for w in works
    ]
