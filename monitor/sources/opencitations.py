"""OpenCitations Index: the count of open citations (Crossref, PubMed and other open references).

One request per work: ``GET /citation-count/doi:{doi}`` → ``[{"count": "34"}]``, the
count a string of digits. Index API v2 takes one id per call (no batch). Limit:
180 requests a minute per IP. An optional access token goes in the ``authorization``
header.

OpenCitations cannot tell "not indexed" from "zero citations": a DOI it has never
seen also answers ``[{"count": "0"}]`` (its own test suite asserts this for
``doi:10.9999/nonexistent``). We record what it says, ok with 0; only an empty
list, which says nothing about the work, is not_found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from monitor.errors import MalformedResponse
from monitor.fetching import Session
from monitor.models import Exchange, Observation, Work
from monitor.sources.base import Parsed, SourceSpec, count, expect_status, lookup_each

SPEC = SourceSpec(
    name="opencitations",
    title="OpenCitations",
    base_url="https://api.opencitations.net/index/v2",
    requests_per_second=3.0,  # 180 requests/minute per IP
    api_key_env="OPENCITATIONS_ACCESS_TOKEN",
    key_hint=(
        "an OpenCitations access token is optional but encouraged: get one at "
        "https://opencitations.net/accesstoken and put it in the environment variable named by "
        "[sources.opencitations] api_key_env"
    ),
    homepage="https://opencitations.net",
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    return lookup_each(
        works,
        session,
        request=lambda work: request(session, work),
        parse=lambda exchange: parse_count(exchange.json()),
    )


def request(session: Session, work: Work) -> Exchange:
    token = session.source.api_key
    exchange = session.get(
        f"/citation-count/doi:{quote(work.doi, safe='/')}",
        headers={"authorization": token} if token else None,
    )
    expect_status(exchange, 200)
    return exchange


def parse_count(payload: Any) -> Parsed | None:
    """``[{"count": "34"}]`` → 34 citations; ``[]`` → None (not_found)."""
    if not isinstance(payload, list):
        raise MalformedResponse(f"expected a list of rows, got {type(payload).__name__}")
    if not payload:
        return None
    return Parsed(citations=count(payload[0], "count", "[0]."))
