"""Europe PMC: citedByCount, and the PubMed-style record (MeSH, keywords, abstract, PMID, PMCID).

Batch: ``GET /search?query=DOI:"a" OR DOI:"b"&format=json&resultType=core&pageSize=N``,
25 DOIs a request and a query of at most 1,500 characters, the length the API's error
text names (a longer one may be cut: apis.md §0b), so a batch of long DOIs is smaller.
No key. It sometimes reports an error inside an HTTP 200 (``{"errCode": …, "errMsg": …}``):
that is an error, never an empty result.

Between whole records (``[sources.europepmc] metadata_days``, monitor/plan.py) a work is
asked briefly, ``resultType=lite`` (765 bytes of a recorded record against 2,859 core, no
abstract, MeSH or notices): its count and the ids ``SPEC.brief_fields`` names are read
from it, the writer keeps the rest of its last whole record (store.carry_metadata). Not
its publication types (lite gives them as one lower-case string, core as a list) nor its
retraction status (lite has no comment-corrections): those change only with a whole record.

How fast: Europe PMC publishes no rate limit (EBI blocks abusive clients); we ask 5 a
second, 3 at a time, at most 10,000 requests a run. Every tracked work is asked at
every run.

Citing works (the ledger): ``GET /{source}/{id}/citations?format=json&page=N&pageSize=1000``
(source and id from the search record, e.g. ``MED/33930000``): one work a request, as the
API has no form listing the citations of several works (the search's ``cites:`` query
would not say which work each result cites); pages counted from 1 until
``hitCount`` citations have come: only then is the list complete. Each
``citationList.citation[]`` entry carries ``id``, ``source``, ``citationType``, ``title``,
``authorString``, ``journalAbbreviation``, ``pubYear``, ``volume``, ``issue``, ``pageInfo``,
``citedByCount`` and no DOI: an id of source ``MED`` is a PMID, of source ``PMC`` a PMCID,
and a ``PPR`` record is a preprint. ``citationType`` lists the citing work's publication
types ("Journal Article; Review"): "Retracted Publication" marks it retracted.

Retractions and corrections of the work itself (``monitor.notices``): the publication type
"Retracted Publication" (``pubTypeList.pubType``) and the comment-corrections
(``commentCorrectionList.commentCorrection[]``, e.g. ``{"type": "Retraction in", "id",
"source": "MED", "reference": "… doi: 10.…"}``) become ``is_retracted`` and ``updated_by``. A page echoes the ``request`` (source and id) it
answers: one for another work is an error, never a list of this one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from monitor import notices
from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import FetchFailure, Session
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Outcome, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    count,
    expect_status,
    lookup_batches,
    may,
    need,
    pmcid_or_none,
    pubmed_title,
    strip_markup,
    whole_then_brief,
)
from monitor.sources.listing import Listing

SPEC = SourceSpec(
    name="europepmc",
    title="Europe PMC",
    base_url="https://www.ebi.ac.uk/europepmc/webservices/rest",
    requests_per_second=5.0,  # none published; EBI blocks abusive clients
    batch_size=25,
    provides_pmid=True,
    homepage="https://europepmc.org",
    max_concurrency=3,
    list_keys=("europepmc_id",),
    brief_fields=("europepmc_id", "pmid", "pmcid"),
    metadata_days=30.0,
)
PAGE_SIZE = 1000  # the largest pageSize of /citations (apis.md §5(b))
MAX_QUERY = 1_500  # characters of query: a longer one may be cut (apis.md §0b)


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    """The works' records, ``core`` or, for those the plan names, ``lite`` (``whole_then_brief``)."""
    return whole_then_brief(works, session, lambda asked, brief: _look_up(asked, session, brief))


def _look_up(works: Sequence[Work], session: Session, brief: bool) -> list[Observation]:
    result_type, parse = ("lite", parse_brief) if brief else ("core", parse_record)
    return lookup_batches(
        works,
        session,
        SPEC.batch_size,
        request=lambda batch: request(session, batch, result_type),
        records=lambda payload: need(
            need(payload, "resultList", dict), "result", list, "resultList."
        ),
        key=lambda record: doi_or_none(need(record, "doi", str, "resultList.result[].")),
        parse=parse,
        total=lambda payload: count(payload, "hitCount"),
        length=lambda work: len(_clause(work)) + len(" OR "),
        room=MAX_QUERY + len(" OR "),
    )


def _clause(work: Work) -> str:
    return f'DOI:"{work.doi}"'


def request(session: Session, batch: list[Work], result_type: str = "core") -> Exchange:
    params = {
        "query": " OR ".join(_clause(w) for w in batch),
        "format": "json",
        "resultType": result_type,
        # room for a DOI that matches more than one record (first one wins)
        "pageSize": str(2 * len(batch)),
    }
    return answer(session, "/search", params, batch=len(batch))


def answer(session: Session, path: str, params: dict[str, str], batch: int = 0) -> Exchange:
    """GET ``path``; anything but a 200 without an error inside is a FetchFailure."""
    exchange = session.get(path, params=params, batch=batch)
    expect_status(exchange, 200)
    error = api_error(exchange)
    if error:
        raise FetchFailure(Outcome.ERROR, error, exchange)
    return exchange


def api_error(exchange: Exchange) -> str | None:
    """The message of an error Europe PMC reports inside an HTTP 200, if any."""
    body = exchange.body
    if b'"errMsg"' not in body and b'"errCode"' not in body:
        return None  # not parsed twice: the caller parses the answer anyway
    try:
        payload = exchange.json()
    except MalformedResponse:
        return None  # lookup_batches reports the body itself
    if isinstance(payload, dict) and ("errMsg" in payload or "errCode" in payload):
        code = payload.get("errCode")
        return f"Europe PMC error {code}: {payload.get('errMsg') or 'no message'}"
    return None


def parse_record(record: Any) -> Parsed:
    """One ``resultList.result[]`` entry (``core`` or ``lite``) → count and metadata."""
    return Parsed(citations=count(record, "citedByCount"), metadata=parse_metadata(record))


def parse_brief(record: Any) -> Parsed:
    """A ``lite`` record asked briefly: its count and the ids ``SPEC.brief_fields`` names."""
    metadata = {k: v for k, v in _ids(record).items() if v not in (None, "")}
    return Parsed(citations=count(record, "citedByCount"), metadata=metadata, brief=SPEC.brief_fields)


def _ids(record: dict[str, Any]) -> dict[str, str | None]:
    """The ids a record gives, ``core`` or ``lite``: PMID, PMCID, and the path of its
    citations list (/{source}/{id}/citations)."""
    source, ident = may(record, "source", str), may(record, "id", str)
    return {
        "pmid": may(record, "pmid", str),
        "pmcid": pmcid_or_none(may(record, "pmcid", str)),
        "europepmc_id": f"{source}/{ident}" if source and ident else None,
    }


def parse_metadata(record: dict[str, Any]) -> dict[str, Any]:
    info = may(record, "journalInfo", dict) or {}
    journal = may(info, "journal", dict, "journalInfo.") or {}
    pages = may(record, "pageInfo", str)
    year = may(record, "pubYear", str)
    meta: dict[str, Any] = {
        "title": _title(may(record, "title", str)),
        "authors": _authors(record),
        # core: journalInfo.journal; lite: journalTitle is the abbreviation
        "journal": may(journal, "title", str, "journalInfo.journal."),
        "journal_abbreviation": may(journal, "isoabbreviation", str)
        or may(journal, "medlineAbbreviation", str)
        or may(record, "journalTitle", str),
        "issn": may(journal, "issn", str) or _first_issn(may(record, "journalIssn", str)),
        "volume": may(info, "volume", str) or may(record, "journalVolume", str),
        "issue": may(info, "issue", str) or may(record, "issue", str),
        # one value is an article number (e12807, 100752), as OpenAlex's first == last page
        "pages": pages if pages and "-" in pages else None,
        "article_number": pages if pages and "-" not in pages else None,
        "published": may(record, "firstPublicationDate", str),
        "published_print": may(info, "printPublicationDate", str),
        "published_online": may(record, "electronicPublicationDate", str),
        "year": int(year) if year and year.isdigit() else None,
        "publication_types": _strings(may(record, "pubTypeList", dict), "pubType"),
        "abstract": strip_markup(may(record, "abstractText", str)),
        "keywords": _strings(may(record, "keywordList", dict), "keyword"),
        "mesh": [
            m["descriptorName"]
            for m in may(may(record, "meshHeadingList", dict), "meshHeading", list) or []
            if isinstance(m, dict) and isinstance(m.get("descriptorName"), str)
        ],
        "mesh_headings": [
            {
                "descriptor": m["descriptorName"],
                "qualifiers": [
                    q["qualifierName"]
                    for q in may(may(m, "meshQualifierList", dict), "meshQualifier", list) or []
                    if isinstance(q, dict) and isinstance(q.get("qualifierName"), str)
                ],
                "major": m.get("majorTopic_YN") == "Y",
            }
            for m in may(may(record, "meshHeadingList", dict), "meshHeading", list) or []
            if isinstance(m, dict) and isinstance(m.get("descriptorName"), str)
        ],
        "is_oa": _yes(may(record, "isOpenAccess", str)),
        "oa_license": may(record, "license", str),
        **_ids(record),
    }
    if isinstance(record.get("pubType"), str) and not meta["publication_types"]:
        meta["publication_types"] = [t.strip() for t in record["pubType"].split(";") if t.strip()]
    meta.update(notices.retraction_status(meta["publication_types"], _notices(record)))
    return {k: v for k, v in meta.items() if v not in (None, [], "")}


def _notices(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Retractions and corrections from ``commentCorrectionList.commentCorrection`` (a list,
    or one object): ``{"id", "source", "reference", "type": "Retraction in", "orderIn"}``."""
    listed = may(may(record, "commentCorrectionList", dict), "commentCorrection", (list, dict),
                 "commentCorrectionList.")
    found = []
    for entry in [listed] if isinstance(listed, dict) else listed or []:
        label = entry.get("type") if isinstance(entry, dict) else None
        kind = notices.kind_of_link(label) if isinstance(label, str) else None
        if kind is None:
            continue
        ident, source = entry.get("id"), entry.get("source")
        reference = entry.get("reference") if isinstance(entry.get("reference"), str) else None
        found.append(
            notices.notice(
                kind,
                pmid=str(ident) if source == "MED" and str(ident).isdigit() else None,
                doi=notices.doi_in(reference),
                reference=reference,
            )
        )
    return found


_TAGS = re.compile(r"<[^>]+>")


def _title(title: str | None) -> str | None:
    """'Abscopal response … <i>in vivo</i>.' → without markup and PubMed's closing period."""
    if not title:
        return None
    return pubmed_title(re.sub(r"\s+", " ", _TAGS.sub("", title)).strip())


def _authors(record: dict[str, Any]) -> list[dict[str, Any]]:
    listed = may(may(record, "authorList", dict), "author", list, "authorList.")
    if listed is None:  # lite results: "Schoenfeld JD, Haas-Kogan DA, O'Neill AF."
        return _author_string(may(record, "authorString", str))
    return [_author(a) for a in listed if isinstance(a, dict)]


def _author_string(names: str | None) -> list[dict[str, Any]]:
    """'Schoenfeld JD, Haas-Kogan DA, O'Neill AF.' → one {"name"} per author, as written."""
    return [{"name": n.strip()} for n in (names or "").rstrip(".").split(", ") if n.strip()]


def _author(author: dict[str, Any]) -> dict[str, Any]:
    given, family = author.get("firstName"), author.get("lastName")
    name = " ".join(p for p in (given, family) if isinstance(p, str)) or author.get("fullName")
    ident = author.get("authorId")
    orcid = ident.get("value") if isinstance(ident, dict) and ident.get("type") == "ORCID" else None
    places = (author.get("authorAffiliationDetailsList") or {}).get("authorAffiliation") or []
    entry = {
        "name": name,
        "given": given,
        "family": family,
        "orcid": orcid,
        "affiliations": [
            p["affiliation"] for p in places if isinstance(p, dict) and p.get("affiliation")
        ],
    }
    return {k: v for k, v in entry.items() if v}


def _strings(container: dict[str, Any] | None, key: str) -> list[str]:
    return [s for s in may(container, key, list) or [] if isinstance(s, str) and s.strip()]


def _first_issn(issns: str | None) -> str | None:
    """'0140-6736; 1474-547x; ' → '0140-6736'."""
    return next((p.strip() for p in (issns or "").split(";") if p.strip()), None)


def _yes(flag: str | None) -> bool | None:
    return {"Y": True, "N": False}.get(flag or "")


# --- citing works (the ledger) ---


def fetch_citing(work: Work, observation: Observation, session: Session) -> CitingList:
    """Every page of the work's citations; complete only once ``hitCount`` of them came."""
    path = citations_path(observation)
    max_pages = getattr(session, "max_pages", 100)
    listed = Listing({work.doi: (work, observation)})  # handed over in pieces as it grows, where asked
    seen: set[tuple[str, str]] = set()
    counts: set[int] = set()
    complete = False
    for page in range(1, max_pages + 1):
        params = {"format": "json", "page": str(page), "pageSize": str(PAGE_SIZE)}
        exchange = answer(session, path, params)
        payload = exchange.json()
        check_request(payload, path)
        hit_count, citations = parse_citations_page(payload)
        counts.add(hit_count)
        for i, citation in enumerate(citations):
            record = parse_citation(citation, exchange, f"citationList.citation[{i}].")
            key = (str(citation["source"]).upper(), str(citation["id"]).strip())
            if key not in seen:  # a list that shifted between pages repeats a citation
                seen.add(key)
                listed.add(work.doi, record)
        if len(seen) >= hit_count:
            complete = len(counts) == 1  # a list that changed while paged may have lost some
            break
        if not citations:
            break  # fewer citations than hitCount said: the rest never came
        listed.page_read()
    return listed.lists(complete)[0]


def citations_path(observation: Observation) -> str:
    """``/MED/33930000/citations``, from the search record's source and id."""
    ident = observation.metadata.get("europepmc_id")
    source, _, number = (ident or "").partition("/")
    if not source or not number:
        raise MalformedResponse("the search record gave no source and id to list citations by")
    return f"/{quote(source, safe='')}/{quote(number, safe='')}/citations"


def check_request(payload: Any, path: str) -> None:
    """A citations page echoes the ``request`` it answers: it must be the work asked for."""
    echoed = may(payload, "request", dict) or {}
    source, ident = may(echoed, "source", str, "request."), may(echoed, "id", (str, int), "request.")
    if source is None or ident is None:
        return  # older answers may not echo it; nothing to check
    answered = f"/{quote(source, safe='')}/{quote(str(ident).strip(), safe='')}/citations"
    if answered.lower() != path.lower():
        asked = path.strip("/").removesuffix("/citations")
        raise WrongWork(f"the citations of {source}/{ident}", asked)


def parse_citations_page(payload: Any) -> tuple[int, list[Any]]:
    """A ``/citations`` page → (hitCount, its ``citationList.citation`` entries)."""
    hit_count = count(payload, "hitCount")
    listing = may(payload, "citationList", dict)
    if listing is None and hit_count == 0:
        return 0, []
    citations = need(need(payload, "citationList", dict), "citation", list, "citationList.")
    return hit_count, citations


def parse_citation(
    citation: Any, exchange: Exchange | None = None, where: str = ""
) -> CitingRecord:
    """One ``citationList.citation[]`` entry → the citing work (no DOI in this shape)."""
    source = need(citation, "source", str, where).upper()
    ident = str(need(citation, "id", (str, int), where)).strip()
    year = may(citation, "pubYear", (int, str), where)
    types = may(citation, "citationType", str, where)
    kind = (
        "preprint"
        if source == "PPR"
        else next((t.strip() for t in (types or "").split(";") if t.strip()), None)
    )
    listed_types = [t.strip() for t in (types or "").split(";") if t.strip()]
    return CitingRecord(
        source=SPEC.name,
        is_retracted=True if notices.is_retracted_type(listed_types) else None,
        pmid=ident if source == "MED" and ident.isdigit() else None,
        pmcid=pmcid_or_none(ident) if source == "PMC" else None,
        title=_title(may(citation, "title", str, where)),
        year=int(year) if str(year).isdigit() else None,
        venue=may(citation, "journalAbbreviation", str, where),
        type=kind,
        authors=tuple(_author_string(may(citation, "authorString", str, where))),
        exchange=exchange,
    )
