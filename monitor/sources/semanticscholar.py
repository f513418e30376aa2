"""Semantic Scholar: citation count, influential citations, TLDR, fields of study.

Batch: ``POST /paper/batch?fields=...`` with ``{"ids": ["DOI:10...", ...]}``, at most
500 ids a request. The answer is an array aligned with ``ids``: ``null`` where an id
is unknown (not_found). Records are matched to works by position, not by the DOI
inside them: Semantic Scholar may spell a DOI differently (``10.1093/MIND/...``).

A key is optional (header ``x-api-key``). Without one we share an anonymous pool
that answers 429 often and sends no Retry-After; the Session backs off with jitter,
and a 429 that outlasts the retries says where to get a key. 403 with a key means
the key was refused (keys lapse after long disuse).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from typing import Any

from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure, Session
from monitor.models import Exchange, Observation, Outcome, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    chunks,
    count,
    expect_status,
    lookup_batches,
    may,
    strip_markup,
)

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
)

# Every field the parser reads, and nothing more (the answer must stay under 10 MB).
FIELDS = (
    "paperId,externalIds,title,abstract,venue,publicationVenue,year,publicationDate,journal,"
    "publicationTypes,authors,citationCount,influentialCitationCount,referenceCount,"
    "isOpenAccess,openAccessPdf,fieldsOfStudy,s2FieldsOfStudy,tldr"
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    observations: list[Observation] = []
    for batch in chunks(works, SPEC.batch_size):
        # lookup_batches matches records by key; the answer is positional, so pair it first.
        observations += lookup_batches(
            batch,
            session,
            len(batch),
            request=lambda works_: request(session, works_),
            records=partial(aligned, dois=[w.doi for w in batch]),
            key=lambda pair: pair[0],
            parse=lambda pair: parse_paper(pair[1]),
        )
    return observations


def request(session: Session, batch: list[Work]) -> Exchange:
    key = session.source.api_key
    try:
        exchange = session.post(
            "/paper/batch",
            params={"fields": FIELDS},
            json={"ids": [f"DOI:{w.doi}" for w in batch]},
            headers={"x-api-key": key} if key else None,
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


def aligned(payload: Any, dois: list[str]) -> list[tuple[str, Any]]:
    """Pair a batch answer with the DOIs asked, by position; ``null`` entries are dropped."""
    if not isinstance(payload, list):
        raise MalformedResponse(
            f"expected a list aligned with the ids sent, got {type(payload).__name__}"
        )
    if len(payload) != len(dois):
        raise MalformedResponse(f"answer has {len(payload)} entries for {len(dois)} ids sent")
    return [(doi, record) for doi, record in zip(dois, payload) if record is not None]


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
        "pmcid": f"PMC{pmcid}" if pmcid and pmcid.isdigit() else pmcid,
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
