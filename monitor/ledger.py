"""The citing-works ledger's rules: who is the same work, what is a preprint, what is a self-citation.

Pure functions over records; ``store`` applies them to the database.
Deduplication is by DOI, then PMID (and the OpenAlex and Semantic Scholar ids), then
normalised title plus year. A preprint and its published version are one citing work.
"""

from __future__ import annotations

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


def normalize_title(title: str | None) -> str | None:
    """Lower case, accents and punctuation dropped, spaces folded: for matching only."""
    if not title:
        return None
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"<[^>]+>", " ", text.lower())
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    return text if len(text) >= 12 else None  # too short to tell works apart


def same_title_work(
    a_year: int | None, b_year: int | None, either_preprint: bool
) -> bool:
    """Titles already match: are the years close enough to be the same work?"""
    if a_year is None or b_year is None:
        return True
    return abs(a_year - b_year) <= (2 if either_preprint else 0)


def name_key(name: str | None) -> str | None:
    """'Jin Ming Yang', 'Yang, J.-M.' and MEDLINE's 'Yang JM' → 'yang j': family name, first initial."""
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    parts = text.split()
    if "," in text:
        family, _, given = text.partition(",")
    elif len(parts) > 1 and re.fullmatch(r"[A-Z]{1,3}", parts[-1]):  # MEDLINE: 'Cheng Y'
        family, given = " ".join(parts[:-1]), parts[-1]
    else:
        family, given = (parts[-1], " ".join(parts[:-1])) if parts else ("", "")
    family, given = family.lower(), given.lower()
    family = re.sub(r"[^a-z]", "", family)
    initial = re.sub(r"[^a-z]", "", given)[:1]
    return f"{family} {initial}".strip() if family else None


def is_self_citation(
    citing_authors: Iterable[Mapping[str, Any]],
    tracked_authors: Iterable[Mapping[str, Any]],
    author_sc: bool | None = None,
) -> bool:
    """Author overlap by ORCID or OpenAlex author id, else by normalised name; or OpenCitations' flag."""
    if author_sc:
        return True
    citing, tracked = list(citing_authors), list(tracked_authors)
    for key in ("orcid", "openalex_id"):
        mine = {a.get(key) for a in tracked if a.get(key)}
        if mine & {a.get(key) for a in citing if a.get(key)}:
            return True
    mine_names = {name_key(a.get("name")) for a in tracked} - {None}
    return bool(mine_names & ({name_key(a.get("name")) for a in citing} - {None}))


def _get(record: CitingRecord | Mapping[str, Any], key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else getattr(record, key, None)
