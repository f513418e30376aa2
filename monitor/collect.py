"""One run: ask every enabled source about every tracked work, store what comes back.

The tracked works are ``[[works]]`` and the members of every collection, as
``membership.refresh`` leaves them at the start of the run.

Sources run concurrently, each in its own thread with its own rate limit, so the
slowest source sets the run's length. Results are stored from this thread, one
atomic write per source, as each source finishes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import Any

import httpx
import sqlite_utils

from monitor import citing, database, membership, stopping, store
from monitor.config import Config, SourceConfig
from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import FetchFailure, Session, make_client, utcnow
from monitor.models import CitingList, Observation, Outcome, RunSummary, SourceReport, Work
from monitor.sources import SOURCES
from monitor.sources.base import not_configured

log = logging.getLogger(__name__)


def run(
    config: Config,
    *,
    now: Callable[[], datetime] = utcnow,
    on_source_done: Callable[[SourceReport], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunSummary:
    """Run every enabled source once and store a snapshot. Never raises for a source's failure.

    The run ends by ``[http] run_deadline_minutes`` on ``clock``; each source by its own
    ``source_deadline_minutes`` from its start, whichever comes first. ``clock`` and
    ``sleep`` go together: a test that fakes one fakes both.
    """
    deadline = clock() + config.http.run_deadline_minutes * 60
    db = store.open_db(config.database)
    try:
        started = now()
        run_id = store.start_run(db, started)
        reports: list[SourceReport] = []
        status = "interrupted"  # unless it gets to the end: a signal, a full disk
        try:
            with make_client(config.contact_email, config.http) as client:
                tracking = membership.refresh(db, config, run_id, client, now)
                works = store.tracked_works(db, [w.doi for w in tracking.works])
                for report in _fetch_all(db, config, works, client, now, (clock, sleep), deadline):
                    with stopping.held():  # a signal now waits until this source is saved
                        save(db, run_id, tracking.work_ids, report, now())
                        reports.append(report)
                    if on_source_done:
                        on_source_done(report)
            summary = RunSummary(
                run_id, started, now(), tuple(sorted(reports, key=_order)), tracking.collections
            )
            status = "failed" if summary.failed else "ok"
            return summary
        except sqlite3.Error as exc:
            raise database.error(exc, config.database) from None
        finally:
            _finish(db, run_id, now(), status, reports)
    finally:
        db.close()


def _finish(
    db: sqlite_utils.Database, run_id: int, now: datetime, status: str, reports: list[SourceReport]
) -> None:
    """Record how the run ended. If even that fails (the disk is still full), the row stays
    'running' and the next run marks it interrupted (``store.close_abandoned_runs``)."""
    try:
        with stopping.held():
            store.finish_run(
                db,
                run_id,
                now,
                status,
                {"ok": 0, "failed": 1}.get(status, 1),
                {r.source: {"outcome": r.outcome.value, "message": r.message} for r in reports},
            )
    except sqlite3.Error as exc:
        if status != "interrupted":
            raise
        log.warning("run %s could not be marked interrupted: %s", run_id, exc)


def _fetch_all(
    db: sqlite_utils.Database,
    config: Config,
    works: list[Work],
    client: httpx.Client,
    now: Callable[[], datetime],
    timing: tuple[Callable[[], float], Callable[[float], None]],
    deadline: float,
) -> Iterator[SourceReport]:
    """Run the sources concurrently, yielding each one's report as it finishes.

    Sources that need a PMID start once the sources that can provide one have
    finished and their PMIDs are stored; the others start at once.
    """
    later = [s for s in config.enabled_sources if SOURCES[s.name].SPEC.needs_pmid]
    first = [s for s in config.enabled_sources if s not in later]
    providers = {s.name for s in first if SOURCES[s.name].SPEC.provides_pmid}
    clock, sleep = timing
    pool = ThreadPoolExecutor(max_workers=max(1, len(config.enabled_sources)))
    finished = False
    try:
        def start(source: SourceConfig, works: list[Work]) -> None:
            lists = citing.last_complete_lists(db, source.name)
            ends = min(deadline, clock() + config.http.source_deadline_minutes * 60)
            future = pool.submit(
                fetch_source, source, works, client, config, now, lists,
                clock=clock, sleep=sleep, deadline=ends,
            )
            running[future] = source.name

        running: dict[Future[SourceReport], str] = {}
        for source in first:
            start(source, works)
        while running or later:
            if later and not providers:
                known = store.tracked_works(db, [w.doi for w in works])
                for source in later:
                    start(source, known)
                later = []
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                providers.discard(running.pop(future))
                yield future.result()
        finished = True
    finally:
        # stopped early (a signal, a full disk): do not wait for the sources still asking
        pool.shutdown(wait=finished, cancel_futures=True)


def save(
    db: sqlite_utils.Database, run_id: int, work_ids: dict[str, int], report: SourceReport, now: datetime
) -> None:
    """One source's observations, exchanges and citing lists: one transaction."""
    with db.atomic():
        response_ids = store.save_source(db, run_id, work_ids, report, now)
        for listing in report.citing:
            authors = store.work_authors(db, listing.doi)
            citing.save_list(db, run_id, work_ids[listing.doi], listing, authors, response_ids, now)


def _order(report: SourceReport) -> int:
    return list(SOURCES).index(report.source)


def fetch_source(
    source: SourceConfig,
    works: Sequence[Work],
    client: httpx.Client,
    config: Config,
    now: Callable[[], datetime] = utcnow,
    lists: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> SourceReport:
    """Ask one source about all works. Whatever happens, returns one observation per work.

    ``lists`` holds the source's last complete citing list per DOI: a new list is
    fetched only where it is due (see ``citing.list_is_due``). No request is made after
    ``deadline`` (on ``clock``); no message keeps the source's key in any form.
    """
    module = SOURCES[source.name]
    spec = module.SPEC
    started = time.monotonic()
    session = session_for(source, client, config, now=now, clock=clock, sleep=sleep, deadline=deadline)
    if spec.needs_key and not source.has_key:
        observations = not_configured(works, source.name, spec.key_hint)
    elif spec.needs_contact and not config.contact_email:
        observations = not_configured(
            works, source.name, f"{spec.title} needs an email address: set [monitor] contact_email"
        )
    else:
        asked = [w for w in works if w.pmid] if spec.needs_pmid else list(works)
        try:
            observations = list(module.fetch(asked, session)) + [
                Observation(
                    w.doi,
                    source.name,
                    Outcome.NOT_FOUND,
                    f"{spec.title} looks works up by PMID and none is known for this DOI: "
                    'set pmid = "…" in its [[works]] entry of config.toml',
                )
                for w in works
                if w not in asked
            ]
        except Exception as exc:  # a bug in one source must not stop the others
            log.exception("%s: unexpected failure", source.name)
            observations = [
                Observation(w.doi, source.name, Outcome.ERROR, f"internal error: {exc!r}")
                for w in works
            ]
    observations = _one_per_work(source.name, works, observations)
    listings: list[CitingList] = []
    session.max_pages = config.citing.max_pages
    if config.citing.enabled and hasattr(module, "fetch_citing"):
        for work, obs in zip(works, observations):
            last = (lists or {}).get(work.doi)
            if obs.outcome is Outcome.OK and citing.list_is_due(
                last, obs.citations, now(), config.citing.max_list_age_days
            ):
                listings.append(_fetch_list(module, work, obs, session))
    redact = session.redactor.text
    return SourceReport(
        source.name,
        tuple(replace(o, message=redact(o.message)) for o in observations),
        tuple(session.exchanges),
        int((time.monotonic() - started) * 1000),
        tuple(replace(c, message=redact(c.message)) for c in listings),
    )


def session_for(source: SourceConfig, client: httpx.Client, config: Config, **kwargs: Any) -> Session:
    """A session for one source with the run's settings (HTTP, contact, the parameters that
    carry its key); ``kwargs`` as for ``Session`` (``now``, ``clock``, ``deadline``, ...)."""
    return Session(
        source,
        client,
        config.http,
        contact_email=config.contact_email,
        secret_params=SOURCES[source.name].SPEC.secret_params,
        **kwargs,
    )


def _fetch_list(module: ModuleType, work: Work, obs: Observation, session: Session) -> CitingList:
    try:
        return module.fetch_citing(work, obs, session)
    except FetchFailure as failure:
        return CitingList(work.doi, obs.source, failure.outcome, message=failure.message)
    except MalformedResponse as exc:
        return CitingList(work.doi, obs.source, Outcome.ERROR, message=f"unexpected response: {exc}")
    except WrongWork as exc:
        return CitingList(work.doi, obs.source, Outcome.ERROR, message=str(exc))
    except Exception as exc:  # a bug in one source must not stop the others
        log.exception("%s: unexpected failure listing citing works", obs.source)
        return CitingList(work.doi, obs.source, Outcome.ERROR, message=f"internal error: {exc!r}")


def _one_per_work(
    source: str, works: Sequence[Work], observations: list[Observation]
) -> list[Observation]:
    by_doi = {o.doi: o for o in observations}
    return [
        by_doi.get(w.doi)
        or Observation(w.doi, source, Outcome.ERROR, "internal error: source returned no result")
        for w in works
    ]
