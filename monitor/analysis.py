"""Figures derived from the store for one work: changes over time, metrics, series, who cites it.

Everything here is computed from stored observations and the citing-works ledger,
as they stood at a given time, so a past report can be regenerated exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from monitor.charts import Series

# name → (label, one-line meaning, source, metric key)
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("FWCI", "Field-Weighted Citation Impact: citations relative to similar works (same field, year, type); 1.0 is the world average.", "openalex", "fwci"),
    ("Citation percentile", "Share of works of the same field and year cited less than this one (OpenAlex, normalised).", "openalex", "citation_percentile"),
    ("Relative Citation Ratio", "NIH RCR: citations per year relative to the work's co-citation network, benchmarked to NIH-funded papers; 1.0 is the median.", "icite", "relative_citation_ratio"),
    ("NIH percentile", "Percentile of the RCR among NIH-funded papers.", "icite", "nih_percentile"),
    ("Field Citation Ratio", "Dimensions FCR: citations relative to the average of the same field and year; 1.0 is the average.", "dimensions", "field_citation_ratio"),
    ("Relative Citation Ratio (Dimensions)", "Dimensions' RCR, computed as NIH's on Dimensions data.", "dimensions", "relative_citation_ratio"),
    ("Recent citations", "Citations in the last two years (Dimensions).", "dimensions", "recent_citations"),
    ("Influential citations", "Citations Semantic Scholar judges to build on this work substantially.", "semanticscholar", "influential_citations"),
    ("Altmetric attention score", "Weighted count of online attention: news, policy, blogs, social media.", "altmetric", "altmetric_score"),
    ("Mendeley readers", "Readers who saved the work in Mendeley (via Altmetric).", "altmetric", "mendeley_readers"),
)


@dataclass(frozen=True)
class Metric:
    label: str
    meaning: str
    source: str
    value: Any
    provisional: bool
    observation_id: int
    observed_at: str

    @property
    def shown(self) -> str:
        if isinstance(self.value, float):
            if self.label == "Citation percentile" and self.value <= 1:
                return f"{self.value * 100:.1f}"
            return f"{self.value:.2f}"
        return str(self.value)


def metrics(latest_ok: Mapping[str, Mapping[str, Any]]) -> list[Metric]:
    """The normalised metrics from each source's latest ok observation."""
    found = []
    for label, meaning, source, key in METRICS:
        obs = latest_ok.get(source)
        if not obs or obs["metrics"].get(key) is None:
            continue
        found.append(Metric(
            label, meaning, source, obs["metrics"][key],
            bool(source == "icite" and obs["metrics"].get("provisional")),
            obs["id"], obs["observed_at"],
        ))
    return found


def count_at(ok_history: Sequence[Mapping[str, Any]], moment: datetime) -> int | None:
    """The last ok count observed at or before ``moment``."""
    value = None
    for obs in ok_history:
        if datetime.fromisoformat(obs["observed_at"]) <= moment:
            value = obs["citations"]
    return value


def changes(ok_history: Sequence[Mapping[str, Any]], reference: datetime) -> dict[str, int | None]:
    """Change of the latest count over 30 and 365 days (None without data that old)."""
    if not ok_history:
        return {"30d": None, "365d": None}
    latest = ok_history[-1]["citations"]
    out: dict[str, int | None] = {}
    for label, days in (("30d", 30), ("365d", 365)):
        then = count_at(ok_history, reference - timedelta(days=days))
        out[label] = None if then is None or latest is None else latest - then
    return out


def source_series(label: str, ok_history: Sequence[Mapping[str, Any]]) -> Series:
    by_day: dict[date, int] = {}
    for obs in ok_history:
        if obs["citations"] is not None:
            by_day[datetime.fromisoformat(obs["observed_at"]).date()] = obs["citations"]
    return Series(label, tuple(sorted(by_day.items())))


def backfill_from_years(
    series: Series, counts_by_year: Mapping[str, int], total: int | None, published: str | None
) -> Series:
    """Before the first snapshot, the cumulative count at each year's end from yearly counts.

    ``counts_by_year`` and ``total`` come from the same (latest) observation: OpenAlex
    lists only recent years, so ``total`` minus their sum is what was cited before them.
    """
    if not series.points or not counts_by_year:
        return series
    first_day, first_value = series.points[0]
    offset = max(0, (total or 0) - sum(counts_by_year.values()))  # citations older than the yearly window
    points: list[tuple[date, int]] = []
    start = _as_date(published, month=1)
    if start is not None and start < first_day:
        points.append((start, 0))
    running = offset
    for year in sorted(int(y) for y in counts_by_year):
        running += counts_by_year[str(year)]
        end = date(year, 12, 31)
        if end < first_day:
            points.append((end, min(running, first_value)))
    return Series(series.label, series.points, tuple(points))


def ledger_series(rows: Sequence[Mapping[str, Any]], first_seen_day: date | None) -> Series:
    """Distinct citing works over time: by our first sighting, backfilled by publication date."""
    seen = sorted(datetime.fromisoformat(r["first_seen_at"]).date() for r in rows)
    points: dict[date, int] = {}
    for i, day in enumerate(seen, start=1):
        points[day] = i
    backfill: list[tuple[date, int]] = []
    if first_seen_day:
        dates = (_as_date(r.get("published")) or _as_date(str(r.get("year") or "")) for r in rows)
        published = sorted(d for d in dates if d is not None)
        backfill = [(d, i) for i, d in enumerate(published, start=1) if d < first_seen_day]
    return Series("Distinct citing works", tuple(sorted(points.items())), tuple(backfill))


def per_year(counts_by_year: Mapping[str, int] | None, rows: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[str, int]], str]:
    """Citations per year: OpenAlex's yearly counts, else the citing works' publication years."""
    if counts_by_year:
        return [(y, counts_by_year[y]) for y in sorted(counts_by_year)], "OpenAlex counts_by_year"
    years = Counter(str(r["year"]) for r in rows if r.get("year"))
    return sorted(years.items()), "publication years of the distinct citing works"


def top(values: Iterable[str], n: int = 8) -> list[tuple[str, int]]:
    return Counter(v for v in values if v).most_common(n)


def who_cites(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """(heading, column name) → the most frequent values among the citing works."""
    return {
        ("Venues", "Venue"): top(r["venue"] for r in rows),
        ("Fields", "Field"): top(f for r in rows for f in r["fields"]),
        ("Countries", "Country"): top(c for r in rows for c in r["countries"]),
        ("Institutions", "Institution"): top(i for r in rows for i in r["institutions"]),
    }


def _as_date(value: str | None, month: int = 7) -> date | None:
    """'2021-05-04' as it is; '2021-05' as its first day; '2021' as ``month``'s first day."""
    if not value:
        return None
    try:
        if len(value) >= 10:
            return date.fromisoformat(value[:10])
        if len(value) == 7:
            return date(int(value[:4]), int(value[5:7]), 1)
        return date(int(value[:4]), month, 1)
    except ValueError:
        return None
