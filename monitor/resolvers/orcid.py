"""``orcid = "0000-…"``: a person's works from their ORCID record, united with OpenAlex's.

ORCID: ``GET {base}/{orcid}/works`` (public API v3.0, no paging) answers ``group[]``, one
group per work as ORCID groups them (items sharing an id, or a ``version-of`` id), each
with its ``work-summary[]`` and the group's ``external-ids``. Per group we track one DOI:

- the ids that count are those with relationship ``self`` (the work's own) and
  ``version-of`` (a version of that work, e.g. a preprint of an article); ``part-of``
  (a journal's ISSN, a book's DOI) and ``funded-by`` name something else;
- the DOI tracked is the group's ``self`` DOI that another item names as what it is a
  version of (the version of record), else the first ``self`` DOI of the summary ORCID
  shows first (highest ``display-index``), else the DataCite DOI of a ``self`` arXiv id;
- the group's other DOIs are kept as aliases, so the same work listed again (by OpenAlex,
  or under a version's DOI) is one work;
- a group with no DOI and no arXiv id is skipped, saying which ids it had (a PMID alone).

OpenAlex: ``filter=author.orcid:<iD>`` (openalex_listing). Both lists are united by DOI
and alias; an ORCID item known only by its PMID is the OpenAlex work with that PMID.
A nonexistent iD is a 404 with ORCID's error JSON: not_found, and OpenAlex is not asked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from monitor.config import CollectionConfig
from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure, Session
from monitor.identifiers import arxiv_doi
from monitor.models import Exchange, Outcome
from monitor.resolvers.base import (
    Context,
    Found,
    Resolution,
    Skipped,
    exchanges_since,
    failure,
    unite,
)
from monitor.resolvers.openalex_listing import list_works
from monitor.sources.base import expect_status, may, need

KIND = "orcid"
ACCEPT = {"Accept": "application/json"}  # ORCID's compact JSON (application/vnd.orcid+json is the same, pretty)


def describe(collection: CollectionConfig) -> str:
    return f"ORCID {collection.identifier}, with OpenAlex"


def resolve(collection: CollectionConfig, context: Context) -> Resolution:
    orcid = collection.identifier
    marks = len(context.orcid.exchanges), len(context.openalex.exchanges)
    person = fetch(context.orcid, orcid)
    if person.outcome is Outcome.NOT_FOUND:
        return replace(person, exchanges=exchanges_since(context.orcid, marks[0]))
    listed = list_works(context.openalex, f"author.orcid:{orcid}")
    found = unite(person.found, listed.found)
    by_pmid = {f.pmid: i for i, f in enumerate(found) if f.pmid}
    skipped = []
    for item in person.skipped:
        at = by_pmid.get(item.pmid) if item.pmid else None
        if at is None:
            skipped.append(item)
        else:  # ORCID knew it by its PMID, OpenAlex by its DOI too: one work, found by both
            found[at] = replace(found[at], via=tuple(dict.fromkeys(found[at].via + ("orcid",))))
    skipped += listed.skipped
    problems = [r for r in (person, listed) if r.outcome is not Outcome.OK]
    notes = [r.message for r in (person, listed) if r.message]
    return Resolution(
        tuple(found),
        tuple(skipped),
        problems[0].outcome if problems else Outcome.OK,
        "; ".join(notes),
        complete=person.complete and listed.complete,
        exchanges=exchanges_since(context.orcid, marks[0])
        + exchanges_since(context.openalex, marks[1]),
    )


def fetch(session: Session, orcid: str) -> Resolution:
    """One record's works from ORCID (without the exchanges: the caller collects them)."""
    try:
        exchange = session.get(f"/{orcid}/works", headers=ACCEPT)
        if exchange.status_code == 404:
            return Resolution(
                (),
                outcome=Outcome.NOT_FOUND,
                message=f"ORCID has no record {orcid} ({error_text(exchange)}); "
                "check the iD in config.toml",
                complete=False,
            )
        expect_status(exchange, 200)
        payload = exchange.json()
        note = check_record(payload, orcid, exchange)
        found, skipped = parse_works(payload, exchange)
    except (FetchFailure, MalformedResponse) as problem:
        return failure(problem, "ORCID")
    return Resolution(tuple(found), tuple(skipped), message=note)


def error_text(exchange: Exchange) -> str:
    """ORCID's error JSON in a few words: 'HTTP 404: The resource was not found.'"""
    try:
        body = exchange.json()
    except MalformedResponse:
        body = None
    said = may(body, "user-message", str) or may(body, "developer-message", str)
    return f"HTTP {exchange.status_code}: {said}" if said else f"HTTP {exchange.status_code}"


def check_record(payload: Any, orcid: str, exchange: Exchange) -> str:
    """The answer must be about the record asked (its ``path``); a deprecated iD that ORCID
    redirected to its primary one is followed, and said."""
    path = may(payload, "path", str)
    answered = (path or "").strip("/").split("/")[0]
    if not answered or answered == orcid:
        return ""
    if answered in exchange.url and orcid not in exchange.url:
        return f"ORCID lists the works of {orcid} under {answered}: use that iD in config.toml"
    raise MalformedResponse(f"the answer is about record {answered}, not {orcid}")


def parse_works(payload: Any, exchange: Exchange | None = None) -> tuple[list[Found], list[Skipped]]:
    """ORCID's ``/works`` answer → one Found per group with a DOI, one Skipped per other."""
    found: list[Found] = []
    skipped: list[Skipped] = []
    for i, group in enumerate(need(payload, "group", list)):
        where = f"group[{i}]."
        summaries = [s for s in need(group, "work-summary", list, where) if isinstance(s, dict)]
        summaries.sort(key=_display_index, reverse=True)  # stable: ties keep ORCID's order
        ids = [
            *(eid for s in summaries for eid in external_ids(s, f"{where}work-summary[].")),
            *external_ids(group, where),
        ]
        first = summaries[0] if summaries else {}
        title = _value(_value(may(first, "title", dict), "title"))
        put_code = may(first, "put-code", int)
        item = f"ORCID put-code {put_code}" if put_code is not None else f"ORCID group {i + 1}"
        pmid = next((v for t, v, r in ids if t == "pmid" and r == "self" and v.isdigit()), None)
        dois = _dois(ids)
        if not dois:
            skipped.append(Skipped(item, _why_skipped(ids, pmid), title, pmid))
            continue
        year = _value(may(may(first, "publication-date", dict), "year", dict))
        found.append(
            Found(
                dois[0],
                title=title,
                year=int(year) if isinstance(year, str) and year.isdigit() else None,
                via=("orcid",),
                aliases=tuple(dois[1:]),
                pmid=pmid,
                exchange=exchange,
            )
        )
    return found, skipped


def external_ids(record: Any, where: str = "") -> list[tuple[str, str, str]]:
    """(type, value, relationship) of a record's external ids, the normalised value first."""
    block = may(record, "external-ids", dict, where) or {}
    out = []
    for entry in may(block, "external-id", list, f"{where}external-ids.") or []:
        kind = may(entry, "external-id-type", str)
        value = _value(may(entry, "external-id-normalized", dict)) or may(
            entry, "external-id-value", str
        )
        relationship = may(entry, "external-id-relationship", str) or "self"
        if kind and isinstance(value, str) and value.strip():
            out.append((kind.lower(), value.strip(), relationship.lower()))
    return out


def _dois(ids: list[tuple[str, str, str]]) -> list[str]:
    """The group's DOIs, the one to track first (see the module's docstring)."""
    own: list[str] = []
    versions: list[str] = []
    for kind, value, relationship in ids:
        doi = doi_or_none(value) if kind == "doi" else arxiv_doi(value) if kind == "arxiv" else None
        if doi and relationship == "self":
            own.append(doi)
        elif doi and relationship == "version-of":
            versions.append(doi)
    own = list(dict.fromkeys(own))
    # a DOI from an arXiv id only when the group has no DOI of its own
    own.sort(key=lambda d: d.startswith("10.48550/arxiv."))
    main = next((d for d in own if d in versions), own[0] if own else None)
    if main is None:
        return []
    return list(dict.fromkeys([main, *own, *versions]))


def _why_skipped(ids: list[tuple[str, str, str]], pmid: str | None) -> str:
    if pmid:
        return f"no DOI or arXiv id; PMID {pmid} only"
    kinds = sorted({kind for kind, _, relationship in ids if relationship == "self"})
    return f"no DOI or arXiv id; only {', '.join(kinds)}" if kinds else "no DOI or other id"


def _display_index(summary: dict[str, Any]) -> int:
    value = summary.get("display-index")
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else 0


def _value(block: Any, key: str = "value") -> Any:
    """ORCID wraps most values as {"value": ...}; either may be null."""
    return block.get(key) if isinstance(block, dict) else None
