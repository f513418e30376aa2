"""Crossref: is-referenced-by-count, bibliographic metadata, corrections and retractions.

Batch: ``GET /works?filter=doi:a,doi:b&rows=N`` (repeating a filter ORs it), 50 DOIs
a request and a request line within 4,092 bytes, where Crossref cuts it (apis.md §0b):
50 old Wiley SICI DOIs alone measure 4.7 KB, so a batch is cut by length as well as by
count. ``,`` separates filters, so a DOI holding one is asked alone through
``GET /works/{doi}`` (404 ``Resource not found.`` when unknown). The contact email goes
in the User-Agent and as ``mailto`` for the polite pool.

How fast: since 1 Dec 2025 the polite pool allows list queries 3 a second and 3 in
flight, the public pool 1 a second and 1 in flight (apis.md §1(e): recorded
``x-rate-limit-*`` and ``x-concurrency-limit`` headers, and a later probe of list
queries); we ask 3 a second, 3 at a time, and every answer's headers may lower both.
No daily quota: a run sends at most 5,000 requests (250,000 works). Every tracked work
is asked at every run.

Only the fields read are asked for (``select``, list queries only; the singleton refuses
it): a record's ``reference`` list is four fifths of its bytes (25.5 of 31.4 KB in a
recorded answer), never read here. The names are the ones the API's swagger lists as
selectable (2023); ``language`` is not among them, so Crossref's is not read at all (the
same metadata whichever way a work is asked; OpenAlex gives one). A 400
``select-not-available`` (the API's answer to a name it does not take) asks again without
``select``, and so does the rest of the run.

Citing works: Crossref gives non-members only the count, never the list (its Cited-by
service is for members), so there is no list to batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from monitor.doi import doi_or_none
from monitor.fetching import Session
from monitor.models import CitingRecord, Exchange, Observation, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    answered_doi,
    count,
    doi_path,
    encoded_length,
    expect_status,
    lookup_batches,
    lookup_one,
    may,
    need,
    partial_date,
    strip_markup,
    url_room,
)

log = logging.getLogger(__name__)

SPEC = SourceSpec(
    name="crossref",
    title="Crossref",
    base_url="https://api.crossref.org",
    requests_per_second=3.0,  # polite pool, list queries (Sep 2026); headers may lower it
    batch_size=50,
    homepage="https://www.crossref.org",
    max_concurrency=3,
    max_requests=5_000,
)
MAX_REQUEST_LINE = 4_092  # bytes: Crossref cuts a longer request line (apis.md §0b)
# What parse_work and parse_citing read, as the swagger names them for ``select``
WORK_FIELDS = (
    "DOI,is-referenced-by-count,references-count,title,author,container-title,short-container-title,"
    "ISSN,publisher,volume,issue,page,article-number,published,issued,published-print,published-online,"
    "type,abstract,subject,license,updated-by,update-to"
)
UNSELECTED = "crossref: whole records"  # Session.learned: the API refused our select this run


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    fixed = _polite(session, {"filter": "", "rows": str(SPEC.batch_size), "select": WORK_FIELDS})
    return lookup_batches(
        works,
        session,
        SPEC.batch_size,
        request=lambda batch: request(session, batch),
        records=lambda payload: need(need(payload, "message", dict), "items", list, "message."),
        key=lambda record: doi_or_none(need(record, "DOI", str, "message.items[].")),
        parse=parse_work,
        total=lambda payload: count(payload["message"], "total-results", "message."),
        length=lambda work: encoded_length(f"doi:{work.doi},"),
        room=url_room(session, "/works", fixed, MAX_REQUEST_LINE, request_line=True),
        batchable=lambda work: "," not in work.doi,
        alone=lambda work: lookup_one(work, session, lambda w: single(session, w), parse_single),
    )


def request(session: Session, batch: list[Work], select: bool = True) -> Exchange:
    """A batch's records, only the fields read (``select``) unless told not to (the look-ups
    of monitor/enrich.py, whose batches are cut by count only: the select's 300 characters
    would bring a batch of long DOIs nearer the request line's cap) or refused this run."""
    params = _polite(session, {"filter": ",".join(f"doi:{w.doi}" for w in batch), "rows": str(len(batch))})
    if select and UNSELECTED not in session.learned:
        exchange = session.get("/works", params={**params, "select": WORK_FIELDS}, batch=len(batch))
        if exchange.status_code != 400 or b"select-not-available" not in exchange.body:
            expect_status(exchange, 200)
            return exchange
        with session.lock:
            if UNSELECTED not in session.learned:
                session.learned.add(UNSELECTED)
                log.warning("Crossref refused the fields we select (%s): whole records this run",
                            exchange.body[:300].decode("utf-8", "replace"))
    exchange = session.get("/works", params=params, batch=len(batch))
    expect_status(exchange, 200)
    return exchange


def single(session: Session, work: Work) -> Exchange:
    """``GET /works/{doi}``, for a DOI a filter cannot hold."""
    exchange = session.get(f"/works/{doi_path(work.doi)}", params=_polite(session, {}))
    expect_status(exchange, 200, 404)
    return exchange


def parse_single(exchange: Exchange) -> Parsed | None:
    """A singleton answer: 404 is not_found; its ``message`` names the DOI it is about."""
    if exchange.status_code == 404:
        return None
    record = need(exchange.json(), "message", dict)
    parsed = parse_work(record)
    return Parsed(parsed.citations, parsed.metrics, parsed.metadata, about=answered_doi(record, "DOI", "message."))


def _polite(session: Session, params: dict[str, str]) -> dict[str, str]:
    return {**params, "mailto": session.contact_email} if session.contact_email else params


def parse_work(record: Any) -> Parsed:
    """One Crossref work (a ``message`` or an ``items[]`` entry) → count and metadata."""
    metrics = {"references_count": may(record, "references-count", int)}
    return Parsed(
        citations=count(record, "is-referenced-by-count"),
        metrics={k: v for k, v in metrics.items() if v is not None},
        metadata=parse_metadata(record),
    )


def parse_metadata(record: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": _first(may(record, "title", list)),
        "authors": [_author(a) for a in may(record, "author", list) or [] if isinstance(a, dict)],
        "journal": _first(may(record, "container-title", list)),
        "journal_abbreviation": _first(may(record, "short-container-title", list)),
        "issn": _first(may(record, "ISSN", list)),
        "publisher": may(record, "publisher", str),
        "volume": may(record, "volume", str),
        "issue": may(record, "issue", str),
        "pages": may(record, "page", str),
        "article_number": may(record, "article-number", str),
        "published": _date(record, "published") or _date(record, "issued"),
        "published_print": _date(record, "published-print"),
        "published_online": _date(record, "published-online"),
        "type": may(record, "type", str),
        "abstract": strip_markup(may(record, "abstract", str)),
        "subjects": [s for s in may(record, "subject", list) or [] if isinstance(s, str)],
        "license": _license(may(record, "license", list)),
        "updated_by": [_update(u) for u in may(record, "updated-by", list) or [] if isinstance(u, dict)],
        "update_to": [_update(u) for u in may(record, "update-to", list) or [] if isinstance(u, dict)],
    }
    year = (meta["published"] or "")[:4]
    meta["year"] = int(year) if year.isdigit() else None
    return {k: v for k, v in meta.items() if v not in (None, [], "")}


def parse_citing(record: Any, exchange: Exchange | None = None) -> CitingRecord:
    """A work record (an ``items[]`` entry) as a citing work, to name a ledger row known by
    its DOI only (monitor.enrich). Crossref lists no citing works itself."""
    meta = parse_metadata(record)
    return CitingRecord(
        source=SPEC.name,
        doi=doi_or_none(need(record, "DOI", str, "message.items[].")),
        title=meta.get("title"),
        year=meta.get("year"),
        published=meta.get("published"),
        venue=meta.get("journal"),
        type=meta.get("type"),
        authors=tuple(
            {k: a[k] for k in ("name", "orcid") if a.get(k)}
            for a in meta.get("authors", [])
            if a.get("name")
        ),
        exchange=exchange,
    )


def _first(values: list[Any] | None) -> str | None:
    return next((v for v in values or [] if isinstance(v, str) and v.strip()), None)


def _date(record: dict[str, Any], key: str) -> str | None:
    value = may(record, key, dict)
    parts = may(value, "date-parts", list, f"{key}.") if value else None
    return partial_date(parts[0]) if parts and isinstance(parts[0], list) else None


def _author(author: dict[str, Any]) -> dict[str, Any]:
    given, family = author.get("given"), author.get("family")
    name = " ".join(p for p in (given, family) if isinstance(p, str)) or author.get("name")
    orcid = author.get("ORCID")
    entry = {
        "name": name,
        "given": given,
        "family": family,
        "orcid": orcid.rstrip("/").rsplit("/", 1)[-1] if isinstance(orcid, str) else None,
        "affiliations": [a["name"] for a in author.get("affiliation") or [] if isinstance(a, dict) and a.get("name")],
    }
    return {k: v for k, v in entry.items() if v}


def _update(update: dict[str, Any]) -> dict[str, Any]:
    """A correction, retraction or other notice from ``updated-by`` / ``update-to``."""
    when = update.get("updated")
    parts = when.get("date-parts") if isinstance(when, dict) else None
    entry = {
        "type": update.get("type"),
        "label": update.get("label"),
        "doi": doi_or_none(update.get("DOI")),
        "source": update.get("source"),
        "date": partial_date(parts[0]) if parts and isinstance(parts[0], list) else None,
    }
    return {k: v for k, v in entry.items() if v}


def _license(licenses: list[Any] | None) -> str | None:
    urls = [lic.get("URL") for lic in licenses or [] if isinstance(lic, dict)]
    return next((u for u in urls if isinstance(u, str)), None)
