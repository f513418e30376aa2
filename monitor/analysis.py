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

from markupsafe import Markup

from monitor.charts import Series, sparkline

# (label, one-line meaning, source, metric key, kind): kind says how a value reads
# ("ratio", "count", "percentile" on a 0-100 scale, "fraction_percentile" on 0-1, "probability").
METRICS: tuple[tuple[str, str, str, str, str], ...] = (
    ("FWCI", "Field-Weighted Citation Impact: citations relative to similar works (same field, year, type); 1.0 is the world average.", "openalex", "fwci", "ratio"),
    ("Citation percentile", "Share of works of the same field and year cited less than this one (OpenAlex, normalised).", "openalex", "citation_percentile", "fraction_percentile"),
    ("Relative Citation Ratio", "NIH RCR: citations per year relative to the work's co-citation network, benchmarked to NIH-funded papers; 1.0 is the median.", "icite", "relative_citation_ratio", "ratio"),
    ("NIH percentile", "Percentile of the RCR among NIH-funded papers.", "icite", "nih_percentile", "percentile"),
    ("Citations per year", "Citations per year since publication (iCite).", "icite", "citations_per_year", "ratio"),
    ("Expected citations per year", "Citations per year expected of an NIH-funded paper with the same co-citation network (iCite); the RCR is citations per year over this.", "icite", "expected_citations_per_year", "ratio"),
    ("Field citation rate", "Citations per year of the journals in the work's co-citation network (iCite).", "icite", "field_citation_rate", "ratio"),
    ("Approximate potential to translate", "iCite's machine-learned estimate of the chance that clinical articles will cite this work (0.05 to 0.95).", "icite", "apt", "probability"),
    ("Clinical citations", "Citations from clinical articles (clinical trials and guidelines), as iCite counts them.", "icite", "cited_by_clinical_count", "count"),
    ("Field Citation Ratio", "Dimensions FCR: citations relative to the average of the same field and year; 1.0 is the average.", "dimensions", "field_citation_ratio", "ratio"),
    ("Relative Citation Ratio (Dimensions)", "Dimensions' RCR, computed as NIH's on Dimensions data.", "dimensions", "relative_citation_ratio", "ratio"),
    ("Recent citations", "Citations in the last two years (Dimensions).", "dimensions", "recent_citations", "count"),
    ("Influential citations", "Citations Semantic Scholar judges to build on this work substantially.", "semanticscholar", "influential_citations", "count"),
    ("Altmetric attention score", "Weighted count of online attention: news, policy, blogs, social media.", "altmetric", "altmetric_score", "ratio"),
    ("Mendeley readers", "Readers who saved the work in Mendeley (via Altmetric).", "altmetric", "mendeley_readers", "count"),
)
TOP = (1, 5, 10, 25)  # "top k %" marks for a percentile


@dataclass(frozen=True)
class Metric:
    label: str
    meaning: str
    source: str
    value: Any
    provisional: bool
    observation_id: int
    observed_at: str
    key: str = ""
    kind: str = "ratio"
    history: tuple[tuple[str, float], ...] = ()  # (day, value), oldest first: its trend

    @property
    def percentile(self) -> float | None:
        """The value on a 0-100 scale, for a percentile."""
        if self.kind == "fraction_percentile" and isinstance(self.value, (int, float)):
            return self.value * 100
        if self.kind == "percentile" and isinstance(self.value, (int, float)):
            return float(self.value)
        return None

    @property
    def shown(self) -> str:
        return self.format(self.value)

    def format(self, value: Any) -> str:
        if self.kind in ("percentile", "fraction_percentile") and isinstance(value, (int, float)):
            return percentile_text(value * 100 if self.kind == "fraction_percentile" else float(value))
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    @property
    def trend_svg(self) -> Markup:
        if len(self.history) < 2:
            return Markup("")
        (first_day, first), (last_day, last) = self.history[0], self.history[-1]
        return sparkline(self.history, f"{self.label}: {self.format(first)} on {first_day}, {self.format(last)} on {last_day}")

    @property
    def changed(self) -> tuple[tuple[str, float], tuple[str, float]] | None:
        """(first, latest) observed values, when they differ: the metric's trend in words."""
        if len(self.history) < 2 or self.history[0][1] == self.history[-1][1]:
            return None
        return self.history[0], self.history[-1]


def percentile_text(percentile: float) -> str:
    """99.9758 → '99.98th percentile · top 1 %'; 50 → '50th percentile'."""
    shown = f"{percentile:.2f}".rstrip("0").rstrip(".")
    last_two = int(shown.replace(".", "")[-2:])  # 99.92 is read "ninety-nine point nine second"
    suffix = "th" if 11 <= last_two <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(last_two % 10, "th")
    text = f"{shown}{suffix} percentile"
    top = next((k for k in TOP if percentile >= 100 - k), None)
    return f"{text} · top {top} %" if top is not None else text


def metrics(
    latest_ok: Mapping[str, Mapping[str, Any]],
    ok_history: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[Metric]:
    """The normalised metrics from each source's latest ok observation, each with its
    values over time from ``ok_history`` (source → its ok observations, oldest first)."""
    found = []
    for label, meaning, source, key, kind in METRICS:
        obs = latest_ok.get(source)
        if not obs or obs["metrics"].get(key) is None:
            continue
        by_day: dict[str, float] = {}
        for row in (ok_history or {}).get(source, ()):
            value = row["metrics"].get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                by_day[row["observed_at"][:10]] = value
        found.append(Metric(
            label, meaning, source, obs["metrics"][key],
            bool(source == "icite" and obs["metrics"].get("provisional")),
            obs["id"], obs["observed_at"], key, kind, tuple(by_day.items()),
        ))
    return found


def intents(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Semantic Scholar's citation intents summed over the citing works listed
    (a work may have several), most frequent first."""
    counted = Counter(i for r in rows for i in dict.fromkeys(r.get("intents") or ()))
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class MeshHeading:
    descriptor: str
    qualifiers: tuple[str, ...] = ()
    major: bool = False


def mesh(record: Mapping[str, Any]) -> list[MeshHeading]:
    """MeSH descriptors once each, with their qualifiers grouped under them.

    ``mesh_headings`` ({descriptor, qualifiers, major}) where a source gives them;
    else the plain ``mesh`` list, each name once (OpenAlex repeats a descriptor
    for each of its qualifiers).
    """
    headings: dict[str, MeshHeading] = {}
    for item in record.get("mesh_headings") or []:
        if not isinstance(item, Mapping) or not item.get("descriptor"):
            continue
        name = str(item["descriptor"])
        known = headings.get(name, MeshHeading(name))
        qualifiers = tuple(dict.fromkeys([*known.qualifiers, *(str(q) for q in item.get("qualifiers") or [])]))
        headings[name] = MeshHeading(name, qualifiers, known.major or bool(item.get("major")))
    if headings:
        return list(headings.values())
    return [MeshHeading(str(name)) for name in dict.fromkeys(record.get("mesh") or []) if name]


@dataclass(frozen=True)
class Topic:
    name: str
    score: float | None
    field: str | None
    subfield: str | None
    bar: float | None  # the bar's length in % of the longest, or None: scores too alike to draw


def topics(record: Mapping[str, Any]) -> list[Topic]:
    """OpenAlex topics, heaviest first. Bars only where the scores tell the topics apart
    (a spread of at least 0.1): three topics all scored 0.99+ would be three full bars."""
    raw = [t for t in record.get("topics") or [] if isinstance(t, Mapping) and t.get("name")]
    raw.sort(key=lambda t: -(t.get("score") or 0))
    scores = [float(t["score"]) for t in raw if isinstance(t.get("score"), (int, float))]
    spread = (max(scores) - min(scores)) if len(scores) > 1 else 0.0
    top = max(scores, default=0.0)
    return [
        Topic(
            t["name"], t.get("score"), t.get("field"), t.get("subfield"),
            round(100 * t["score"] / top, 1) if spread >= 0.1 and top and isinstance(t.get("score"), (int, float)) else None,
        )
        for t in raw
    ]


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


def partial_year(years: Sequence[tuple[str, int]], reference: date) -> str | None:
    """The year of ``reference`` when it is among ``years`` and not over yet: its bar
    counts only part of a year and must not read as a drop."""
    year = str(reference.year)
    last_day = date(reference.year, 12, 31)
    return year if reference < last_day and any(y == year for y, _ in years) else None


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
