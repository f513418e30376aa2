"""Semantic Scholar: citation count, influential citations, TLDR, fields of study.

Batch: ``POST /paper/batch?fields=...`` with ``{"ids": ["DOI:10...", ...]}``, at most
500 ids a request. The answer is an array meant to be aligned with ``ids``: ``null``
where an id is unknown (not_found). Records are matched to works by identity, never by
position alone (an answer out of order must not swap two counts): by the DOI in
``externalIds`` (spelled in any case, ``10.1093/MIND/...``). A record in a work's place
that names another DOI may be an alias Semantic Scholar keeps for the same paper
(``10.1016/S1368-7646(21)00015-7`` for an Elsevier article), or an answer for another
work: the work is asked again alone (``GET /paper/DOI:…``), and counted only if that
answer is the same paper (same ``paperId``) or names its DOI; else it is an error,
"answered for another work". An answer must stay under 10 MB: a batch refused (400,
"… maximum size", or any other 400: one odd id) or given up on (504 or a timeout, as
batches of 500 with abstracts have been: apis.md §0b) is asked again in halves.

How fast: a key allows 1 request a second (apis.md §3(e)); no limit of requests in
flight is published. We ask 1 a second, 2 at a time (a batch of 500 can take longer than
a second to answer), at most 3,000 requests a run. Every tracked work is asked at every
run.

A key is optional (header ``x-api-key``). Without one we share an anonymous pool
that answers 429 often and sends no Retry-After; the Session backs off with jitter,
and a 429 that outlasts the retries says where to get a key. 403 with a key means
the key was refused (keys lapse after long disuse).

Citing works (the ledger): ``GET /paper/{id}/citations?fields=...&offset=N&limit=M``,
``{"offset", "next", "data": [{"citingPaper": {...}, "contexts", "intents",
"isInfluential"}]}``, the last page without ``next``. The id is the paperId the count
lookup returned (``DOI:...`` when there is none). Pages of 1000 (the documented
maximum); ``offset + limit`` stays below 10,000, where the API stops listing, so a
work cited more often gets an incomplete list. A page refused as too large (400,
"Response would exceed maximum size") is asked again at half the size. One paper a
request: ``/paper/batch`` can return each paper's ``citations`` too, but without the
contexts, intents and influence of each, and cut short, so lists are not batched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import BudgetSpent, FetchFailure, Session
from monitor.ledger import normalize_title
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Outcome, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    budgeted,
    chunks,
    count,
    doi_path,
    expect_status,
    failed,
    malformed,
    may,
    need,
    observe,
    pmcid_or_none,
    strip_markup,
)
from monitor.sources.listing import Listing

SPEC = SourceSpec(
    name="semanticscholar",
    title="Semantic Scholar",
    base_url="https://api.semanticscholar.org/graph/v1",
    requests_per_second=1.0,  # a key's allowance; the keyless pool is shared and 429s anyway
    batch_size=500,
    api_key_env="SEMANTIC_SCHOLAR_API_KEY",
    key_hint=(
        "a free Semantic Scholar API key (https://www.semanticscholar.org/product/api#api-key-form) "
        "avoids the busy shared pool: put it in the environment variable named by "
        "[sources.semanticscholar] api_key_env"
    ),
    homepage="https://www.semanticscholar.org",
    max_concurrency=2,
    max_requests=3_000,
    list_keys=("s2_id",),
)

# Every field the parser reads, and nothing more (the answer must stay under 10 MB).
FIELDS = (
    "paperId,externalIds,title,abstract,venue,publicationVenue,year,publicationDate,journal,"
    "publicationTypes,authors,citationCount,influentialCitationCount,referenceCount,"
    "isOpenAccess,openAccessPdf,fieldsOfStudy,s2FieldsOfStudy,tldr"
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    def ask(batch: list[Work]) -> list[Observation]:
        observed = budgeted(session, batch, lambda: lookup(batch, session))
        session.done(len(batch))
        return observed

    return [o for observed in session.map(ask, list(chunks(works, SPEC.batch_size))) for o in observed]


class _TooLarge(Exception):
    """A batch refused (its answer would pass the 10 MB cap; an odd id) or given up on
    (504, a timeout): ask again in two halves."""


def lookup(batch: list[Work], session: Session) -> list[Observation]:
    """One batch request, each record matched to its work by identity; an answer too
    large for the API is asked again in halves."""
    source = session.source.name
    try:
        exchange = request(session, batch)
    except _TooLarge:
        half = len(batch) // 2
        return lookup(batch[:half], session) + lookup(batch[half:], session)
    except BudgetSpent:
        raise
    except FetchFailure as failure:
        return failed(batch, source, failure)
    try:
        matches = match(exchange.json(), [asked_id(w) for w in batch])
    except MalformedResponse as exc:
        return malformed(batch, source, exc, exchange)
    observations = []
    for work, (record, stranger) in zip(batch, matches):
        if stranger is not None:
            observations.append(confirm(work, stranger, session))
        else:
            observations.append(observe(work, source, exchange, partial(_parse_or_none, record)))
    return observations


def _parse_or_none(record: Any) -> Parsed | None:
    return None if record is None else parse_paper(record)


def asked_id(work: Work) -> str:
    return f"DOI:{work.doi}"


def identities(record: Any) -> set[str]:
    """Every id a paper record answers to, in the forms the batch takes: ``DOI:10.…``
    (lower case), ``CorpusId:…``, ``ARXIV:…`` (and its DOI ``10.48550/arxiv.…``), the paperId."""
    if not isinstance(record, dict):
        return set()
    ids: dict[str, Any] = record.get("externalIds") or {}
    if not isinstance(ids, dict):
        ids = {}
    found = set()
    doi = doi_or_none(ids.get("DOI"))
    if doi:
        found.add(f"DOI:{doi}")
    if isinstance(ids.get("CorpusId"), (int, str)):
        found.add(f"CorpusId:{ids['CorpusId']}")
    if isinstance(ids.get("ArXiv"), str) and ids["ArXiv"]:
        found |= {f"ARXIV:{ids['ArXiv']}", f"DOI:10.48550/arxiv.{ids['ArXiv'].lower()}"}
    if isinstance(record.get("paperId"), str) and record["paperId"]:
        found.add(record["paperId"])
    return found


def _normal(asked: str) -> str:
    """An id as sent, in the form ``identities`` gives: a DOI lower-cased, prefixed."""
    if asked[:4].upper() == "DOI:" or asked.startswith("10."):
        doi = doi_or_none(asked[4:] if asked[:4].upper() == "DOI:" else asked)
        return f"DOI:{doi}" if doi else asked
    return asked


def match(payload: Any, asked: list[str]) -> list[tuple[Any | None, Any | None]]:
    """Pair a batch answer with the ids sent, by identity: for each id (its record, None),
    (None, None) when it is unknown, or (None, the record in its place) when that record
    names none of the ids sent for it (an alias, or an answer for another work)."""
    if not isinstance(payload, list):
        raise MalformedResponse(
            f"expected a list aligned with the ids sent, got {type(payload).__name__}"
        )
    if len(payload) != len(asked):
        raise MalformedResponse(f"answer has {len(payload)} entries for {len(asked)} ids sent")
    by_id: dict[str, Any] = {}
    for record in payload:
        for ident in identities(record):
            by_id.setdefault(ident, record)
    pairs: list[tuple[Any | None, Any | None]] = []
    for ident, in_place in zip(asked, payload):
        record = by_id.get(_normal(ident))
        if record is not None:
            pairs.append((record, None))
        else:
            pairs.append((None, in_place))  # None when the place holds null: unknown
    return pairs


def confirm(work: Work, stranger: Any, session: Session) -> Observation:
    """A record in the work's place names another DOI: ask for the work alone, and count it
    only if the answer is the same paper or names the work's DOI."""
    source = session.source.name
    named = sorted(i.removeprefix("DOI:") for i in identities(stranger) if i.startswith("DOI:"))
    elsewhere = ", ".join(named) or f"paper {stranger.get('paperId') if isinstance(stranger, dict) else '?'}"
    try:
        exchange = send(
            session, "GET", f"/paper/DOI:{doi_path(work.doi)}", params={"fields": FIELDS}
        )
    except FetchFailure as failure:
        why = f"{WrongWork(elsewhere, work.doi)}; asked alone, {failure.message}"
        return Observation(work.doi, source, Outcome.ERROR, why, exchange=failure.exchange)

    def parse_alone() -> Parsed:
        record = exchange.json()
        same_paper = isinstance(stranger, dict) and stranger.get("paperId") and (
            record.get("paperId") if isinstance(record, dict) else None
        ) == stranger.get("paperId")
        if not same_paper and asked_id(work) not in identities(record):
            raise WrongWork(elsewhere, work.doi)
        return parse_paper(record)

    return observe(work, source, exchange, parse_alone)


def request(session: Session, batch: list[Work]) -> Exchange:
    try:
        return send(
            session,
            "POST",
            "/paper/batch",
            params={"fields": FIELDS},
            json={"ids": [f"DOI:{w.doi}" for w in batch]},
            batch=len(batch),
        )
    except BudgetSpent:
        raise
    except FetchFailure as failure:
        if len(batch) > 1 and failure.divisible and not session.stopped:
            raise _TooLarge from None
        raise


def _too_large(failure: FetchFailure) -> bool:
    return (
        failure.exchange is not None
        and failure.exchange.status_code == 400
        and TOO_LARGE in failure.message
    )


def send(session: Session, method: str, path: str, **kwargs: Any) -> Exchange:
    """One request with the key (if any) in its header; any status but 200 raises FetchFailure."""
    key = session.source.api_key
    try:
        exchange = session.request(
            method, path, headers={"x-api-key": key} if key else None, **kwargs
        )
    except FetchFailure as failure:
        if failure.outcome is Outcome.RATE_LIMITED and not key:
            raise FetchFailure(
                failure.outcome, f"{failure.message}; {SPEC.key_hint}", failure.exchange
            ) from None
        raise
    if exchange.status_code == 403 and key:
        raise FetchFailure(
            Outcome.ERROR,
            f"Semantic Scholar refused the API key in ${session.source.api_key_env} (HTTP 403); "
            "check it, or ask for a new one at https://www.semanticscholar.org/product/api",
            exchange,
        )
    if exchange.status_code != 200:
        text = error_text(exchange)
        if text is None:
            expect_status(exchange, 200)  # raises, quoting the body
        raise FetchFailure(
            Outcome.ERROR, f"HTTP {exchange.status_code} from Semantic Scholar: {text}", exchange
        )
    return exchange


def error_text(exchange: Exchange) -> str | None:
    """The API's own words from an error body: ``{"error": ...}`` or ``{"message": ...}``."""
    try:
        payload = exchange.json()
    except MalformedResponse:
        return None
    if not isinstance(payload, dict):
        return None
    text = payload.get("error") or payload.get("message")
    return text[:200] if isinstance(text, str) else None


def parse_paper(record: Any) -> Parsed:
    """One paper record (from /paper/{id} or a /paper/batch entry) → count, metrics, metadata."""
    metrics = {
        "influential_citations": may(record, "influentialCitationCount", int),
        "references_count": may(record, "referenceCount", int),
    }
    return Parsed(
        citations=count(record, "citationCount"),
        metrics={k: v for k, v in metrics.items() if v is not None},
        metadata=parse_metadata(record),
    )


def parse_metadata(record: dict[str, Any]) -> dict[str, Any]:
    ids = may(record, "externalIds", dict) or {}
    journal = may(record, "journal", dict) or {}
    venue = may(record, "publicationVenue", dict) or {}
    pdf = may(record, "openAccessPdf", dict) or {}
    tldr = may(record, "tldr", dict) or {}
    name = may(journal, "name", str, "journal.") or may(venue, "name", str, "publicationVenue.")
    pages = _pages(may(journal, "pages", str, "journal."))
    corpus_id = may(record, "corpusId", int) or may(ids, "CorpusId", int, "externalIds.")
    pmcid = may(ids, "PubMedCentral", str, "externalIds.")
    status = may(pdf, "status", str, "openAccessPdf.")
    meta: dict[str, Any] = {
        "title": may(record, "title", str),
        "authors": [_author(a) for a in may(record, "authors", list) or [] if isinstance(a, dict)],
        "journal": name or may(record, "venue", str),
        "volume": may(journal, "volume", str, "journal."),
        "pages": pages if pages and "-" in pages else None,
        "article_number": pages if pages and "-" not in pages else None,
        "published": may(record, "publicationDate", str),
        "year": may(record, "year", int),
        "publication_types": may(record, "publicationTypes", list),
        "abstract": strip_markup(may(record, "abstract", str)),
        "tldr": may(tldr, "text", str, "tldr."),
        "fields_of_study": _fields_of_study(record),
        "is_oa": may(record, "isOpenAccess", bool),
        "oa_status": status.lower() if status else None,
        "oa_url": may(pdf, "url", str, "openAccessPdf."),
        "oa_license": may(pdf, "license", str, "openAccessPdf."),
        "s2_id": may(record, "paperId", str),
        "corpus_id": str(corpus_id) if corpus_id else None,
        "pmid": may(ids, "PubMed", str, "externalIds."),
        "pmcid": pmcid_or_none(pmcid),
    }
    return {k: v for k, v in meta.items() if v not in (None, [], "")}


def _author(author: dict[str, Any]) -> dict[str, Any]:
    entry = {"name": author.get("name"), "s2_id": author.get("authorId")}
    return {k: v for k, v in entry.items() if v}


def _pages(value: str | None) -> str | None:
    """'2149 - 2160' → '2149-2160'."""
    return re.sub(r"\s*-\s*", "-", value.strip()) if value and value.strip() else None


def _fields_of_study(record: dict[str, Any]) -> list[str]:
    """``fieldsOfStudy`` then the categories of ``s2FieldsOfStudy``, each once."""
    names = [f for f in may(record, "fieldsOfStudy", list) or [] if isinstance(f, str)]
    names += [
        f["category"]
        for f in may(record, "s2FieldsOfStudy", list) or []
        if isinstance(f, dict) and isinstance(f.get("category"), str)
    ]
    return list(dict.fromkeys(names))


# --- citing works (the ledger) ---

# The fields of a citation edge and of its citing paper that parse_citation reads.
CITING_FIELDS = (
    "contexts,intents,isInfluential,title,year,externalIds,venue,publicationDate,"
    "publicationTypes,authors,fieldsOfStudy,s2FieldsOfStudy"
)
PAGE_SIZE = 1000  # the documented maximum of ``limit``
OFFSET_LIMIT = 10_000  # offset + limit must stay below it: the API lists no further
TOO_LARGE = "maximum size"  # in the 400 text of an answer that would exceed 10 MB


def fetch_citing(
    work: Work, observation: Observation, session: Session, page_size: int | None = None
) -> CitingList:
    """Every page of the work's citations (``PAGE_SIZE`` each, unless ``page_size``);
    complete only when the last page (no ``next``) came."""
    page_size = page_size or PAGE_SIZE
    paper_id = observation.metadata.get("s2_id")
    path = f"/paper/{quote(paper_id) if paper_id else 'DOI:' + doi_path(work.doi)}/citations"
    max_pages = getattr(session, "max_pages", 100)
    listed = Listing({work.doi: (work, observation)})  # handed over in pieces as it grows, where asked
    offset = requests = 0
    complete = False
    while requests < max_pages and offset < OFFSET_LIMIT - 1:
        limit = min(page_size, OFFSET_LIMIT - 1 - offset)
        requests += 1
        try:
            exchange = send(
                session,
                "GET",
                path,
                params={"fields": CITING_FIELDS, "offset": offset, "limit": limit},
            )
        except FetchFailure as failure:
            if not _too_large(failure) or limit == 1:
                raise
            page_size = limit // 2  # ask the same offset again, in smaller pages
            continue
        page = exchange.json()
        for record in parse_citations(page, exchange):
            listed.add(work.doi, record)
        following = may(page, "next", int)
        if following is None:
            complete = True
            break
        if following <= offset:
            raise MalformedResponse(
                f"field 'next' ({following}) does not advance past offset {offset}"
            )
        offset = following
        listed.page_read()
    if not listed.counted[work.doi] and observation.citations:
        complete = False  # an empty list for a cited work is a glitch, not a fact to act on
    return listed.lists(complete)[0]


def parse_citations(page: Any, exchange: Exchange | None = None) -> list[CitingRecord]:
    """One page of ``/paper/{id}/citations`` → its citing works, in order."""
    items = need(page, "data", list)
    records = []
    for i, item in enumerate(items):
        record = parse_citation(item, exchange, f"data[{i}].")
        if record is not None:
            records.append(record)
    return records


def parse_citation(
    item: Any, exchange: Exchange | None = None, where: str = ""
) -> CitingRecord | None:
    """One citation edge → a CitingRecord; None when nothing in it identifies the citing work."""
    paper = need(item, "citingPaper", dict, where)
    inner = f"{where}citingPaper."
    ids = may(paper, "externalIds", dict, inner) or {}
    pmid = may(ids, "PubMed", str, f"{inner}externalIds.")
    pmcid = may(ids, "PubMedCentral", str, f"{inner}externalIds.")
    types = [t for t in may(paper, "publicationTypes", list, inner) or [] if isinstance(t, str)]
    record = CitingRecord(
        source=SPEC.name,
        doi=doi_or_none(may(ids, "DOI", str, f"{inner}externalIds.")),
        pmid=pmid if pmid and pmid.isdigit() else None,
        pmcid=pmcid_or_none(pmcid),
        s2_id=may(paper, "paperId", str, inner),
        title=may(paper, "title", str, inner) or None,
        year=may(paper, "year", int, inner),
        published=may(paper, "publicationDate", str, inner) or None,
        venue=may(paper, "venue", str, inner) or None,
        type=types[0] if types else None,
        authors=tuple(
            _author(a) for a in may(paper, "authors", list, inner) or [] if isinstance(a, dict)
        ),
        contexts=_strings(may(item, "contexts", list, where)),
        intents=_strings(may(item, "intents", list, where)),
        is_influential=may(item, "isInfluential", bool, where),
        fields=tuple(_fields_of_study(paper)),
        exchange=exchange,
    )
    if not (record.doi or record.pmid or record.s2_id or normalize_title(record.title)):
        return None  # the ledger could not tell it apart from any other work
    return record


def _strings(values: list[Any] | None) -> tuple[str, ...]:
    return tuple(v for v in values or [] if isinstance(v, str) and v)
