"""Dimensions Metrics API: times cited, recent citations, FCR and RCR, keyless.

One request per work: ``GET /doi/{doi}``; there is no batch endpoint, and no list of
citing works at all (that is the licensed Analytics API). The answer
is a small flat object: ``doi``, ``times_cited``, ``recent_citations`` (the last
two calendar years), ``field_citation_ratio``, ``relative_citation_ratio``, the
``highly_cited_1/5/10`` flags and a ``license`` notice (public client code and a
documented sample, apis.md §8); the ``doi`` must be the one asked for, else the answer
is an error. An unknown DOI is answered with HTTP 404, which
clients treat as "no record". The ratios are null for papers too young to have
them.

How fast: no rate limit is published; we ask once a second, one at a time, as clients
do. One request a work is costly, so a work is asked again only when a batched source's
count of it moved, or once its last answer is 14 days old, at most 2,000 requests a run,
the oldest answers first (monitor/plan.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.fetching import Session
from monitor.models import Exchange, Observation, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    answered_doi,
    count,
    doi_path,
    expect_status,
    json_unless_404,
    lookup_each,
    may,
)

SPEC = SourceSpec(
    name="dimensions",
    title="Dimensions",
    base_url="https://metrics-api.dimensions.ai",
    requests_per_second=1.0,  # nothing published; clients sleep 1 s between calls
    homepage="https://www.dimensions.ai",
    refresh_days=14.0,
    max_requests=2_000,
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    return lookup_each(works, session, lambda work: request(session, work), parse_response)


def request(session: Session, work: Work) -> Exchange:
    exchange = session.get("/doi/" + doi_path(work.doi))
    expect_status(exchange, 200, 404)
    return exchange


def parse_response(exchange: Exchange) -> Parsed | None:
    return json_unless_404(parse_metrics)(exchange)


def parse_metrics(record: Any) -> Parsed:
    """One Metrics API object → count and metrics; a missing optional metric is left out."""
    citations = count(record, "times_cited")  # also checks that the record is an object
    recent = record.get("recent_citations")
    metrics = {
        "recent_citations": None if recent is None else count(record, "recent_citations"),
        "field_citation_ratio": may(record, "field_citation_ratio", float),
        "relative_citation_ratio": may(record, "relative_citation_ratio", float),
        "highly_cited_1": may(record, "highly_cited_1", bool),
        "highly_cited_5": may(record, "highly_cited_5", bool),
        "highly_cited_10": may(record, "highly_cited_10", bool),
    }
    return Parsed(
        citations=citations,
        metrics={k: v for k, v in metrics.items() if v is not None},
        about=answered_doi(record),
    )
