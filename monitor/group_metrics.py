"""Group metrics: what a set of works adds up to. Pure functions, one per metric.

Each takes the works' figures (``WorkFigures``: one per work, read from the store by
monitor/portfolio.py) and returns a number, or None when no work gives the figure it
needs: a figure nobody knows is never shown as 0. Definitions, with examples, are in
docs/metrics.md; every one is tested on a hand-computed example.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class WorkFigures:
    """One work's figures at the end of a run, as the group metrics read them."""

    doi: str
    citations: int | None  # the headline (monitor/headline.py); None: not indexed yet
    year: int | None = None  # publication year
    citations_this_year: int | None = None  # OpenAlex counts_by_year for the run's year
    fwci: float | None = None  # OpenAlex
    rcr: float | None = None  # iCite Relative Citation Ratio
    top_10_percent: bool | None = None  # OpenAlex citation_normalized_percentile
    top_1_percent: bool | None = None
    open_access: bool | None = None  # Unpaywall's is_oa, else OpenAlex's
    headline_basis: str = "not_indexed"  # which figure the headline is (headline.SOURCE_COUNT, ...)


@dataclass(frozen=True)
class GroupMetrics:
    """A collection's metrics at one run (a row of the ``collection_metrics`` view)."""

    works: int
    citations: int | None
    citations_this_year: int | None
    h_index: int | None
    i10_index: int | None
    h5_index: int | None
    fwci_mean: float | None
    fwci_median: float | None
    rcr_mean: float | None
    rcr_median: float | None
    top_10_percent_share: float | None
    top_1_percent_share: float | None
    open_access_share: float | None
    not_indexed: int
    details: dict[str, Any]  # how many works each figure rests on, and the year used

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def h_index(counts: Iterable[int]) -> int:
    """The largest h such that h works have at least h citations each (Hirsch 2005)."""
    ranked = sorted(counts, reverse=True)
    return sum(1 for rank, count in enumerate(ranked, start=1) if count >= rank)


def i10_index(counts: Iterable[int]) -> int:
    """How many works have at least 10 citations (Google Scholar's i10-index)."""
    return sum(1 for count in counts if count >= 10)


def h5_index(figures: Iterable[WorkFigures], year: int) -> int | None:
    """The h-index of the works published in the last five complete years (``year`` - 5 to
    ``year`` - 1), as Google Scholar Metrics defines it; None when none of them is indexed."""
    counts = [
        f.citations for f in figures
        if f.citations is not None and f.year is not None and year - 5 <= f.year <= year - 1
    ]
    return h_index(counts) if counts else None


def total(values: Iterable[int | None]) -> int | None:
    """The sum of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(statistics.median(known)) if known else None


def share(flags: Iterable[bool | None]) -> float | None:
    """The share of works with the flag set, among those for which it is known."""
    known = [f for f in flags if f is not None]
    return sum(known) / len(known) if known else None


def compute(figures: Sequence[WorkFigures], year: int) -> GroupMetrics:
    """Every group metric of a set of works, each work once, at a run in ``year``."""
    counts = [f.citations for f in figures if f.citations is not None]
    return GroupMetrics(
        works=len(figures),
        citations=total(f.citations for f in figures),
        citations_this_year=total(f.citations_this_year for f in figures),
        h_index=h_index(counts) if counts else None,
        i10_index=i10_index(counts) if counts else None,
        h5_index=h5_index(figures, year),
        fwci_mean=mean(f.fwci for f in figures),
        fwci_median=median(f.fwci for f in figures),
        rcr_mean=mean(f.rcr for f in figures),
        rcr_median=median(f.rcr for f in figures),
        top_10_percent_share=share(f.top_10_percent for f in figures),
        top_1_percent_share=share(f.top_1_percent for f in figures),
        open_access_share=share(f.open_access for f in figures),
        not_indexed=len(figures) - len(counts),
        details={
            "year": year,
            "indexed": len(counts),
            "with_citations_this_year": sum(f.citations_this_year is not None for f in figures),
            "with_fwci": sum(f.fwci is not None for f in figures),
            "with_rcr": sum(f.rcr is not None for f in figures),
            "with_percentile": sum(f.top_10_percent is not None for f in figures),
            "with_open_access": sum(f.open_access is not None for f in figures),
        },
    )


# The metrics that are counts: their change between two runs is a difference of the stored
# values (a work that joined adds its citations; ``works`` says how many joined or left).
COUNTS = ("works", "citations", "citations_this_year", "h_index", "i10_index", "h5_index", "not_indexed")


def changes(now: Mapping[str, Any], then: Mapping[str, Any] | None) -> dict[str, int | None]:
    """Each count's change from ``then`` to ``now`` (two rows of ``collection_metrics``);
    None where there is no earlier row or either value is unknown."""
    return {
        key: None if then is None or now[key] is None or then[key] is None else now[key] - then[key]
        for key in COUNTS
    }
