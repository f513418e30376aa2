"""PubMed (NCBI E-utilities): how many PubMed articles cite a work, by PMID.

Batch: ``GET /elink.fcgi?dbfrom=pubmed&db=pubmed&linkname=pubmed_pubmed_citedin&id=1&id=2``.
Each ``id`` parameter gets a link operation of its own, one ``LinkSet`` each, so the
citing PMIDs stay apart per work (E-utilities help, NBK25499, ELink: "If more than one
id parameter is provided, ELink will perform a separate link operation"). 100 ids a
request keeps the URL short. A LinkSet without a ``pubmed_pubmed_citedin`` LinkSetDb
is how PubMed says no PubMed article cites the work: 0, not an error. ``ERROR``
elements (of the whole answer or of one LinkSet) are errors. The count comes from PMC
reference lists, so it undercounts.

NCBI asks for ``tool`` and ``email`` on every request. Without an API key it allows 3
requests/s, 10 with one (``api_key`` query parameter, redacted before storing; E-utilities
help NBK25497); we keep 3, 3 at a time, unless ``[sources.pubmed] requests_per_second``
says otherwise, and at most 5,000 requests a run (two a batch: 250,000 works). Every
tracked work with a PMID is asked at every run. A work without a known PMID is not_found
without a request.

Citing works (the ledger): the cited-in PMIDs came with the count, so ``fetch_citing``
makes no request: it reads the work's LinkSet again from the elink answer of its batch
(the batch form of the list is the count's own).

Retractions and corrections (``monitor.notices``): for the works counted, one
``GET /efetch.fcgi?db=pubmed&id=1,2&retmode=xml`` a batch reads each PubmedArticle's
``PublicationType`` ("Retracted Publication") and ``CommentsCorrectionsList`` (``<CommentsCorrections
RefType="RetractionIn"><RefSource>…</RefSource><PMID>…</PMID>``) into ``is_retracted`` and
``updated_by``, with the publication types; the rest of the record is left to the sources
that describe works. An article is matched to its work by its PMID. If the efetch fails,
the counts stand without that metadata.

``parse_efetch`` reads the whole bibliographic record (EFetch PubmedArticleSet XML).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from monitor import notices
from monitor.errors import MalformedResponse
from monitor.fetching import BudgetSpent, FetchFailure, Session
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Outcome, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    budgeted,
    chunks,
    citing_list,
    expect_status,
    failed,
    malformed,
    observe,
    parsed_once,
    partial_date,
    pmcid_or_none,
    pubmed_title,
    strip_markup,
)

SPEC = SourceSpec(
    name="pubmed",
    title="PubMed",
    base_url="https://eutils.ncbi.nlm.nih.gov/entrez/eutils",
    requests_per_second=3.0,  # NCBI's limit without a key; 10 with one
    batch_size=100,
    api_key_env="NCBI_API_KEY",
    needs_pmid=True,
    key_hint=(
        "optional: an NCBI API key raises the limit from 3 to 10 requests/s; create one under "
        "'API Key Management' at https://account.ncbi.nlm.nih.gov/settings/"
    ),
    secret_params=("api_key",),
    homepage="https://pubmed.ncbi.nlm.nih.gov",
    max_concurrency=3,
    max_requests=5_000,
    free_lists=True,
)
log = logging.getLogger(__name__)
CITED_IN = "pubmed_pubmed_citedin"
TOOL = "citation-monitor"


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    """Works without a PMID never reach here: the collector answers them (SPEC.needs_pmid).

    A batch at a time (``max_concurrency`` at once): its counts, then the retraction
    status of the works it counted."""

    def ask(batch: list[Work]) -> list[Observation]:
        observations = budgeted(session, batch, lambda: cited_in(batch, session))
        session.done(len(batch))
        counted = [w for w, o in zip(batch, observations) if o.outcome is Outcome.OK]
        statuses = retraction_statuses(counted, session)
        return [
            replace(o, metadata={**o.metadata, **statuses[w.pmid]}) if w.pmid in statuses else o
            for w, o in zip(batch, observations)
        ]

    return [o for observed in session.map(ask, list(chunks(works, SPEC.batch_size))) for o in observed]


# What efetch adds to a work's metadata: its publication types and notices only.
STATUS_FIELDS = ("publication_types", "is_retracted", "updated_by")


def retraction_statuses(works: Sequence[Work], session: Session) -> dict[str, dict[str, Any]]:
    """PMID → publication types, ``is_retracted`` and ``updated_by``, one efetch a batch."""
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(works, SPEC.batch_size):
        params: dict[str, Any] = {
            "db": "pubmed",
            "id": ",".join(w.pmid for w in batch if w.pmid),
            "retmode": "xml",
            "tool": TOOL,
        }
        if session.contact_email:
            params["email"] = session.contact_email
        if session.source.api_key:
            params["api_key"] = session.source.api_key
        try:
            exchange = session.get("/efetch.fcgi", params=params)
            expect_status(exchange, 200)
            records = parse_statuses(exchange.body)
        except BudgetSpent:
            log.info("PubMed: the run's budget is spent, so no retraction status for %d works", len(batch))
            continue
        except (FetchFailure, MalformedResponse) as exc:
            log.warning("PubMed: records not read, so no retraction status this run: %s", exc)
            continue
        asked = {w.pmid for w in batch}
        found.update((pmid, status) for pmid, status in records.items() if pmid in asked)  # another tells us nothing
    return found


def cited_in(works: Sequence[Work], session: Session) -> list[Observation]:
    """One elink request per batch; each work's LinkSet found by its PMID."""
    source = session.source.name
    observations: list[Observation] = []
    for batch in chunks(works, SPEC.batch_size):
        try:
            exchange = request(session, batch)
        except BudgetSpent:
            raise
        except FetchFailure as failure:
            observations += failed(batch, source, failure)
            continue
        try:
            link_sets = parse_elink(exchange.body)
        except MalformedResponse as exc:
            observations += malformed(batch, source, exc, exchange)
            continue
        except FetchFailure as failure:
            observations += failed(
                batch, source, FetchFailure(failure.outcome, failure.message, exchange)
            )
            continue
        strangers = sorted(set(link_sets) - {w.pmid for w in batch})
        for work in batch:
            link_set = link_sets.get(work.pmid or "")
            if link_set is None and strangers:
                message = (
                    f"answered for another work: the answer holds PMID {strangers[0]}, not asked "
                    "for; whether this work is indexed is unknown"
                )
                observations.append(Observation(work.doi, source, Outcome.ERROR, message, exchange=exchange))
                continue
            observations.append(observe_link_set(work, source, exchange, link_set))
    return observations


def observe_link_set(
    work: Work, source: str, exchange: Exchange, link_set: ET.Element | None
) -> Observation:
    """A work's LinkSet: ok with its count, not_found when absent, error with NCBI's text."""
    error = _text(link_set.find("ERROR")) if link_set is not None else None
    if error:
        return Observation(work.doi, source, Outcome.ERROR, f"PubMed: {error}", exchange=exchange)
    return observe(
        work, source, exchange, lambda: None if link_set is None else parse_link_set(link_set)
    )


def request(session: Session, batch: list[Work]) -> Exchange:
    params: dict[str, Any] = {
        "dbfrom": "pubmed",
        "db": "pubmed",
        "linkname": CITED_IN,
        "id": [w.pmid for w in batch],  # repeated: one LinkSet per id
        "tool": TOOL,
    }
    if session.contact_email:
        params["email"] = session.contact_email
    key = session.source.api_key
    if key:
        params["api_key"] = key
    exchange = session.get("/elink.fcgi", params=params)
    expect_status(exchange, 200)  # NCBI echoes a refused key: the Session stored it redacted
    return exchange


def parse_elink(body: bytes) -> dict[str, ET.Element]:
    """An eLinkResult document → its LinkSets by the PMID each was asked for.

    An ``ERROR`` of the whole answer raises FetchFailure(error) with NCBI's text.
    """
    root = _xml(body, "eLinkResult")
    error = _text(root.find("ERROR"))
    if error:
        raise FetchFailure(Outcome.ERROR, f"PubMed: {error}")
    link_sets: dict[str, ET.Element] = {}
    for link_set in root.findall("LinkSet"):
        pmid = _text(link_set.find("IdList/Id"))
        if not pmid:
            raise MalformedResponse("a LinkSet has no IdList/Id")
        link_sets.setdefault(pmid, link_set)
    return link_sets


def _link_sets(exchange: Exchange) -> dict[str, ET.Element]:
    return parse_elink(exchange.body)


def parse_link_set(link_set: ET.Element) -> Parsed:
    """One LinkSet → the number of distinct PMIDs in its pubmed_pubmed_citedin LinkSetDb."""
    return Parsed(
        citations=len(cited_in_pmids(link_set)),
        metadata={"pmid": _text(link_set.find("IdList/Id"))},
    )


def cited_in_pmids(link_set: ET.Element) -> list[str]:
    """The distinct PMIDs of a LinkSet's pubmed_pubmed_citedin LinkSetDb, in order."""
    citing: dict[str, None] = {}
    for db in link_set.findall("LinkSetDb"):
        if _text(db.find("LinkName")) != CITED_IN:
            continue
        for element in db.findall("Link/Id"):
            pmid = _text(element)
            if not pmid or not pmid.isdigit():
                raise MalformedResponse(f"{CITED_IN} Link/Id {pmid!r} is not a PMID")
            citing[pmid] = None
    return list(citing)


def fetch_citing(work: Work, observation: Observation, session: Session) -> CitingList:
    """The work's cited-in PMIDs, read from the elink answer its count came from: no request.

    The count is the number of these PMIDs, so the list is always complete.
    """
    exchange = observation.exchange
    if exchange is None:
        raise MalformedResponse("the count kept no elink answer to read the citing PMIDs from")
    link_set = parsed_once(exchange, _link_sets).get(work.pmid or "")
    if link_set is None:
        raise MalformedResponse(
            f"PMID {work.pmid} has no LinkSet in the answer it was counted from"
        )
    records = [
        CitingRecord(source=SPEC.name, pmid=pmid, exchange=exchange)
        for pmid in cited_in_pmids(link_set)
    ]
    return citing_list(work, observation, records, complete=True)


# --- EFetch: the bibliographic record ---

_MONTHS = {
    month: number
    for number, month in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_efetch(body: bytes) -> dict[str, dict[str, Any]]:
    """A PubmedArticleSet document → metadata by PMID."""
    return {pmid: parse_article(article) for pmid, article in _articles(body)}


def parse_statuses(body: bytes) -> dict[str, dict[str, Any]]:
    """A PubmedArticleSet document → by PMID, what ``parse_efetch`` reads of ``STATUS_FIELDS``
    alone (a quiet run asks every work's: the rest of the record is not read)."""
    return {pmid: _kept(_status(*_parts(article))) for pmid, article in _articles(body)}


def _articles(body: bytes) -> Iterator[tuple[str, ET.Element]]:
    for article in _xml(body, "PubmedArticleSet").findall("PubmedArticle"):
        pmid = _text(article.find("MedlineCitation/PMID"))
        if not pmid:
            raise MalformedResponse("a PubmedArticle has no MedlineCitation/PMID")
        yield pmid, article


def _parts(article: ET.Element) -> tuple[ET.Element, ET.Element]:
    citation, body = article.find("MedlineCitation"), article.find("MedlineCitation/Article")
    if citation is None or body is None:
        raise MalformedResponse("a PubmedArticle has no MedlineCitation/Article")
    return citation, body


def _status(citation: ET.Element, body: ET.Element) -> dict[str, Any]:
    """``STATUS_FIELDS``: the publication types, and the notices they and the links make."""
    types = [t for t in map(_text, body.findall("PublicationTypeList/PublicationType")) if t]
    return {"publication_types": types, **notices.retraction_status(types, _notices(citation))}


def _kept(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if v not in (None, [], "")}


def parse_article(article: ET.Element) -> dict[str, Any]:
    citation, body = _parts(article)
    ids = {e.get("IdType"): _text(e) for e in article.findall("PubmedData/ArticleIdList/ArticleId")}
    published = _date(body.find("Journal/JournalIssue/PubDate"))
    title = _all_text(body.find("ArticleTitle"))
    meta: dict[str, Any] = {
        "title": pubmed_title(title),
        "authors": [_author(a) for a in body.findall("AuthorList/Author")],
        "journal": _text(body.find("Journal/Title")),
        "journal_abbreviation": _text(body.find("Journal/ISOAbbreviation")),
        "issn": _text(body.find("Journal/ISSN")),
        "volume": _text(body.find("Journal/JournalIssue/Volume")),
        "issue": _text(body.find("Journal/JournalIssue/Issue")),
        "pages": _text(body.find("Pagination/MedlinePgn")),
        "published": published,
        "published_online": _date(body.find("ArticleDate[@DateType='Electronic']")),
        "year": int(published[:4]) if published else None,
        "abstract": strip_markup(
            " ".join(_abstract_part(p) for p in body.findall("Abstract/AbstractText"))
        ),
        "keywords": [k for k in map(_all_text, citation.findall("KeywordList/Keyword")) if k],
        "mesh": [
            m
            for m in map(_text, citation.findall("MeshHeadingList/MeshHeading/DescriptorName"))
            if m
        ],
        "mesh_headings": [
            _mesh_heading(h) for h in citation.findall("MeshHeadingList/MeshHeading") if _text(h.find("DescriptorName"))
        ],
        **_status(citation, body),
        "pmid": _text(citation.find("PMID")),
        "pmcid": pmcid_or_none(ids.get("pmc")),
        "doi": ids.get("doi"),
    }
    return _kept(meta)


def _notices(citation: ET.Element) -> list[dict[str, Any]]:
    """``CommentsCorrectionsList/CommentsCorrections`` links that are notices about the work."""
    found = []
    for link in citation.findall("CommentsCorrectionsList/CommentsCorrections"):
        label = link.get("RefType") or ""
        kind = notices.kind_of_link(label)
        if kind is None:
            continue
        reference = _text(link.find("RefSource"))
        found.append(
            notices.notice(
                kind, pmid=_text(link.find("PMID")), doi=notices.doi_in(reference),
                reference=reference,
            )
        )
    return found


def _author(author: ET.Element) -> dict[str, Any]:
    given, family = _text(author.find("ForeName")), _text(author.find("LastName"))
    entry = {
        "name": " ".join(p for p in (given, family) if p),
        "given": given,
        "family": family,
        "affiliations": [a for a in map(_text, author.findall("AffiliationInfo/Affiliation")) if a],
    }
    return {k: v for k, v in entry.items() if v}


def _abstract_part(part: ET.Element) -> str:
    label, text = part.get("Label"), _all_text(part) or ""
    return f"{label.capitalize()}: {text}" if label else text


def _date(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    month = _text(element.find("Month")) or ""
    month = str(_MONTHS.get(month[:3].lower(), month)) if month else ""
    return partial_date(
        [_text(element.find("Year")) or "", month, _text(element.find("Day")) or ""]
    )


# --- XML helpers ---


def _xml(body: bytes, root_tag: str) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedResponse(f"body is not valid XML ({exc})") from None
    if root.tag != root_tag:
        raise MalformedResponse(f"expected an {root_tag} document, got <{root.tag}>")
    return root


def _text(element: ET.Element | None) -> str | None:
    text = element.text.strip() if element is not None and element.text else ""
    return text or None


def _all_text(element: ET.Element | None) -> str | None:
    """Text with inline markup (``vitamin D<sub>3</sub>``) flattened."""
    text = " ".join("".join(element.itertext()).split()) if element is not None else ""
    return text or None


def _mesh_heading(heading: ET.Element) -> dict[str, Any]:
    """A MeshHeading: its descriptor, its qualifiers, and whether the descriptor or one of
    its qualifiers is a major topic (MajorTopicYN="Y")."""
    descriptor = heading.find("DescriptorName")
    qualifiers = heading.findall("QualifierName")
    return {
        "descriptor": _text(descriptor),
        "qualifiers": [q for q in map(_text, qualifiers) if q],
        "major": any(e is not None and e.get("MajorTopicYN") == "Y" for e in (descriptor, *qualifiers)),
    }
