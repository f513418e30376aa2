"""Naming citing works that a list gave by an identifier only, before anyone reads the ledger.

OpenCitations lists a citing work by its DOI (and PMID) alone, so the ledger can hold
rows with no title, no authors or no venue. After collecting, and before the alerts,
the report and the digest read the ledger, this step asks about such works in batches:
OpenAlex first (``GET /works?filter=doi:a|b|…&per_page=100``, up to 100 DOIs a request,
apis.md §2(c)), then Crossref about the DOIs OpenAlex did not name
(``GET /works?filter=doi:a,doi:b&rows=N``, 50 a request; Crossref registers most DOIs
and knows a new one first). Each answer is matched to the DOIs asked, merged into the
ledger as a list's record is (``citing.complete_citer``: the same identity rules), and
every exchange is stored in ``responses`` with the run, so each name can be traced.

Bounded and harmless: at most ``max_requests`` requests a run (default ``[citing]
max_lookup_requests``), and no more of a source than ``left`` says its run's budget
(``[sources.NAME] max_requests``) still allows; the most recently seen works first; a
work asked about is not asked again for ``RETRY_DAYS``; a failure is one line of the
run's problems and changes nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlite_utils

from monitor import citing, collect, store
from monitor.config import Config
from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure, Session
from monitor.models import CitingRecord, Exchange, Outcome, Work
from monitor.sources import crossref, openalex, title_of
from monitor.sources.base import chunks, need

log = logging.getLogger(__name__)

RETRY_DAYS = 30  # a work no source could name is asked about again after this long


@dataclass(frozen=True)
class Namer:
    """How one source names citing works by DOI, a batch a request."""

    batch_size: int
    request: Callable[[Session, list[Work]], Exchange]
    records: Callable[[Any], list[Any]]  # the answer's payload → its work records
    parse: Callable[[Any, Exchange], CitingRecord]
    unsafe: str  # characters of its batch syntax: a DOI holding one is not asked in a batch


NAMERS: dict[str, Namer] = {
    "openalex": Namer(
        openalex.PER_PAGE,
        openalex.request,
        lambda payload: need(payload, "results", list),
        lambda record, exchange: openalex.parse_citing(record, exchange, "results[]."),
        "|,",
    ),
    "crossref": Namer(
        crossref.SPEC.batch_size,
        lambda session, batch: crossref.request(session, batch, select=False),
        lambda payload: need(need(payload, "message", dict), "items", list, "message."),
        crossref.parse_citing,
        ",",
    ),
}


@dataclass(frozen=True)
class Lookup:
    """What naming did in one run."""

    asked: int = 0  # citing works asked about
    named: int = 0  # of those, now with a title
    requests: int = 0  # HTTP requests made (each counts in the run's budget)
    problems: tuple[str, ...] = ()  # one line per source that failed


def unnamed(db: sqlite_utils.Database, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Citing works with a DOI but no title, authors or venue, not asked about lately;
    the most recently seen first."""
    since = store.iso(now - timedelta(days=RETRY_DAYS))
    return list(db.query(
        "SELECT c.id, c.doi FROM citers c JOIN citations e ON e.citer_id = c.id "
        "WHERE c.doi IS NOT NULL AND (c.title IS NULL OR c.authors = '[]' OR c.venue IS NULL) "
        "AND (c.looked_up_at IS NULL OR c.looked_up_at < ?) "
        "GROUP BY c.id ORDER BY max(e.first_seen_run_id) DESC, c.id LIMIT ?",
        [since, limit],
    ))


def name_citing_works(
    db: sqlite_utils.Database,
    config: Config,
    run_id: int,
    client: httpx.Client,
    now: Callable[[], datetime],
    max_requests: int | None = None,
    left: Mapping[str, int] | None = None,
) -> Lookup:
    """Ask the enabled namers about the ledger's unnamed citing works; store what they say.

    ``left``: source → the requests its budget for the run still allows (collect's use
    subtracted); a source not named has its whole ``max_requests``."""
    budget = config.citing.max_lookup_requests if max_requests is None else max_requests
    if budget <= 0 or not config.citing.enabled:
        return Lookup()
    wanted = unnamed(db, now(), budget * max(n.batch_size for n in NAMERS.values()))
    asked = len(wanted)
    requests, problems = 0, []
    for name, namer in NAMERS.items():
        source = config.sources[name]
        allowed = min(budget - requests, (left or {}).get(name, source.max_requests))
        if not wanted or allowed <= 0 or not source.enabled:
            continue
        deadline = time.monotonic() + config.http.source_deadline_minutes * 60
        session = collect.session_for(source, client, config, now=now, deadline=deadline)
        named, problem = _ask(db, run_id, session, namer, wanted, allowed, now)
        requests += len(session.exchanges)
        if problem:
            problems.append(
                f"citing works not named by {title_of(name)}: {problem}; asked again next run"
            )
        wanted = [w for w in wanted if w["doi"] not in named]
    if asked:
        log.info("named %d of %d citing works in %d requests", asked - len(wanted), asked, requests)
    return Lookup(asked, asked - len(wanted), requests, tuple(problems))


def _ask(
    db: sqlite_utils.Database,
    run_id: int,
    session: Session,
    namer: Namer,
    wanted: list[dict[str, Any]],
    budget: int,
    now: Callable[[], datetime],
) -> tuple[set[str], str | None]:
    """One source, batch by batch within ``budget`` requests: (the DOIs it named, the
    failure that stopped it)."""
    named: set[str] = set()
    saved = 0

    def save(records: list[CitingRecord], dois: list[str]) -> None:
        """The new exchanges, the records merged, the asked rows stamped: one transaction."""
        nonlocal saved
        with db.atomic():
            for exchange in session.exchanges[saved:]:
                store.save_exchange(db, run_id, exchange)
            saved = len(session.exchanges)
            marks = ",".join("?" * len(dois))
            db.execute(
                f"UPDATE citers SET looked_up_at = ? WHERE doi IN ({marks})", [store.iso(now()), *dois]
            )
            for record in records:
                citing.complete_citer(db, record, run_id, now())
            named.update(
                row["doi"]
                for row in db.query(
                    f"SELECT doi FROM citers WHERE doi IN ({marks}) AND title IS NOT NULL "
                    f"UNION SELECT preprint_doi FROM citers WHERE preprint_doi IN ({marks}) "
                    "AND title IS NOT NULL",
                    [*dois, *dois],
                )
            )

    askable = [w for w in wanted if not any(c in w["doi"] for c in namer.unsafe)]
    for batch in chunks(askable, namer.batch_size):
        if len(session.exchanges) >= budget:
            break
        dois = [w["doi"] for w in batch]
        try:
            exchange = namer.request(session, [Work(doi) for doi in dois])
            records = _parsed(namer, exchange)
        except FetchFailure as failure:
            save([], [])
            quiet = failure.outcome is Outcome.NOT_CONFIGURED  # the source's own status says so
            return named, None if quiet else failure.message
        except MalformedResponse as exc:
            save([], [])
            return named, f"unexpected response: {exc}"
        # an answer counts only for a DOI asked: never name one work with another's record
        save([r for r in records if r.doi in dois], dois)
    return named, None


def _parsed(namer: Namer, exchange: Exchange) -> list[CitingRecord]:
    """The answer's records; one whose shape we do not know is left out, not the batch."""
    records = []
    for record in namer.records(exchange.json()):
        try:
            records.append(namer.parse(record, exchange))
        except MalformedResponse as exc:
            log.info("%s: a record left out of a lookup: %s", exchange.source, exc)
    return records
