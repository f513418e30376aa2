"""Altmetric Details Page API (counts): the attention score and who mentioned a work.

One request per work: ``GET /v1/doi/{doi}?key=KEY`` (no batch endpoint in the Details
Page API; no citing works). Since
10 Nov 2025 every call needs a key, which this API takes only as a query
parameter: it is listed in ``secret_params`` so stored URLs carry ``REDACTED``.
A DOI with no attention is a 404. Attention is not citation: ``citations`` stays
None and the numbers go in metrics. The legacy keyless limit was 1 call a
second; keyed limits come in ``X-HourlyRateLimit-*`` / ``X-DailyRateLimit-*``
headers, and 429 when exceeded. The answer's ``doi`` must be the one asked for, else
it is an error.

How fast: we ask once a second, one at a time (the legacy limit; keyed allowances vary,
and a spent one stops the run's asking, see monitor/pacing.py). A work is asked again
once its last answer is 7 days old (or when a batched source's count of it moved), at
most 1,000 requests a run, the oldest answers first (monitor/plan.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.errors import MalformedResponse
from monitor.fetching import Session
from monitor.models import Exchange, Observation, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    answered_doi,
    check_key,
    count,
    doi_path,
    expect_status,
    json_unless_404,
    lookup_each,
    may,
    need,
)

SPEC = SourceSpec(
    name="altmetric",
    title="Altmetric",
    base_url="https://api.altmetric.com/v1",
    requests_per_second=1.0,
    api_key_env="ALTMETRIC_API_KEY",
    needs_key=True,
    counts_citations=False,
    key_hint=(
        "Altmetric needs an API key since 10 Nov 2025 (free for non-commercial research, on "
        "application): apply at https://www.altmetric.com/solutions/altmetric-api/ and put it "
        "in the environment variable named by [sources.altmetric] api_key_env"
    ),
    secret_params=("key",),
    homepage="https://www.altmetric.com",
    refresh_days=7.0,
    max_requests=1_000,
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    return lookup_each(works, session, lambda work: request(session, work), parse_response)


def request(session: Session, work: Work) -> Exchange:
    key = session.source.api_key
    exchange = session.get("/doi/" + doi_path(work.doi), params={"key": key} if key else {})
    check_key(
        exchange,
        session,
        SPEC,
        "check it with Altmetric support or apply at https://www.altmetric.com/solutions/altmetric-api/",
    )
    expect_status(exchange, 200, 404)
    return exchange


def parse_response(exchange: Exchange) -> Parsed | None:
    return json_unless_404(parse_counts)(exchange)


def parse_counts(record: Any) -> Parsed:
    """One counts object → attention metrics; the score is required, the rest optional."""
    score = need(record, "score", float)
    readers = may(record, "readers", dict) or {}
    everyone = may(may(record, "context", dict), "all", dict, "context.") or {}
    metrics: dict[str, Any] = {"altmetric_score": score}
    for name in sorted(record):
        if name.startswith("cited_by_") and name.endswith("_count"):
            metrics[name] = count(record, name)
    metrics["readers_count"] = may(record, "readers_count", int)
    metrics["mendeley_readers"] = _readers(readers.get("mendeley"))
    metrics["altmetric_percentile_all"] = may(everyone, "pct", float, "context.all.")
    altmetric_id = may(record, "altmetric_id", (int, str))
    metadata = {
        "altmetric_id": str(altmetric_id) if altmetric_id is not None else None,
        "details_url": may(record, "details_url", str),
    }
    return Parsed(
        citations=None,
        metrics={k: v for k, v in metrics.items() if v is not None},
        metadata={k: v for k, v in metadata.items() if v},
        about=answered_doi(record),
    )


def _readers(value: Any) -> int | None:
    """readers.mendeley: "95" or 95; -1 (seen in the documented sample) means unknown."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MalformedResponse(f"field 'readers.mendeley' should be a count, got {value!r:.40}")
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        number = int(text)
        return number if number >= 0 else None
    raise MalformedResponse(f"field 'readers.mendeley' should be a count, got {value!r:.40}")
