"""The citing-works ledger's rules: who is the same work, what is a preprint, what is a self-citation.

Pure functions over records; ``store`` applies them to the database.
Deduplication is by DOI, then PMID (and the OpenAlex and Semantic Scholar ids), then
normalised title plus year. A preprint and its published version are one citing work.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.models import CitingRecord

# DOI prefixes of preprint servers: bioRxiv/medRxiv, Research Square, SSRN, arXiv,
# Preprints.org, OSF Preprints, PsyArXiv, Authorea, TechRxiv, JMIR Preprints.
PREPRINT_PREFIXES = (
    "10.1101/", "10.21203/", "10.2139/", "10.48550/", "10.20944/", "10.31219/",
    "10.31234/", "10.22541/", "10.36227/", "10.2196/preprints.",
)
PREPRINT_TYPES = {"preprint", "posted-content", "posted_content"}


def is_preprint(record: CitingRecord | Mapping[str, Any]) -> bool:
    doi = _get(record, "doi") or ""
    kind = (_get(record, "type") or "").lower()
    return kind in PREPRINT_TYPES or doi.startswith(PREPRINT_PREFIXES)


@functools.lru_cache(maxsize=4096)  # a record's title is normalised three times as its list is merged
def normalize_title(title: str | None) -> str | None:
    """Lower case, accents and punctuation dropped, spaces folded: for matching only."""
    if not title:
        return None
    text = title if title.isascii() else _without_accents(title)  # most titles: nothing to drop
    text = re.sub(r"<[^>]+>", " ", text.lower())
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    return text if len(text) >= 12 else None  # too short to tell works apart


def _without_accents(text: str) -> str:
    """Letters decomposed (NFKD) and their combining marks dropped: 'é' → 'e', 'ﬁ' → 'fi'."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def same_title_work(
    a_year: int | None, b_year: int | None, either_preprint: bool
) -> bool:
    """Titles already match: are the years close enough to be the same work?"""
    if a_year is None or b_year is None:
        return True
    return abs(a_year - b_year) <= (2 if either_preprint else 0)


@functools.lru_cache(maxsize=65_536)  # a name is read once for every citing work it meets
def _name_parts(name: str | None) -> tuple[str, tuple[str, ...], bool] | None:
    """(family, given-name tokens, whether the given names are initials only), lower case.

    'Jin Ming Yang' → ('yang', ('jin', 'ming'), False); 'Yang, J.-M.' and MEDLINE's 'Yang JM'
    → ('yang', ('j', 'm'), True).
    """
    if not name:
        return None
    text = _without_accents(name)
    parts = text.split()
    medline = False
    if "," in text:
        family, _, given = text.partition(",")
    elif len(parts) > 1 and re.fullmatch(r"[A-Z]{1,3}", parts[-1]):  # MEDLINE: 'Cheng Y'
        family, given, medline = " ".join(parts[:-1]), parts[-1], True
    else:
        family, given = (parts[-1], " ".join(parts[:-1])) if parts else ("", "")
    family = re.sub(r"[^a-z]", "", family.lower())
    if not family:
        return None
    if medline:
        return family, tuple(given.lower()), True
    tokens = tuple(t for t in re.split(r"[^a-z]+", given.lower()) if t)
    return family, tokens, all(len(t) == 1 for t in tokens)


def name_key(name: str | None) -> str | None:
    """'Jin Ming Yang', 'Yang, J.-M.' and MEDLINE's 'Yang JM' → 'yang j': family name, first initial."""
    parts = _name_parts(name)
    if parts is None:
        return None
    family, given, _ = parts
    return f"{family} {given[0][0]}" if given else family


def same_person(a: str | None, b: str | None) -> bool:
    """Same family name, and given names that agree: in full where both are written out
    ('Yan Cheng' is not 'Yong Cheng'), else by first initial ('Cheng Y' may be either)."""
    pa, pb = _name_parts(a), _name_parts(b)
    if pa is None or pb is None or pa[0] != pb[0]:
        return False
    (_, ga, initials_a), (_, gb, initials_b) = pa, pb
    if not ga or not gb:
        return not ga and not gb
    if initials_a or initials_b:
        return ga[0][0] == gb[0][0]
    return ga[0] == gb[0] or "".join(ga) == "".join(gb)


def is_self_citation(
    citing_authors: Iterable[Mapping[str, Any]],
    tracked_authors: Iterable[Mapping[str, Any]],
    author_sc: bool | None = None,
) -> bool:
    """Author overlap by ORCID or OpenAlex author id, else by normalised name; or OpenCitations' flag."""
    return SelfCitations(tracked_authors)(citing_authors, author_sc)


class SelfCitations:
    """``is_self_citation`` against one tracked work's authors, read once: a list's records
    are each checked against the same authors."""

    def __init__(self, tracked_authors: Iterable[Mapping[str, Any]]):
        tracked = list(tracked_authors)
        self.ids = {key: {a.get(key) for a in tracked if a.get(key)} for key in ("orcid", "openalex_id")}
        self.by_key: dict[str, list[str]] = {}
        for author in tracked:
            if name := name_key(author.get("name")):
                self.by_key.setdefault(name, []).append(author["name"])

    def __call__(self, citing_authors: Iterable[Mapping[str, Any]], author_sc: bool | None = None) -> bool:
        if author_sc:
            return True
        citing = list(citing_authors)
        for key, mine in self.ids.items():
            if mine and mine & {a.get(key) for a in citing if a.get(key)}:
                return True
        return any(
            same_person(name, author["name"])
            for author in citing
            for name in self.by_key.get(name_key(author.get("name")) or "", ())
        )


def _get(record: CitingRecord | Mapping[str, Any], key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else getattr(record, key, None)
