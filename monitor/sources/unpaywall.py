"""Unpaywall: open-access status and the best open copy of a work. No citation count.

One request per work: ``GET /v2/{doi}?email=...`` (no batch endpoint; bulk use is
the data snapshot; no citations, so no list). The email is required: without one the
collector records not_configured, and the API itself answers 422. An unknown DOI (not a
Crossref DOI, or not yet in Unpaywall) is a 404 with a JSON message ``'…' isn't in
Unpaywall``. The answer's ``doi`` must be the one asked for, else it is an error.

How fast: about 100,000 calls a day are suggested (apis.md §9); nothing is published on
requests in flight. We ask 5 a second, 3 at a time. Open access changes slowly, so a work
is asked again once its last answer is 7 days old (or when a batched source's count of
it moved), at most 10,000 requests a run, the oldest answers first (monitor/plan.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.fetching import FetchFailure, Session
from monitor.models import Exchange, Observation, Outcome, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    answered_doi,
    doi_path,
    expect_status,
    json_unless_404,
    lookup_each,
    may,
    need,
)

SPEC = SourceSpec(
    name="unpaywall",
    title="Unpaywall",
    base_url="https://api.unpaywall.org/v2",
    requests_per_second=5.0,
    needs_contact=True,
    counts_citations=False,
    homepage="https://unpaywall.org",
    max_concurrency=3,
    refresh_days=7.0,
    max_requests=10_000,
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    return lookup_each(works, session, lambda work: request(session, work), parse_response)


def request(session: Session, work: Work) -> Exchange:
    params = {"email": session.contact_email} if session.contact_email else {}
    exchange = session.get("/" + doi_path(work.doi), params=params)
    if exchange.status_code == 422:
        raise FetchFailure(
            Outcome.ERROR,
            "Unpaywall refused the request for want of a usable email (HTTP 422); "
            "set [monitor] contact_email to an address you read",
            exchange,
        )
    expect_status(exchange, 200, 404)
    return exchange


def parse_response(exchange: Exchange) -> Parsed | None:
    return json_unless_404(parse_record)(exchange)


def parse_record(record: Any) -> Parsed:
    """One Unpaywall DOI object → OA metadata and two metrics; citations stay None."""
    is_oa = need(record, "is_oa", bool)
    best = may(record, "best_oa_location", dict) or {}
    where = "best_oa_location."
    locations = may(record, "oa_locations", list)
    metrics = {
        "oa_locations_count": len(locations) if locations is not None else None,
        "has_repository_copy": may(record, "has_repository_copy", bool),
        "journal_is_oa": may(record, "journal_is_oa", bool),
    }
    metadata = {
        "is_oa": is_oa,
        "oa_status": need(record, "oa_status", str),
        "oa_url": may(best, "url", str, where),
        "oa_pdf_url": may(best, "url_for_pdf", str, where),
        "oa_landing_url": may(best, "url_for_landing_page", str, where),
        "oa_license": may(best, "license", str, where),
        "oa_version": may(best, "version", str, where),
        "oa_host_type": may(best, "host_type", str, where),
    }
    return Parsed(
        citations=None,
        metrics={k: v for k, v in metrics.items() if v is not None},
        metadata={k: v for k, v in metadata.items() if v not in (None, "")},
        about=answered_doi(record),
    )
