"""Retractions and corrections, as any source states them, in one shape.

Sources state them in their own words: Crossref's ``updated-by`` (``{"type": "retraction",
"DOI", "updated"}``), OpenAlex's ``is_retracted``, Europe PMC's publication types
(``pubTypeList.pubType``: "Retracted Publication") and comment-corrections
(``commentCorrectionList.commentCorrection[]``: ``{"type": "Retraction in", "id", "source",
"reference"}``), PubMed's ``PublicationType`` and ``CommentsCorrections RefType="RetractionIn"``
(with ``PMID`` and ``RefSource``). Each source module turns them into its observation's
metadata with the helpers here:

- ``is_retracted``: True when the source says the work is retracted (never False for
  want of a statement; OpenAlex's explicit false is kept as it comes);
- ``updated_by``: a list of notices about the work, each ``{"type", "label"?, "doi"?,
  "pmid"?, "reference"?, "date"?, "source"?}``, ``type`` one of ``RETRACTIONS`` or
  ``CORRECTIONS`` (or another kind, such as ``update``, that raises nothing).

The source that said it is the observation's source; ``metadata.merge`` keeps it as each
notice's ``reported_by`` and as ``retracted_by``. A citing work's retraction is the
ledger's ``citers.is_retracted``, with ``citers.retracted_by`` naming the source.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.doi import doi_or_none

RETRACTIONS = frozenset({"retraction", "partial_retraction", "withdrawal", "removal"})
CORRECTIONS = frozenset(
    {"correction", "corrigendum", "erratum", "addendum", "clarification", "expression_of_concern"}
)
RETRACTED_TYPE = "retracted publication"  # the publication type of a retracted work (NLM)

# "… in" links point from the work to a notice about it (Europe PMC spells them out,
# PubMed's RefType runs them together); "… for" / "… of" point the other way.
_LINKS = {
    "retraction in": "retraction",
    "partial retraction in": "partial_retraction",
    "retracted and republished in": "retraction",
    "erratum in": "erratum",
    "corrected and republished in": "correction",
    "expression of concern in": "expression_of_concern",
    "update in": "update",
}
_DOI_IN_TEXT = re.compile(r"\bdoi:\s*(10\.\d{4,9}/\S+?)\.?(?:\s|$)", re.IGNORECASE)


def kind_of_link(label: str) -> str | None:
    """'Retraction in' or 'RetractionIn' → 'retraction'; a link that is no notice → None."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label.strip()).lower()
    spaced = spaced.replace("correctedand", "corrected and").replace("retractedand", "retracted and")
    return _LINKS.get(spaced)


def is_retracted_type(types: list[str]) -> bool:
    return any(t.strip().lower() == RETRACTED_TYPE for t in types)


def doi_in(text: str | None) -> str | None:
    """The DOI a citation text names ('… 2024 Sep;404:1227. doi: 10.1016/X.'), if any."""
    match = _DOI_IN_TEXT.search(text or "")
    return doi_or_none(match.group(1)) if match else None


def notice(kind: str, **fields: Any) -> dict[str, Any]:
    """One notice in the stored shape, labelled in words ("Expression of concern"), without
    empty fields."""
    entry = {"type": kind, "label": kind.replace("_", " ").capitalize(), **fields}
    return {k: v for k, v in entry.items() if v not in (None, "")}


def retraction_status(types: list[str], notices: list[dict[str, Any]]) -> dict[str, Any]:
    """``is_retracted`` and ``updated_by`` for a metadata record, from publication types and
    notices; empty when the source states nothing."""
    found: dict[str, Any] = {}
    if is_retracted_type(types) or any(n["type"] == "retraction" for n in notices):
        found["is_retracted"] = True
    if notices:
        found["updated_by"] = notices
    return found
