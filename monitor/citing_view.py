"""One citing work as a reader sees it: in the report's lists, its feed and the email digest.

``citing_entry`` turns a ledger row (``citing.ledger_rows``) into a ``CitingEntry``:
its title linked to the DOI (or its PubMed, OpenAlex or Semantic Scholar page), the first
three authors, venue and year, the sources that list it, its marks (self-citation,
influential, preprint, retracted) and, where Semantic Scholar gives them, the citation
intents and the first context, trimmed with the citing sentence kept whole (``snippet``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.sources import title_of

SNIPPET_CHARS = 280  # a context longer than this is trimmed to the sentences around the citation
MAX_AUTHORS = 3  # then "et al."
# A citation marker: "[12]", "[3, 4–6]", "(Smith et al., 2021)", "(Jiang 2021a; Li 2022)".
_MARKER = re.compile(r"\[\s*\d[\d\s,;–-]*\]|\([^()]*\b\d{4}[a-z]?\)")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[(“\"])")


@dataclass(frozen=True)
class CitingEntry:
    title: str
    url: str | None
    doi: str | None
    pmid: str | None
    preprint_doi: str | None
    authors: str
    venue: str | None
    year: int | None
    published: str | None
    sources: tuple[str, ...]
    gone_from: tuple[str, ...]
    intents: tuple[str, ...]
    context: str | None
    is_influential: bool
    is_self_citation: bool
    is_retracted: bool
    is_new: bool
    first_seen_at: str
    citation_id: int
    is_preprint: bool = False
    named: bool = True  # False: no source gave a title, so ``title`` is an identifier

    @property
    def marks(self) -> tuple[str, ...]:
        """The marks shown beside the title, most important first."""
        found = (
            ("retracted", self.is_retracted),
            ("self-citation", self.is_self_citation),
            ("influential", self.is_influential),
            ("preprint", self.is_preprint),
        )
        return tuple(mark for mark, on in found if on)


def citing_entry(row: Mapping[str, Any], latest_run_id: int | None) -> CitingEntry:
    """A ledger row (``citing.ledger_rows``) as shown; ``is_new`` when first seen in ``latest_run_id``."""
    doi, pmid = row["doi"], row["pmid"]
    names = [a.get("name") for a in row["authors"] if a.get("name")]
    authors = ", ".join(names[:MAX_AUTHORS]) + (" et al." if len(names) > MAX_AUTHORS else "")
    contexts = [c for c in row["contexts"] if c]
    return CitingEntry(
        title=row["title"] or (f"PMID {pmid}" if pmid else doi or "untitled"),
        url=link(row),
        doi=doi,
        pmid=pmid,
        preprint_doi=row["preprint_doi"],
        authors=authors,
        venue=row["venue"],
        year=row["year"],
        published=row["published"],
        sources=tuple(title_of(s) for s in row["sources"]),
        gone_from=tuple(title_of(s) for s, v in row["sightings"].items() if v["gone_at"]),
        intents=tuple(row["intents"]),
        context=snippet(contexts[0]) if contexts else None,
        is_influential=bool(row["is_influential"]),
        is_self_citation=bool(row["is_self_citation"]),
        is_retracted=bool(row["is_retracted"]),
        is_new=row["first_seen_run_id"] == latest_run_id,
        first_seen_at=row["first_seen_at"],
        citation_id=row["citation_id"],
        is_preprint=bool(row.get("is_preprint")),
        named=bool(row["title"]),
    )


def link(row: Mapping[str, Any]) -> str | None:
    """Where a citing work can be read: its DOI, else its PubMed, OpenAlex or Semantic Scholar page."""
    if row.get("doi"):
        return f"https://doi.org/{row['doi']}"
    if row.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/"
    if row.get("openalex_id"):
        return f"https://openalex.org/{row['openalex_id']}"
    if row.get("s2_id"):
        return f"https://www.semanticscholar.org/paper/{row['s2_id']}"
    return None


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A citation context trimmed to about ``limit`` characters, whole sentences only.

    The sentence holding the citation marker ("[12]", "(Smith et al., 2021)"; else the
    first) is the cited passage: it is kept whole, and its neighbours are added while they
    fit. Only a passage over twice ``limit`` is cut, at word boundaries around its marker.
    "…" marks every cut.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    sentences = _SENTENCE_BREAK.split(text)
    cited = next((i for i, s in enumerate(sentences) if _MARKER.search(s)), 0)
    first = last = cited
    size = len(sentences[cited])
    while True:
        grown = False
        for i in (last + 1, first - 1):
            if 0 <= i < len(sentences) and size + 1 + len(sentences[i]) <= limit:
                size += 1 + len(sentences[i])
                first, last = min(first, i), max(last, i)
                grown = True
        if not grown:
            break
    passage = " ".join(sentences[first : last + 1])
    before, after = first > 0, last < len(sentences) - 1
    if len(passage) > 2 * limit:
        passage, cut_before, cut_after = _around_marker(passage, 2 * limit)
        before, after = before or cut_before, after or cut_after
    return ("… " if before else "") + passage + (" …" if after else "")


def _around_marker(passage: str, width: int) -> tuple[str, bool, bool]:
    """At most ``width`` characters of ``passage`` around its marker, cut between words."""
    found = _MARKER.search(passage)
    centre = (found.start() + found.end()) // 2 if found else 0
    start = max(0, min(centre - width // 2, len(passage) - width))
    end = start + width
    if start > 0:
        start = passage.find(" ", start) + 1 or start
    if end < len(passage):
        end = passage.rfind(" ", start, end) if passage.rfind(" ", start, end) > start else end
    return passage[start:end].strip(), start > 0, end < len(passage)
