"""OpenAlex's works listed by a filter (an author, an ORCID, an institution), cursor paged.

An author or institution is first looked up itself (``/authors/A…``,
``/institutions/ror:…``): a listing by an id OpenAlex does not know is empty, not an
error, so a mistyped id would otherwise look like a collection with no works. The
answer must be about the entity asked; its ``display_name`` names the collection.

``GET /works?filter=<filter>[,from_publication_date:YYYY-01-01]&per_page=100&cursor=*``,
then ``cursor=`` each ``meta.next_cursor`` until the last page (``last_page``), with
``select=`` the few root fields a collection needs, so a page stays small. The listing is
complete only when the last page said so and as many works arrived as ``meta.count``
announced; a listing longer than MAX_WORKS is refused before its second page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from monitor.config import CollectionConfig
from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure, Session
from monitor.models import Exchange, Outcome
from monitor.resolvers.base import (
    MAX_WORKS,
    Context,
    Found,
    Resolution,
    Skipped,
    exchanges_since,
    failure,
)
from monitor.sources.base import check_key, expect_status, may, need
from monitor.sources.openalex import PER_PAGE, SPEC, last_page, slowed_down, works_page

SELECT = "id,doi,title,display_name,publication_year,ids"


def list_works(
    session: Session, filter_value: str, from_year: int | None = None, max_works: int = MAX_WORKS
) -> Resolution:
    """Every work OpenAlex lists under ``filter_value``; DOI-less works are skipped."""
    if from_year:
        filter_value += f",from_publication_date:{from_year}-01-01"
    found: list[Found] = []
    skipped: list[Skipped] = []
    cursor, seen, total = "*", {"*"}, None
    for _ in range(max_works // PER_PAGE + 2):
        params = {"filter": filter_value, "per_page": str(PER_PAGE), "cursor": cursor, "select": SELECT}
        try:
            exchange = works_page(session, params)
            payload = exchange.json()
            results = need(payload, "results", list)
            meta = need(payload, "meta", dict)
            if total is None:
                total = may(meta, "count", int, "meta.")
                if total is not None and total > max_works:
                    return Resolution(
                        (),
                        outcome=Outcome.ERROR,
                        message=f"OpenAlex lists {total:,} works for {filter_value}, more than the "
                        f"{max_works:,} a collection may hold; narrow it with from_year",
                        complete=False,
                    )
            for i, record in enumerate(results):
                item = parse_work(record, exchange, f"results[{i}].")
                (found if isinstance(item, Found) else skipped).append(item)  # type: ignore[arg-type]
            if "next_cursor" not in meta:  # basic paging: the rest would be cut silently
                raise MalformedResponse("field 'meta.next_cursor' is missing")
            next_cursor = may(meta, "next_cursor", str, "meta.")
        except (FetchFailure, MalformedResponse) as problem:
            return failure(problem, "OpenAlex", found, skipped)
        listed = len(found) + len(skipped)
        if last_page(meta, next_cursor, len(results), listed):
            if total is not None and listed < total:
                return Resolution(
                    tuple(found),
                    tuple(skipped),
                    Outcome.ERROR,
                    f"OpenAlex: the listing ended after {listed} of the {total} works it counted",
                    complete=False,
                )
            return Resolution(tuple(found), tuple(skipped))
        if not results or next_cursor in seen:
            break  # a cursor that goes nowhere: stop rather than loop
        seen.add(next_cursor)
        cursor = next_cursor
    return Resolution(
        tuple(found),
        tuple(skipped),
        Outcome.ERROR,
        "OpenAlex: the cursor stopped advancing before the last page",
        complete=False,
    )


def parse_work(record: Any, exchange: Exchange | None = None, where: str = "") -> Found | Skipped:
    """One listed work: Found by its DOI, or Skipped when OpenAlex gives none."""
    ids = may(record, "ids", dict, where) or {}
    title = may(record, "title", str, where) or may(record, "display_name", str, where)
    pmid = _tail(may(ids, "pmid", str, f"{where}ids."))
    pmid = pmid if pmid and pmid.isdigit() else None
    doi = doi_or_none(may(record, "doi", str, where))
    if doi is None:
        work_id = _tail(need(record, "id", str, where)) or "a work"
        return Skipped(work_id, "no DOI in OpenAlex", title, pmid)
    return Found(
        doi,
        title=title,
        year=may(record, "publication_year", int, where),
        via=("openalex",),
        pmid=pmid,
        exchange=exchange,
    )


def _tail(url: str | None) -> str | None:
    """'https://openalex.org/W123' → 'W123'; 'https://pubmed.ncbi.nlm.nih.gov/123' → '123'."""
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


def resolve_filter(
    key: str, entity: str, collection: CollectionConfig, context: Context
) -> Resolution:
    """A collection that is one OpenAlex filter (``key:identifier``) over the works of
    ``entity`` (a path such as ``/authors/A1``), looked up first; with its exchanges."""
    session, mark = context.openalex, len(context.openalex.exchanges)
    try:
        record = get_entity(session, entity)
    except (FetchFailure, MalformedResponse) as problem:
        resolution = failure(problem, "OpenAlex")
    else:
        if record is None:
            resolution = Resolution(
                (),
                outcome=Outcome.NOT_FOUND,
                message=f"OpenAlex has no {entity.strip('/')}; check {collection.kind} in config.toml",
                complete=False,
            )
        else:
            listed = list_works(session, f"{key}:{collection.identifier}", collection.from_year)
            resolution = replace(listed, name=may(record, "display_name", str))
    return replace(resolution, exchanges=exchanges_since(session, mark))


def get_entity(session: Session, path: str) -> dict[str, Any] | None:
    """An author or institution (None when OpenAlex answers 404), checked to be the one asked:
    its ``id`` (``/authors/A1``) or ``ror`` (``/institutions/ror:…``) is the one in ``path``."""
    params = {"api_key": session.source.api_key} if session.source.api_key else None
    exchange = session.get(path, params=params, slow_down=slowed_down)
    check_key(exchange, session, SPEC, "check it at https://openalex.org/settings/api")
    if exchange.status_code == 404:
        return None
    expect_status(exchange, 200)
    record = exchange.json()
    asked = path.rstrip("/").rsplit("/", 1)[-1].removeprefix("ror:").lower()
    answered = [_tail(may(record, key, str)) for key in ("id", "ror")]
    if asked not in [a.lower() for a in answered if a]:
        raise MalformedResponse(f"the answer is about {answered[0]}, not {asked}")
    return record


def since(collection: CollectionConfig) -> str:
    return f" from {collection.from_year}" if collection.from_year else ""
