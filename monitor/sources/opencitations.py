"""OpenCitations Index: the count of open citations (Crossref, PubMed and other open references).

One request per work: ``GET /citation-count/doi:{doi}`` → ``[{"count": "34"}]``, the
count a string of digits. Index API v2 takes one id per call: there is no batch form,
for counts or for citing lists (the Meta API takes ``__``-joined ids, but gives no
citations). An optional access token goes in the ``authorization`` header.

How fast: 180 requests a minute per IP (apis.md §4(e)), nothing published on requests in
flight: we ask 3 a second, 3 at a time. One request a work is costly, so a work is asked
again only when a batched source's count of it moved, or once its last answer is 30 days
old (OpenCitations publishes new data every month or two), at most 2,000 requests a run,
the oldest answers first (monitor/plan.py).

OpenCitations cannot tell "not indexed" from "zero citations": a DOI it has never
seen also answers ``[{"count": "0"}]`` (its own test suite asserts this for
``doi:10.9999/nonexistent``). So a 0 is checked against OpenCitations' own metadata,
the Meta API (``GET /meta/v1/metadata/doi:{doi}`` on the same host: a list of records,
each with an ``id`` of space-separated PIDs, ``"doi:… openalex:W… omid:br/…"``): ok
with 0 only when Meta knows the DOI, not_found when it does not, or when the check
fails (we cannot tell). An empty list, which says nothing about the work, is not_found.
The count answer names no work, so nothing else in it can be checked.

Citing works (the ledger): ``GET /citations/doi:{doi}`` → every citation in one array,
no paging: ``[{"oci", "citing", "cited", "creation", "timespan", "journal_sc",
"author_sc"}]``. Each row's ``cited`` must name the DOI asked for: a list about another
work is an error, never a list of this one. ``citing`` lists the citing work's ids, space-separated
(``omid:br/061… doi:10.… pmid:…``; in the legacy COCI v1 a bare DOI); ``creation`` is its
publication date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``); the ``*_sc`` flags are
``yes``/``no``. A value found in several indexes is written ``coci => a; poci => b``: the
first is taken. The server's query stops at 200,000 rows, so an answer that long may be cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import BudgetSpent, FetchFailure, Session
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Outcome, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    budgeted,
    citing_list,
    count,
    expect_status,
    lookup_one,
    may,
    need,
    pmcid_or_none,
)

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
    max_concurrency=3,
    refresh_days=30.0,
    max_requests=2_000,
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    def counted(work: Work) -> list[Observation]:
        obs = lookup_one(
            work, session, lambda w: request(session, w), lambda e: parse_count(e.json())
        )
        if obs.outcome is Outcome.OK and obs.citations == 0:
            obs = confirm_zero(work, obs, session)
        return [obs]

    def ask(work: Work) -> list[Observation]:
        observed = budgeted(session, [work], lambda: counted(work))
        session.done(1)
        return observed

    return [o for observed in session.map(ask, works) for o in observed]


def meta_url(base_url: str) -> str:
    """The Meta API beside the Index API: ``…/index/v2`` → ``…/meta/v1``."""
    return re.sub(r"/index(/v\d+)?/?$", "", base_url) + "/meta/v1"


def confirm_zero(work: Work, counted: Observation, session: Session) -> Observation:
    """A count of 0 stands only if OpenCitations Meta knows the DOI; else it is not_found."""
    source = session.source.name
    unsure = "OpenCitations counts 0, which it also answers for a DOI it does not know"
    token = session.source.api_key
    try:
        exchange = session.get(
            f"{meta_url(session.source.base_url)}/metadata/doi:{quote(work.doi, safe='/')}",
            headers={"authorization": token} if token else None,
        )
        expect_status(exchange, 200)
    except BudgetSpent:
        raise
    except FetchFailure as failure:
        message = f"{unsure}, and its metadata lookup failed ({failure.message}): not counted"
        return Observation(work.doi, source, Outcome.NOT_FOUND, message, exchange=failure.exchange)
    try:
        known = meta_knows(exchange.json(), work.doi)
    except MalformedResponse as exc:
        message = f"{unsure}, and its metadata answer is not usable ({exc}): not counted"
        return Observation(work.doi, source, Outcome.NOT_FOUND, message, exchange=exchange)
    if not known:
        message = f"{unsure}, and OpenCitations Meta has no record of this DOI: not indexed"
        return Observation(work.doi, source, Outcome.NOT_FOUND, message, exchange=exchange)
    return counted


def meta_knows(payload: Any, doi: str) -> bool:
    """Whether a Meta answer holds a record whose ``id`` names ``doi``; a record about
    another work is no record of this one."""
    if not isinstance(payload, list):
        raise MalformedResponse(f"expected a list of records, got {type(payload).__name__}")
    for i, record in enumerate(payload):
        ids = parse_pids(need(record, "id", str, f"[{i}]."))
        if doi_or_none(ids.get("doi")) == doi:
            return True
    return False


def request(session: Session, work: Work, operation: str = "citation-count") -> Exchange:
    """``GET /{operation}/doi:{doi}`` with the access token, if any; only 200 is an answer."""
    token = session.source.api_key
    exchange = session.get(
        f"/{operation}/doi:{quote(work.doi, safe='/')}",
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


# --- citing works (the ledger) ---

ROW_LIMIT = 200_000  # the LIMIT of the server's SPARQL query behind /citations
_INDEX_PREFIX = re.compile(r"^\s*\[?[A-Za-z][\w -]*\]?\s*=>\s*")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?")
_FLAGS = {"yes": True, "no": False}


def fetch_citing(work: Work, observation: Observation, session: Session) -> CitingList:
    """The whole list in one answer: complete unless the server's row limit may have cut it."""
    exchange = request(session, work, "citations")
    rows = exchange.json()
    records = parse_citations(rows, exchange)
    for i, row in enumerate(rows):
        cited = parse_pids(first_value(may(row, "cited", str, f"[{i}]."))).get("doi")
        if cited is not None and doi_or_none(cited) != work.doi:
            raise WrongWork(f"a citation of {cited}", work.doi)
    complete = len(rows) < ROW_LIMIT
    if not records and observation.citations:
        complete = False  # an empty list for a cited work is a glitch, not a fact to act on
    return citing_list(work, observation, records, complete)


def parse_citations(payload: Any, exchange: Exchange | None = None) -> list[CitingRecord]:
    """Rows of ``/citations`` (Index v2 or legacy COCI v1) → citing works, each citation once."""
    if not isinstance(payload, list):
        raise MalformedResponse(f"expected a list of citations, got {type(payload).__name__}")
    records: list[CitingRecord] = []
    seen: set[str] = set()
    for i, row in enumerate(payload):
        where = f"[{i}]."
        key = first_value(may(row, "oci", str, where)) or first_value(
            need(row, "citing", str, where)
        )
        if key in seen:
            continue
        seen.add(key)
        record = parse_citation(row, exchange, where)
        if record is not None:
            records.append(record)
    return records


def parse_citation(
    row: Any, exchange: Exchange | None = None, where: str = ""
) -> CitingRecord | None:
    """One row → the citing work; None when it carries no DOI, PMID or OpenAlex id."""
    ids = parse_pids(first_value(need(row, "citing", str, where)))
    published = _date(first_value(may(row, "creation", str, where)), f"{where}creation")
    record = CitingRecord(
        source=SPEC.name,
        doi=doi_or_none(ids.get("doi")),
        pmid=ids.get("pmid") if (ids.get("pmid") or "").isdigit() else None,
        pmcid=pmcid_or_none(ids.get("pmcid")),
        openalex_id=ids.get("openalex"),
        year=int(published[:4]) if published else None,
        published=published,
        author_sc=_flag(row, "author_sc", where),
        journal_sc=_flag(row, "journal_sc", where),
        exchange=exchange,
    )
    if not (record.doi or record.pmid or record.openalex_id):
        return None  # known only by its OMID: nothing the ledger could match it by
    return record


def first_value(value: str | None) -> str:
    """``'coci => a; poci => b'`` → ``'a'``; a plain value comes back stripped."""
    if not value:
        return ""
    return _INDEX_PREFIX.sub("", value.split("; ")[0]).strip()


def parse_pids(text: str) -> dict[str, str]:
    """``'omid:br/061 doi:10.1/x pmid:123'`` → ``{'omid': 'br/061', 'doi': '10.1/x', 'pmid': '123'}``.

    The first id of each scheme is kept; a bare DOI (legacy COCI v1) counts as ``doi``.
    """
    ids: dict[str, str] = {}
    for token in text.split():
        scheme, sep, value = token.partition(":")
        if token.startswith("10."):
            scheme, value = "doi", token
        elif not sep or not value:
            continue
        ids.setdefault(scheme.lower(), value)
    return ids


def _date(value: str, field: str) -> str | None:
    if not value:
        return None
    match = _DATE.match(value)
    if match is None:
        raise MalformedResponse(
            f"field '{field}' should be a date YYYY[-MM[-DD]], got {value[:40]!r}"
        )
    return match.group(0)


def _flag(row: Any, key: str, where: str) -> bool | None:
    value = first_value(may(row, key, str, where)).lower()
    if not value:
        return None
    if value not in _FLAGS:
        raise MalformedResponse(f"field '{where}{key}' should be yes or no, got {value[:40]!r}")
    return _FLAGS[value]
