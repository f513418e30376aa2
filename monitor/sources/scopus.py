"""Scopus (Elsevier Search API): the Scopus citation count, which university portals show.

Batch: ``GET /content/search/scopus?query=DOI("a") OR DOI("b")&count=25``, as Elsevier
suggests for cited-by counts of many documents in one go, each DOI quoted as its search
guide writes them (a DOI's ``(``, ``)`` or ``+`` would otherwise be read as query syntax:
apis.md §0b); each ``entry`` carries its ``prism:doi``, which matches it back to its work. No match at all is still
HTTP 200, with one entry ``{"error": "Result set was empty"}`` and
``opensearch:totalResults`` "0". The key goes in the ``X-ELS-APIKey`` header,
never in the URL; a key works only for a subscriber (by network or institution
token), else 401/403. The Search API allows 20,000 requests a week and reports
``X-RateLimit-Remaining``; quota spent is 429.

How fast: the Search API allows 20,000 requests a week (apis.md §10(e)); clients go at
about 9 a second. We ask 2 a second, 2 at a time, and at most 2,500 requests a run, so
a daily run stays within the week's quota (62,500 works a run; beyond that the oldest
answers are asked first, monitor/plan.py).

Citing works: not listed. The search's ``REFEID()`` query lists citing documents one
cited work at a time, and the Citation Overview API (yearly counts, 25 documents a call)
needs Elsevier's approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse
from monitor.fetching import Session
from monitor.models import Exchange, Observation, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    check_key,
    count,
    expect_status,
    lookup_batches,
    may,
    need,
)

SPEC = SourceSpec(
    name="scopus",
    title="Scopus",
    base_url="https://api.elsevier.com",
    requests_per_second=2.0,  # far below the ~9/s clients use; the weekly quota is what binds
    batch_size=25,  # the Search API's page size for the COMPLETE view; STANDARD allows more
    api_key_env="SCOPUS_API_KEY",
    needs_key=True,
    key_hint=(
        "Scopus needs an Elsevier API key (usable from a subscribing institution): get one at "
        "https://dev.elsevier.com/ and put it in the environment variable named by "
        "[sources.scopus] api_key_env"
    ),
    homepage="https://www.scopus.com",
    max_concurrency=2,
    max_requests=2_500,
)
EMPTY = "Result set was empty"


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    return lookup_batches(
        works,
        session,
        SPEC.batch_size,
        request=lambda batch: request(session, batch),
        records=entries,
        key=lambda entry: doi_or_none(entry.get("prism:doi")),
        parse=parse_entry,
        # Scopus holds duplicates: a page of 25 can leave a tracked DOI out.
        total=lambda payload: count(
            payload["search-results"], "opensearch:totalResults", "search-results."
        ),
    )


def request(session: Session, batch: list[Work]) -> Exchange:
    params = {"query": " OR ".join(query(w) for w in batch), "count": str(SPEC.batch_size)}
    key = session.source.api_key
    headers = {"Accept": "application/json", **({"X-ELS-APIKey": key} if key else {})}
    exchange = session.get(
        "/content/search/scopus", params=params, headers=headers, batch=len(batch)
    )
    check_key(
        exchange,
        session,
        SPEC,
        "it is wrong or not entitled from this network: check it at https://dev.elsevier.com/",
    )
    expect_status(exchange, 200)
    return exchange


def query(work: Work) -> str:
    """``DOI("10.1021/es052595+")``: quoted, with a quote or backslash inside escaped."""
    escaped = work.doi.replace("\\", "\\\\").replace('"', '\\"')
    return f'DOI("{escaped}")'


def entries(payload: Any) -> list[dict[str, Any]]:
    """The matched documents of a search page; the 'Result set was empty' entry is none."""
    results = need(payload, "search-results", dict)
    found = []
    for entry in may(results, "entry", list, "search-results.") or []:
        if not isinstance(entry, dict):
            raise MalformedResponse(
                f"search-results.entry[] should hold objects, got {entry!r:.40}"
            )
        if "error" in entry:
            if entry["error"] != EMPTY:
                raise MalformedResponse(f"Scopus reported an error: {str(entry['error'])[:120]}")
            continue
        found.append(entry)
    return found


def parse_entry(entry: dict[str, Any]) -> Parsed:
    """One search-results entry → the Scopus count and the record's identifiers."""
    identifier = may(entry, "dc:identifier", str)
    date = may(entry, "prism:coverDate", str)
    citedby = [
        link.get("@href")
        for link in may(entry, "link", list) or []
        if isinstance(link, dict) and link.get("@ref") == "scopus-citedby"
    ]
    metadata = {
        "scopus_id": identifier.removeprefix("SCOPUS_ID:") if identifier else None,
        "eid": may(entry, "eid", str),
        "title": may(entry, "dc:title", str),
        "journal": may(entry, "prism:publicationName", str),
        "published": date,
        "year": int(date[:4]) if date and date[:4].isdigit() else None,
        "scopus_citedby_url": next((u for u in citedby if isinstance(u, str)), None),
    }
    return Parsed(
        citations=count(entry, "citedby-count"),
        metadata={k: v for k, v in metadata.items() if v not in (None, "")},
    )
