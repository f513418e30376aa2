"""Merge what each source says about a work into one record, keeping each field's source."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Who we believe first, field by field; sources not named follow in registry order.
# Crossref carries the publisher's own deposit; OpenAlex has disambiguated authors,
# topics and open-access status.
PRIORITY: dict[str, tuple[str, ...]] = {
    "authors": ("openalex", "crossref"),
    "abstract": ("crossref", "europepmc", "openalex", "semanticscholar"),
    "keywords": ("europepmc", "openalex"),
    "topics": ("openalex",),
    "is_oa": ("unpaywall", "openalex"),
    "oa_status": ("unpaywall", "openalex"),
    "oa_url": ("unpaywall", "openalex"),
    "pmid": ("europepmc", "openalex", "icite"),
    "mesh_headings": ("pubmed", "europepmc", "openalex"),  # NLM's own indexing first
    # NLM's abbreviation (what Vancouver cites); Crossref's short title is often the full name
    "journal_abbreviation": ("pubmed", "europepmc", "icite", "crossref"),
}
DEFAULT_ORDER = ("crossref", "openalex", "europepmc", "semanticscholar", "pubmed", "icite")


# Every field a source parser may fill in. Templates read them as attributes.
FIELDS = frozenset(
    ["title", "authors", "journal", "journal_abbreviation", "issn", "publisher", "volume", "issue", "pages", "article_number", "published", "published_print", "published_online", "year", "type", "language", "abstract", "keywords", "mesh", "mesh_headings", "subjects", "topics", "license", "is_oa", "oa_status", "oa_url", "is_retracted", "retracted_by", "updated_by", "update_to", "openalex_id", "pmid", "pmcid", "s2_id", "corpus_id", "tldr", "fields_of_study", "oa_license", "oa_version", "oa_host_type", "oa_landing_url", "oa_pdf_url", "scopus_id", "eid", "scopus_citedby_url", "altmetric_id", "details_url", "publication_types", "europepmc_id"]
)


class Record(dict):
    """A merged work record: ``record.journal`` is None when no source gave a journal.

    An attribute that is not a known field is still an error, so a typo in a
    template fails loudly under StrictUndefined.
    """

    def __getattr__(self, name: str) -> Any:
        if name in FIELDS:
            return self.get(name)
        raise AttributeError(name)


def merge(per_source: Mapping[str, Mapping[str, Any]]) -> tuple[Record, dict[str, str]]:
    """Return (merged record, field → source it came from).

    Most fields come from the first source (by ``PRIORITY``) that has them. What any
    source says of a retraction or correction counts, whoever else is silent or says
    otherwise: ``is_retracted`` is true when one source says so (``retracted_by`` names
    every such source), and ``updated_by`` holds every source's notices, each with the
    source that reported it (``reported_by``).
    """
    merged = Record()
    origin: dict[str, str] = {}
    fields = {f for record in per_source.values() for f in record}
    for field in sorted(fields - set(COMBINED)):
        stated = first_stated(field, per_source)
        if stated is not None:
            origin[field], merged[field] = stated
    order = _order((), per_source)
    retracted_by = [s for s in order if per_source[s].get("is_retracted") is True]
    notices = [
        {**notice, "reported_by": s}
        for s in order
        for notice in per_source[s].get("updated_by") or []
        if isinstance(notice, Mapping)
    ]
    if retracted_by:
        merged.update(is_retracted=True, retracted_by=retracted_by)
        origin["is_retracted"] = retracted_by[0]
    elif any(per_source[s].get("is_retracted") is False for s in order):
        merged["is_retracted"] = False
        origin["is_retracted"] = next(s for s in order if per_source[s].get("is_retracted") is False)
    if notices:
        merged["updated_by"] = notices
        origin["updated_by"] = notices[0]["reported_by"]
    return merged, origin


def first_stated(field: str, per_source: Mapping[str, Mapping[str, Any]]) -> tuple[str, Any] | None:
    """(source, value) of the first source, in ``field``'s order of belief, that states it."""
    for source in _order(PRIORITY.get(field, ()), per_source):
        value = per_source[source].get(field)
        if states(value):
            return source, value
    return None


def states(value: Any) -> bool:
    """Whether a source's value of a field says anything (``first_stated`` passes over it if not)."""
    return value not in (None, "", [], {})


def believed_before(field: str, source: str, other: str) -> bool:
    """Whether ``first_stated`` asks ``source`` about ``field`` before ``other``."""
    return _order(PRIORITY.get(field, ()), {source: None, other: None})[0] == source


# Fields every source adds to, rather than the first one wins (see ``merge``).
COMBINED = ("is_retracted", "retracted_by", "updated_by")


def for_citation(record: Record, per_source: Mapping[str, Mapping[str, Any]]) -> Record:
    """``record`` with authors split into family and given names where a source splits them
    (Crossref's deposit does), so 'Ludwig van Beethoven' is cited as 'van Beethoven, L.'."""
    for source in _order(("crossref",), per_source):
        authors = per_source[source].get("authors") or []
        if authors and all(isinstance(a, Mapping) and a.get("family") for a in authors):
            return Record({**record, "authors": authors})
    return record


def _order(preferred: Iterable[str], available: Mapping[str, Any]) -> list[str]:
    order = [s for s in (*preferred, *DEFAULT_ORDER) if s in available]
    return list(dict.fromkeys([*order, *sorted(available)]))
