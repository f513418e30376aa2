"""``citation-monitor check``: can each enabled source be reached, and do we still read it?

One lookup per enabled source, of the first tracked work, through the source's own
``fetch``, so the answer goes through the very parser a run uses: a field that went
missing is named, as a run would name it. For each source it tells whether the server
answered, whether the key (if any) was accepted, the rate-limit headers it sent, and
whether the answer has the fields we parse. Nothing is stored: no database is opened.

The sources that look works up by PMID use the first work's ``pmid``, or the one a
source checked before them found (as in a run). A source that needs a key or a contact
email it lacks is not configured: reported, not counted as a failure, since ``run``
does not count it either.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import httpx

from monitor.collect import session_for
from monitor.config import Config, SourceConfig
from monitor.fetching import KEPT_HEADERS, FetchFailure, make_client, utcnow
from monitor.models import Exchange, Observation, Outcome, Work
from monitor.sources import SOURCES

log = logging.getLogger(__name__)
RATE_HEADERS = tuple(h for h in KEPT_HEADERS if h not in ("content-type",))


@dataclass(frozen=True)
class SourceCheck:
    """What one request told us about one source."""

    source: str
    status: str  # "ok", "failed" or "skipped"
    reachable: bool
    key: str  # "accepted", "refused", "not needed", "none (optional)", "missing"
    fields: str  # "ok", "not checked: …", or what is wrong
    rate_limits: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status != "failed"


def check(
    config: Config,
    *,
    now: Callable[[], datetime] = utcnow,
    client: httpx.Client | None = None,
) -> tuple[Work | None, list[SourceCheck]]:
    """Check every enabled source with the first tracked work; returns the work and one
    result per source, in registry order (PMID sources after the ones that find PMIDs)."""
    first = first_work(config)
    if first is None:
        return None, []
    work = first
    own = client is None
    client = client or make_client(config.contact_email, config.http)
    results: dict[str, SourceCheck] = {}
    try:
        enabled = config.enabled_sources
        ordered = sorted(enabled, key=lambda s: SOURCES[s.name].SPEC.needs_pmid)
        for source in ordered:
            result, found = check_source(source, work, config, client, now)
            results[source.name] = result
            if found and not work.pmid:
                work = replace(work, pmid=found)
    finally:
        if own:
            client.close()
    return first, [results[s.name] for s in config.enabled_sources]


def first_work(config: Config) -> Work | None:
    """The first ``[[works]]`` entry; else the first work a run tracked (a config of
    collections only), read from the database without writing to it."""
    if config.works:
        return config.works[0]
    if not config.database.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{config.database.as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT doi, pmid FROM works WHERE tracked = 1 ORDER BY id LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return Work(row[0], pmid=row[1]) if row else None


def check_source(
    source: SourceConfig,
    work: Work,
    config: Config,
    client: httpx.Client,
    now: Callable[[], datetime],
) -> tuple[SourceCheck, str | None]:
    """One source's check, and the PMID its answer gave (for the sources that need one)."""
    spec = SOURCES[source.name].SPEC
    if spec.needs_key and not source.has_key:
        return _skipped(source, "missing", spec.key_hint), None
    if spec.needs_contact and not config.contact_email:
        return _skipped(source, "not needed", "needs [monitor] contact_email"), None
    if spec.needs_pmid and not work.pmid:
        return _skipped(
            source, _key(source, []), "no PMID for the first work: set pmid in its [[works]] entry"
        ), None
    deadline = time.monotonic() + config.http.request_deadline_seconds
    session = session_for(source, client, config, now=now, deadline=deadline)
    try:
        [observation] = SOURCES[source.name].fetch([work], session)
    except FetchFailure as failure:  # a source module that lets one through
        observation = Observation(work.doi, source.name, failure.outcome, failure.message)
    except Exception as exc:  # a bug must not hide the other sources' results
        log.exception("%s: unexpected failure while checking", source.name)
        observation = Observation(work.doi, source.name, Outcome.ERROR, f"internal error: {exc!r}")
    return _result(source, observation, session.exchanges), observation.metadata.get("pmid")


def _result(source: SourceConfig, obs: Observation, exchanges: list[Exchange]) -> SourceCheck:
    key = _key(source, exchanges)
    message = obs.message if obs.outcome is not Outcome.OK else ""
    limits = {}
    for exchange in exchanges:
        limits.update({k: v for k, v in exchange.headers.items() if k.lower() in RATE_HEADERS})
    if obs.outcome is Outcome.OK:
        fields = "ok"
    elif obs.outcome is Outcome.NOT_FOUND:
        fields = "not checked: the first work is not indexed here"
    elif "unexpected response" in obs.message or "answered for another work" in obs.message:
        fields = obs.message
    else:
        fields = "not checked"
    failed = obs.outcome.is_failure or key == "refused"
    if obs.outcome is Outcome.NOT_CONFIGURED:
        return _skipped(source, key, obs.message)
    return SourceCheck(
        source.name,
        "failed" if failed else "ok",
        reachable=bool(exchanges),
        key=key,
        fields=fields,
        rate_limits=limits,
        message=message,
    )


def _key(source: SourceConfig, exchanges: list[Exchange]) -> str:
    if not source.api_key_env:
        return "not needed"
    if not source.has_key:
        return "none (optional)"
    refused = any(e.status_code in (401, 403) for e in exchanges)
    return "refused" if refused else ("accepted" if exchanges else "not tried")


def _skipped(source: SourceConfig, key: str, why: str) -> SourceCheck:
    return SourceCheck(
        source.name, "skipped", reachable=False, key=key, fields="not checked", message=why
    )


def lines(work: Work, results: list[SourceCheck]) -> list[str]:
    """What ``citation-monitor check`` prints: a heading, then a line per source."""
    width = max((len(r.source) for r in results), default=8)
    return [f"Checking {len(results)} sources with {work.doi}…"] + [
        describe(r, width) for r in results
    ]


def describe(result: SourceCheck, width: int = 16) -> str:
    """One line per source, for the terminal."""
    label = {"ok": "ok", "failed": "FAILED", "skipped": "skipped"}[result.status]
    if result.status == "skipped":
        return f"{result.source:<{width}} {label:<7} {result.message}"
    parts = [
        "reachable" if result.reachable else "not reachable",
        f"key {result.key}",
        f"fields {result.fields}",
    ]
    if result.rate_limits:
        parts.append(
            "limits " + ", ".join(f"{k.lower()}={v}" for k, v in sorted(result.rate_limits.items()))
        )
    line = f"{result.source:<{width}} {label:<7} " + "; ".join(parts)
    if result.message and result.message not in result.fields:
        line += f" ({result.message})"
    return line
