"""OpenAlex: citation count, counts by year, FWCI, percentiles, topics, authorships.

Batch: ``GET /works?filter=doi:a|b|...&per_page=100&select=…`` (at most 100 values per OR
filter, apis.md §2(c); only the fields read), and at most 4,094 characters of URL, beyond which OpenAlex refuses the
request (apis.md §0b): a batch is cut by length as well as by count. In a filter ``|``
is OR, ``+`` AND and ``,`` separates filters, so a DOI holding one of them is asked
alone, through the free singleton ``GET /works/doi:{doi}`` (404 with an HTML body when
unknown). A free API key has been required since 13 Feb 2026; without one we still try,
and a 401/403 becomes not_configured with a hint.

How fast: OpenAlex allows everyone 100 requests a second (apis.md §2(e)) and publishes no
limit of requests in flight; we ask 10 a second, 5 at a time. Each list or filter call
costs $0.0001 of a free key's $1 a day, i.e. 10,000 calls; singletons are free. A run
sends at most 5,000 (``max_requests``), leaving the rest to collections and to the
look-ups that name citing works (monitor/enrich.py). Every tracked work is asked at
every run: 100 works a request. Between whole records (``[sources.openalex] metadata_days``,
monitor/plan.py) a work is asked briefly, ``select``-ing its count, metrics and ids only
(``BRIEF_FIELDS``); the writer keeps the rest of its last whole record (store.carry_metadata).

Citing works (the ledger): ``GET /works?filter=cites:W1|W2|…&per_page=100&cursor=*`` for
up to 50 works at once (the OR cap the docs give; within the URL's length too), then
``cursor=`` each ``meta.next_cursor`` until it is null (the last page is empty), as the
paging guide says, or until a short page brings the last of the ``meta.count`` results
announced: the empty page after it would cost a billed call to say what is known. Each
result is a work object (``select``-ed to the fields read) whose
``referenced_works`` names which of the works asked it cites: it is listed under each
of them, and a result citing none of them is a wrong answer. Every list of the query is
complete only once the whole query's paging is. Each page is a billed list call, so a
list is fetched only when due (see ``citing.list_is_due``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import BudgetSpent, FetchFailure, Session
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    answered_doi,
    check_key,
    count,
    doi_path,
    encoded_length,
    expect_status,
    failed_list,
    lookup_batches,
    lookup_one,
    may,
    need,
    pack,
    pmcid_or_none,
    url_room,
    whole_then_brief,
)
from monitor.sources.listing import Listing

SPEC = SourceSpec(
    name="openalex",
    title="OpenAlex",
    base_url="https://api.openalex.org",
    requests_per_second=10.0,
    batch_size=100,
    provides_pmid=True,
    api_key_env="OPENALEX_API_KEY",
    key_hint=(
        "OpenAlex needs a free API key since 13 Feb 2026: get one at "
        "https://openalex.org/settings/api and put it in the environment variable "
        "named by [sources.openalex] api_key_env"
    ),
    secret_params=("api_key",),
    homepage="https://openalex.org",
    max_concurrency=5,
    max_requests=5_000,
    list_keys=("openalex_id",),
    brief_fields=("is_retracted", "openalex_id", "pmid", "pmcid"),
    metadata_days=30.0,
)
PER_PAGE = 100  # the largest per_page (apis.md §2(b))
MAX_URL = 4_094  # characters: OpenAlex refuses longer request URLs (apis.md §0b)
FILTER_SYNTAX = "|+,"  # OR, AND and the filter separator: a DOI holding one is asked alone
CITES_PER_QUERY = 50  # works whose citing works one cites: query lists (the docs' OR cap)
QUERIES_AT_ONCE = 8  # a query holds its works' lists until a piece is handed over (listing.py): this many bound the memory
RECORDS_PER_QUERY = 1_000  # ... and so do its works' counts: at most this many in all (one work more, alone)
# What parse_work (and parse_citing, for the look-ups that name citing works) reads: the
# answers, kept as raw bodies at every run, are half the size without the rest.
WORK_FIELDS = (
    "id,doi,ids,title,display_name,publication_year,publication_date,type,language,"
    "cited_by_count,counts_by_year,fwci,citation_normalized_percentile,cited_by_percentile_year,"
    "referenced_works_count,primary_location,biblio,open_access,authorships,"
    "abstract_inverted_index,keywords,mesh,topics,is_retracted"
)
# A brief answer (``SourcePlan.brief``): the count, the metrics and the ids, 756 bytes of the
# default article's record against 10,022 whole; parse_work reads SPEC.brief_fields from it.
BRIEF_FIELDS = (
    "id,doi,ids,cited_by_count,counts_by_year,fwci,citation_normalized_percentile,"
    "cited_by_percentile_year,referenced_works_count,is_retracted"
)
# What a citing work's parser reads, and referenced_works to tell which asked work it cites.
CITING_FIELDS = (
    "id,doi,ids,title,display_name,publication_year,publication_date,primary_location,type,"
    "authorships,is_retracted,topics,referenced_works"
)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    """The works' records, whole or, for those the plan names, brief (``whole_then_brief``)."""
    return whole_then_brief(works, session, lambda asked, brief: _look_up(asked, session, brief))


def _look_up(works: Sequence[Work], session: Session, brief: bool) -> list[Observation]:
    select, parse = (BRIEF_FIELDS, parse_brief) if brief else (WORK_FIELDS, parse_work)
    return lookup_batches(
        works,
        session,
        SPEC.batch_size,
        request=lambda batch: request(session, batch, select),
        records=lambda payload: need(payload, "results", list),
        key=lambda record: doi_or_none(need(record, "doi", str, "results[].")),
        parse=parse,
        total=lambda payload: count(need(payload, "meta", dict), "count", "meta."),
        length=lambda work: encoded_length(work.doi + "|"),
        room=url_room(
            session, "/works", _keyed(session, {"filter": "doi:", "per_page": "100", "select": select}), MAX_URL
        ),
        batchable=lambda work: not any(c in work.doi for c in FILTER_SYNTAX),
        alone=lambda work: lookup_one(
            work, session, lambda w: single(session, w, select), lambda exchange: parse_single(exchange, parse)
        ),
    )


def request(session: Session, batch: list[Work], select: str = WORK_FIELDS) -> Exchange:
    # A full page whatever the batch: a DOI held by two works must not push another out.
    return works_page(
        session,
        {"filter": "doi:" + "|".join(w.doi for w in batch), "per_page": str(PER_PAGE), "select": select},
        batch=len(batch),
    )


def single(session: Session, work: Work, select: str = WORK_FIELDS) -> Exchange:
    """``GET /works/doi:{doi}``: the free singleton, for a DOI a filter cannot hold."""
    exchange = session.get(
        f"/works/doi:{doi_path(work.doi)}", params=_keyed(session, {"select": select}),
        slow_down=slowed_down,
    )
    check_key(exchange, session, SPEC, "check it at https://openalex.org/settings/api")
    expect_status(exchange, 200, 404)
    return exchange


def parse_single(exchange: Exchange, parse: Callable[[Any], Parsed] | None = None) -> Parsed | None:
    """A singleton answer (whole, or brief with ``parse_brief``): 404 is not_found; a work
    object names the DOI it is about."""
    parse = parse or parse_work
    if exchange.status_code == 404:
        return None
    record = exchange.json()
    return replace(parse(record), about=answered_doi(record))


def works_page(session: Session, params: dict[str, str], batch: int = 0) -> Exchange:
    """``GET /works`` with the key, if any; a refusal is explained, only 200 is an answer."""
    exchange = session.get(
        "/works", params=_keyed(session, params), slow_down=slowed_down, batch=batch
    )
    check_key(exchange, session, SPEC, "check it at https://openalex.org/settings/api")
    expect_status(exchange, 200)
    return exchange


def _keyed(session: Session, params: dict[str, str]) -> dict[str, str]:
    key = session.source.api_key
    return {**params, "api_key": key} if key else params


def slowed_down(exchange: Exchange) -> bool:
    """OpenAlex's 403 "Rate limit exceeded; slow down" (its errors page): retried as a 429."""
    return exchange.status_code in (401, 403) and b"rate limit" in exchange.body.lower()


def parse_work(record: Any) -> Parsed:
    """One OpenAlex work object → count, metrics, metadata."""
    percentile = may(record, "citation_normalized_percentile", dict) or {}
    by_year = may(record, "cited_by_percentile_year", dict) or {}
    counts_by_year = {
        str(need(row, "year", int, "counts_by_year[].")): count(
            row, "cited_by_count", "counts_by_year[]."
        )
        for row in may(record, "counts_by_year", list) or []
    }
    metrics = {
        "fwci": may(record, "fwci", float),
        "citation_percentile": may(percentile, "value", float, "citation_normalized_percentile."),
        "is_in_top_1_percent": may(percentile, "is_in_top_1_percent", bool),
        "is_in_top_10_percent": may(percentile, "is_in_top_10_percent", bool),
        "cited_by_percentile_year_min": may(by_year, "min", int),
        "cited_by_percentile_year_max": may(by_year, "max", int),
        "referenced_works_count": may(record, "referenced_works_count", int),
        "counts_by_year": counts_by_year,
    }
    return Parsed(
        citations=count(record, "cited_by_count"),
        metrics={k: v for k, v in metrics.items() if v is not None},
        metadata=parse_metadata(record),
    )


def parse_brief(record: Any) -> Parsed:
    """A brief work object (``BRIEF_FIELDS``): its count and metrics, and of its metadata the
    fields ``SPEC.brief_fields`` names (the writer carries the rest: store.carry_metadata)."""
    return replace(parse_work(record), brief=SPEC.brief_fields)


def parse_metadata(record: dict[str, Any]) -> dict[str, Any]:
    ids = may(record, "ids", dict) or {}
    location = may(record, "primary_location", dict) or {}
    venue = may(location, "source", dict) or {}
    biblio = may(record, "biblio", dict) or {}
    oa = may(record, "open_access", dict) or {}
    first, last = may(biblio, "first_page", str), may(biblio, "last_page", str)
    meta: dict[str, Any] = {
        "title": may(record, "title", str) or may(record, "display_name", str),
        "authors": [_author(a) for a in may(record, "authorships", list) or []],
        "journal": may(venue, "display_name", str),
        "issn": may(venue, "issn_l", str),
        "publisher": may(venue, "host_organization_name", str),
        "volume": may(biblio, "volume", str),
        "issue": may(biblio, "issue", str),
        "pages": f"{first}-{last}" if first and last and first != last else None,
        "article_number": first if first and first == last else None,
        "published": may(record, "publication_date", str),
        "year": may(record, "publication_year", int),
        "type": may(record, "type", str),
        "language": may(record, "language", str),
        "abstract": abstract_from_index(may(record, "abstract_inverted_index", dict)),
        "keywords": [
            k["display_name"]
            for k in may(record, "keywords", list) or []
            if isinstance(k, dict) and k.get("display_name")
        ],
        "mesh": [
            m["descriptor_name"]
            for m in may(record, "mesh", list) or []
            if isinstance(m, dict) and m.get("descriptor_name")
        ],
        "mesh_headings": _mesh_headings(may(record, "mesh", list) or []),
        "topics": [_topic(t) for t in may(record, "topics", list) or [] if isinstance(t, dict)],
        "is_oa": may(oa, "is_oa", bool),
        "oa_status": may(oa, "oa_status", str),
        "oa_url": may(oa, "oa_url", str),
        "is_retracted": may(record, "is_retracted", bool),
        "openalex_id": _tail(may(record, "id", str)),
        "pmid": _tail(may(ids, "pmid", str)),
        "pmcid": pmcid_or_none(may(ids, "pmcid", str)),
    }
    return {k: v for k, v in meta.items() if v not in (None, [], "")}


# --- citing works (the ledger) ---


def fetch_citing(work: Work, observation: Observation, session: Session) -> CitingList:
    """Every cursor page of the works citing this one; complete on the last (``last_page``)."""
    openalex_id = observation.metadata.get("openalex_id")
    if not openalex_id:
        raise MalformedResponse("the work record gave no OpenAlex id to list citing works by")
    return _cited_by({openalex_id: (work, observation)}, session)[0]


def fetch_citing_batch(
    asked: Iterable[tuple[Work, Observation]], session: Session
) -> Iterator[list[CitingList]]:
    """The lists of several works, up to ``CITES_PER_QUERY`` a query and works counted
    ``RECORDS_PER_QUERY`` in all, ``max_concurrency`` queries at a time, as they come: a
    query's lists together (they share its answers). One list per work (a failure is its
    list's outcome), none for a work left when the run's budget is spent. A query refused as
    too long or too big, or that timed out, is asked again in halves. ``asked`` is read as
    the queries go."""
    unlisted: list[CitingList] = []  # works with no OpenAlex id: nothing to ask
    params = _keyed(session, {"filter": "cites:", "per_page": "100", "cursor": "*", "select": CITING_FIELDS})
    room = url_room(session, "/works", params, MAX_URL)

    def keyed() -> Iterator[tuple[str, Work, Observation]]:
        for work, observation in asked:
            openalex_id = observation.metadata.get("openalex_id")
            if openalex_id:
                yield (openalex_id, work, observation)
            else:
                exc = MalformedResponse("the work record gave no OpenAlex id to list citing works by")
                unlisted.append(failed_list(work, observation, exc))

    def query(batch: list[tuple[str, Work, Observation]]) -> list[CitingList]:
        wanted = {openalex_id: (work, observation) for openalex_id, work, observation in batch}
        try:
            return _cited_by(wanted, session, batch=len(batch))
        except BudgetSpent:
            return []
        except FetchFailure as failure:
            if len(batch) > 1 and failure.divisible and not session.stopped:
                half = len(batch) // 2
                return query(batch[:half]) + query(batch[half:])
            return [failed_list(w, o, failure) for w, o in wanted.values()]
        except (MalformedResponse, WrongWork) as exc:
            return [failed_list(w, o, exc) for w, o in wanted.values()]

    batches = pack(keyed(), CITES_PER_QUERY, lambda entry: encoded_length(entry[0] + "|"), room,
                   lambda entry: entry[2].citations or 0, RECORDS_PER_QUERY)
    places = min(session.source.max_concurrency, QUERIES_AT_ONCE)
    yield from session.map(query, batches, places=places, ordered=False)
    if unlisted:
        yield unlisted


def _cited_by(
    wanted: dict[str, tuple[Work, Observation]], session: Session, batch: int = 0
) -> list[CitingList]:
    """One ``cites:`` query, every cursor page: each result listed under each asked work it
    references; complete for all on the last page (``last_page``)."""
    max_pages = getattr(session, "max_pages", 100) * len(wanted)
    listed = Listing(wanted)  # handed over in pieces as it grows, where the run asks for it
    cursor, received = "*", 0
    complete = False
    for _ in range(max_pages):
        params = {
            "filter": "cites:" + "|".join(wanted),
            "per_page": str(PER_PAGE),
            "cursor": cursor,
            "select": CITING_FIELDS,
        }
        exchange = works_page(session, params, batch)
        payload = exchange.json()
        results = need(payload, "results", list)
        meta = need(payload, "meta", dict)
        if "next_cursor" not in meta:  # no cursor paging: the list would be cut silently
            raise MalformedResponse("field 'meta.next_cursor' is missing")
        next_cursor = may(meta, "next_cursor", str, "meta.")
        received += len(results)
        for i, result in enumerate(results):
            where = f"results[{i}]."
            cited = _references(result, where) & wanted.keys()
            if not cited:
                raise WrongWork(f"a work citing none of {', '.join(wanted)}", " or ".join(wanted))
            record = parse_citing(result, exchange, where)
            for openalex_id in cited:
                listed.add(openalex_id, record)
        if last_page(meta, next_cursor, len(results), received):
            complete = True
            break
        if not results:
            break  # a cursor with nothing behind it: stop rather than loop
        listed.page_read()
        cursor = next_cursor
    return listed.lists(complete)


def last_page(meta: dict[str, Any], next_cursor: str | None, on_page: int, received: int) -> bool:
    """Whether a cursor page is the last: ``next_cursor`` is null (the paging guide's end,
    an empty page), or a short page brought the last of the ``meta.count`` results the
    paging announced, so the empty page after it is not asked (each page is a billed call)."""
    if not next_cursor:
        return True
    total = may(meta, "count", int, "meta.")
    return on_page < PER_PAGE and received == total


def _references(record: Any, where: str) -> set[str]:
    """The OpenAlex ids of the works a work object cites (``referenced_works``)."""
    cited = need(record, "referenced_works", list, where)
    return {_tail(url) or "" for url in cited if isinstance(url, str)}


def parse_citing(record: Any, exchange: Exchange | None = None, where: str = "") -> CitingRecord:
    """One work object of a ``cites:`` list → the citing work, with its authors' places."""
    ids = may(record, "ids", dict, where) or {}
    location = may(record, "primary_location", dict, where) or {}
    venue = may(location, "source", dict, f"{where}primary_location.") or {}
    authorships = [a for a in may(record, "authorships", list, where) or [] if isinstance(a, dict)]
    countries = [c for a in authorships for c in may(a, "countries", list) or []]
    institutions = [
        i.get("display_name")
        for a in authorships
        for i in may(a, "institutions", list) or []
        if isinstance(i, dict)
    ]
    fields = [
        t["field"].get("display_name")
        for t in may(record, "topics", list, where) or []
        if isinstance(t, dict) and isinstance(t.get("field"), dict)
    ]
    authors = []
    for authorship in authorships:
        author = _author(authorship)
        author.pop("institutions", None)
        authors.append(author)
    pmid = _tail(may(ids, "pmid", str, f"{where}ids."))
    return CitingRecord(
        source=SPEC.name,
        doi=doi_or_none(may(record, "doi", str, where)),
        pmid=pmid if pmid and pmid.isdigit() else None,
        pmcid=pmcid_or_none(may(ids, "pmcid", str, f"{where}ids.")),
        openalex_id=_tail(need(record, "id", str, where)),
        title=may(record, "title", str, where) or may(record, "display_name", str, where),
        year=may(record, "publication_year", int, where),
        published=may(record, "publication_date", str, where),
        venue=may(venue, "display_name", str),
        type=may(record, "type", str, where),
        authors=tuple(a for a in authors if a.get("name")),
        is_retracted=may(record, "is_retracted", bool, where),
        countries=_distinct(countries),
        institutions=_distinct(institutions),
        fields=_distinct(fields),
        exchange=exchange,
    )


def _distinct(values: list[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def _author(authorship: Any) -> dict[str, Any]:
    author = may(authorship, "author", dict) or {}
    institutions = [
        {"name": i.get("display_name"), "country": i.get("country_code"), "ror": i.get("ror")}
        for i in may(authorship, "institutions", list) or []
        if isinstance(i, dict) and i.get("display_name")
    ]
    entry = {
        "name": may(author, "display_name", str) or may(authorship, "raw_author_name", str),
        "orcid": _tail(may(author, "orcid", str)),
        "openalex_id": _tail(may(author, "id", str)),
        "institutions": institutions,
    }
    return {k: v for k, v in entry.items() if v}


def _mesh_headings(entries: list[Any]) -> list[dict[str, Any]]:
    """OpenAlex lists a descriptor once per qualifier ({descriptor_name, qualifier_name,
    is_major_topic}); grouped here: each descriptor once, with its qualifiers."""
    grouped: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("descriptor_name"), str):
            continue
        heading = grouped.setdefault(entry["descriptor_name"], {"descriptor": entry["descriptor_name"],
                                                                "qualifiers": [], "major": False})
        qualifier = entry.get("qualifier_name")
        if isinstance(qualifier, str) and qualifier and qualifier not in heading["qualifiers"]:
            heading["qualifiers"].append(qualifier)
        heading["major"] = heading["major"] or entry.get("is_major_topic") is True
    return list(grouped.values())


def _topic(topic: dict[str, Any]) -> dict[str, Any]:
    def name(level: str) -> str | None:
        value = topic.get(level)
        return value.get("display_name") if isinstance(value, dict) else None

    return {
        "name": topic.get("display_name"),
        "score": topic.get("score"),
        "subfield": name("subfield"),
        "field": name("field"),
        "domain": name("domain"),
    }


def _tail(url: str | None) -> str | None:
    """'https://openalex.org/W123' → 'W123'; 'https://orcid.org/0000-…' → '0000-…'."""
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


def abstract_from_index(index: dict[str, Any] | None) -> str | None:
    """Rebuild an abstract from OpenAlex's inverted index {word: [positions]}."""
    if not index:
        return None
    try:  # OpenAlex's positions are 0 to n-1, each once: each word put in its place
        words: list[str | None] = [None] * sum(map(len, index.values()))
        for word, places in index.items():
            for pos in places:
                words[pos] = word
        if None not in words:
            return " ".join(words) or None  # type: ignore[arg-type]
    except (TypeError, IndexError):
        pass
    # any other index (a gap, a position twice, a place that is not a list): sorted
    positions = {
        pos: word for word, places in index.items() if isinstance(places, list) for pos in places
    }
    return " ".join(positions[p] for p in sorted(positions)) or None
