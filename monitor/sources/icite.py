"""NIH iCite: Relative Citation Ratio, NIH percentile, citation rates, APT, by PMID.

Batch: ``GET /pubs?pmids=1,2,3``. The API page (icite.od.nih.gov/api) allowed 1000
PMIDs a request; the current support page ("Bulk Data and API",
support.icite.nih.gov/hc/en-us/articles/9513563045787) says 200, so we send 200.
No key; no published rate limit, we stay at 3 requests/s, 2 at a time, at most 2,000
requests a run (400,000 works). Every tracked work with a PMID is asked at every run. A
work without a known PMID is not_found without a request.

Field names: by default the API answers with the legacy names of the docs sample
(fixtures:icite/docs_sample_pubs_pmids_23456789_27599104.json); ``legacy=false`` gives
the database names. We read both, and both "Yes"/"No" strings (docs sample, 2024) and
true/false (support page example, current) for flags.

Citing works (the ledger): the record carries the citing PMIDs, ``cited_by`` (legacy;
``citedByPmids`` in database names), so ``fetch_citing`` makes no request: it reads them
again from the batch answer the count came from (the batch form of the list is the
count's own). They are PMIDs only; the ledger learns the rest from other sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.errors import MalformedResponse
from monitor.fetching import Session
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Work
from monitor.sources.base import (
    Parsed,
    SourceSpec,
    citing_list,
    count,
    expect_status,
    lookup_batches,
    may,
    need,
    parsed_once,
    pubmed_title,
)

SPEC = SourceSpec(
    name="icite",
    title="NIH iCite",
    base_url="https://icite.od.nih.gov/api",
    requests_per_second=3.0,  # none published
    batch_size=200,
    needs_pmid=True,
    homepage="https://icite.od.nih.gov",
    max_concurrency=2,
    max_requests=2_000,
    free_lists=True,
)

# Legacy name → database name (``legacy=false``). Sources of the database names: the
# support page "Bulk Data and API" (its look-up table and example), as quoted in the
# iCite briefing LeviMelo/needle_in_a_haysack icite_api_summary.md (rcr, acr, fcr, ecr,
# nihRcrPercentile, rcrIsProvisional, citedByPmidCount, isClinicalArticle,
# citingClinicalPmids, pubYear, journalNameIso, citedByPmids); apis.md §6(c) lists the same
# names.
NAMES = {
    "citation_count": "citedByPmidCount",
    "relative_citation_ratio": "rcr",
    "nih_percentile": "nihRcrPercentile",
    "field_citation_rate": "fcr",
    "expected_citations_per_year": "ecr",
    "citations_per_year": "acr",
    "provisional": "rcrIsProvisional",
    "is_clinical": "isClinicalArticle",
    "cited_by_clin": "citingClinicalPmids",
    "cited_by": "citedByPmids",
    "year": "pubYear",
    "journal": "journalNameIso",
}


def fetch(works: Sequence[Work], session: Session) -> list[Observation]:
    """Works without a PMID never reach here: the collector answers them (SPEC.needs_pmid)."""
    return lookup_batches(
        works,
        session,
        SPEC.batch_size,
        request=lambda batch: request(session, batch),
        records=lambda payload: need(payload, "data", list),
        key=_pmid,
        parse=parse_record,
        work_key=lambda work: work.pmid,
    )


def request(session: Session, batch: list[Work]) -> Exchange:
    pmids = dict.fromkeys(w.pmid for w in batch if w.pmid)  # each once, in order
    exchange = session.get("/pubs", params={"pmids": ",".join(pmids)}, batch=len(pmids))
    expect_status(exchange, 200)
    return exchange


def parse_record(record: Any) -> Parsed:
    """One ``data[]`` entry, legacy or database field names → count, metrics, metadata."""
    cited_by_clin = _field(record, "cited_by_clin", list)
    metrics = {
        "relative_citation_ratio": _field(record, "relative_citation_ratio", float),
        "nih_percentile": _field(record, "nih_percentile", float),
        "field_citation_rate": _field(record, "field_citation_rate", float),
        "expected_citations_per_year": _field(record, "expected_citations_per_year", float),
        "citations_per_year": _field(record, "citations_per_year", float),
        "provisional": _flag(record, "provisional"),
        "apt": _field(record, "apt", float),
        "is_research_article": _flag(record, "is_research_article"),
        "is_clinical": _flag(record, "is_clinical"),
        "cited_by_clinical_count": len(cited_by_clin) if cited_by_clin is not None else None,
    }
    year = _field(record, "year", int)
    meta = {
        "title": pubmed_title(may(record, "title", str)),
        "authors": _authors(record.get("authors")),
        "journal_abbreviation": _field(record, "journal", str),
        "year": year,
        "pmid": _pmid(record),
    }
    name = NAMES["citation_count"] if NAMES["citation_count"] in record else "citation_count"
    return Parsed(
        citations=count(record, name),
        metrics={k: v for k, v in metrics.items() if v is not None},
        metadata={k: v for k, v in meta.items() if v not in (None, [], "")},
    )


def _field(record: dict[str, Any], legacy: str, kind: type | tuple[type, ...]) -> Any:
    """A field under its legacy name or, failing that, its database name."""
    if legacy in record or legacy not in NAMES:
        return may(record, legacy, kind)
    return may(record, NAMES[legacy], kind)


def _flag(record: dict[str, Any], legacy: str) -> bool | None:
    """true/false, or the legacy "Yes"/"No"."""
    value = _field(record, legacy, (bool, str))
    if isinstance(value, str):
        answer = {"yes": True, "no": False, "true": True, "false": False}.get(value.strip().lower())
        if answer is None:
            raise MalformedResponse(f"field '{legacy}' should be Yes or No, got {value[:40]!r}")
        return answer
    return value


def _records_by_pmid(exchange: Exchange) -> dict[str, Any]:
    """An answer's records by their PMID (the first, where one repeats)."""
    records: dict[str, Any] = {}
    for record in need(exchange.json(), "data", list):
        pmid = _pmid(record)
        if pmid is not None:
            records.setdefault(pmid, record)
    return records


def _pmid(record: Any) -> str | None:
    value = record.get("pmid") if isinstance(record, dict) else None
    return str(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def _authors(authors: Any) -> list[dict[str, Any]]:
    """'Arun Sharma, Stephen M Schwartz' (docs sample), or the current list of objects.

    The object keys (firstName, lastName, fullName "Zhang, Yan-Ling") are those of the
    example response for PMID 32162448 quoted in LeviMelo/needle_in_a_haysack
    icite_api_summary.md; the support page shows the list only as ``[…]``.
    """
    if isinstance(authors, str):
        return [{"name": name.strip()} for name in authors.split(",") if name.strip()]
    entries = []
    for author in authors if isinstance(authors, list) else []:
        if isinstance(author, str):
            entries.append({"name": author})
        elif isinstance(author, dict):
            given, family = author.get("firstName"), author.get("lastName")
            name = " ".join(p for p in (given, family) if isinstance(p, str) and p)
            entry = {"name": name or author.get("fullName"), "given": given, "family": family}
            entries.append({k: v for k, v in entry.items() if v})
    return [e for e in entries if e.get("name")]


# --- citing works (the ledger) ---


def fetch_citing(work: Work, observation: Observation, session: Session) -> CitingList:
    """The citing PMIDs of the work's record, read from the answer its count came from.

    No request is made. An empty list for a work iCite counts as cited (the docs sample
    has one) is not complete: it says nothing about which citations vanished.
    """
    exchange = observation.exchange
    if exchange is None:
        raise MalformedResponse("the count kept no iCite answer to read the citing PMIDs from")
    record = parsed_once(exchange, _records_by_pmid).get(work.pmid or "")
    if record is None:
        raise MalformedResponse(f"PMID {work.pmid} is not in the answer it was counted from")
    pmids = citing_pmids(record)
    records = [CitingRecord(source=SPEC.name, pmid=p, exchange=exchange) for p in pmids]
    return citing_list(work, observation, records, bool(pmids) or not observation.citations)


def citing_pmids(record: dict[str, Any]) -> list[str]:
    """``cited_by`` (or ``citedByPmids``) → distinct PMIDs as digit strings, in order."""
    legacy = "cited_by"
    name = legacy if legacy in record or NAMES[legacy] not in record else NAMES[legacy]
    pmids: dict[str, None] = {}
    for value in need(record, name, list):
        pmid = str(value).strip() if isinstance(value, (int, str)) else ""
        if isinstance(value, bool) or not pmid.isdigit():
            raise MalformedResponse(f"field '{name}' should list PMIDs, got {str(value)[:40]!r}")
        pmids[pmid] = None
    return list(pmids)
