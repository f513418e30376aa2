"""One work's page, built from the store alone: ``build_work`` reads the work's
observations and ledger (as they stood at ``as_of``) into a ``WorkPage``.

A work page shows what each source says and since when, never when it was last asked
(the index says that, per source): it is built from each source's change points
(monitor/report/values.py), so a run that asked again and found the same values leaves
it as it was. It depends only on that work's rows (its ``works`` row too: a work no
longer tracked says so), the templates and ``Context`` (the few run-wide facts it
shows), and on where its changes fall against the previous run and the 30- and 365-day
windows, so a page whose inputs did not change is not rendered again
(monitor/report/keys.py). Its figures, its "New" and its alerts are those of the last
run that observed the work (for most works, the latest run).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from markupsafe import Markup

from monitor import analysis, charts, cite, citing, headline, metadata, portfolio, store
from monitor.analysis import MeshHeading, Metric, Topic
from monitor.citing_view import CitingEntry, citing_entry
from monitor.doi import doi_slug
from monitor.headline import HeadlineChanges
from monitor.models import Outcome
from monitor.report import reads, values
from monitor.sources import SOURCES
from monitor.sources import title_of as _title

EPOCH = datetime.fromtimestamp(0, UTC)  # the moment of a work never observed: nothing to show
TREND_POINTS = 30  # the index's sparkline: the headline at up to this many run ends


@dataclass(frozen=True)
class Context:
    """The run-wide facts a work page shows or depends on (each is part of its key)."""

    as_of: str | None  # None: now
    active: tuple[str, ...] | None  # the sources asked in the latest run
    run_ends: Mapping[int, datetime]  # every run up to as_of → when it ended
    styles: tuple[str, ...] = ("apa",)  # "Cite this"
    new_alerts: bool = True  # [alerts] new_citations: without it "New" is unknown


@dataclass(frozen=True)
class SourceRow:
    """One source's figure for one work, with where it came from."""

    source: str
    title: str
    counts_citations: bool
    outcome: str
    outcome_plain: str
    message: str
    citations: int | None
    previous: int | None  # its count at the end of the previous run (None: none then)
    change_30d: int | None
    change_365d: int | None
    since: str  # when the source first said what it says now (checked again since, unchanged)
    last_ok_citations: int | None
    last_ok_at: str | None
    observation_id: int  # the first observation that said it: stable while the value stands
    response_id: int | None
    body_sha256: str | None
    pruned_at: str | None = None  # the raw body was pruned (retention); values are kept
    marks: tuple[str, ...] = ()  # what this source says of the work: "retracted", notices

    @property
    def change(self) -> int | None:
        if self.citations is None or self.previous is None:
            return None
        return self.citations - self.previous

    @property
    def failed(self) -> bool:
        return Outcome(self.outcome).is_failure

    @property
    def status(self) -> str:
        """'ok', or the outcome in plain words with the source's message when it adds to
        them (never "not indexed by this source: not indexed by this source")."""
        if self.outcome == Outcome.OK.value:
            return "ok"
        message = self.message.strip().rstrip(".")
        if not message or message.lower() in self.outcome_plain.lower():
            return self.outcome_plain
        return f"{self.outcome_plain}: {message}"


@dataclass(frozen=True)
class Coverage:
    source: str
    title: str
    listed: int
    union: int
    missing: tuple[str, ...]
    lag_days: float | None


@dataclass(frozen=True)
class WorkPage:
    doi: str
    slug: str
    label: str | None
    record: metadata.Record
    origin: dict[str, str]
    rows: tuple[SourceRow, ...]
    headline: HeadlineChanges
    new: int | None = None  # "New" in the work's last run: agrees with its alerts; None shows "—"
    alerts: tuple[dict[str, Any], ...] = ()  # the alerts about the work raised by that run
    run_id: int | None = None  # the last run that observed the work: the page is as of it
    as_of_time: str = ""  # when that run ended
    trend: tuple[tuple[str, int], ...] = ()  # the headline at past run ends
    metrics: tuple[Metric, ...] = ()
    citing: tuple[CitingEntry, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    who: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)
    intents: tuple[tuple[str, int], ...] = ()
    mesh: tuple[MeshHeading, ...] = ()
    topics: tuple[Topic, ...] = ()
    per_year: tuple[tuple[str, int], ...] = ()
    per_year_basis: str = ""
    partial_year: str | None = None
    series: tuple[charts.Series, ...] = ()  # the cumulative chart's lines, also shown as a table
    monitoring_began: str | None = None
    cumulative_chart: Markup = field(default_factory=Markup)
    since_chart: Markup = field(default_factory=Markup)
    per_year_chart: Markup = field(default_factory=Markup)
    cite: dict[str, Any] = field(default_factory=dict)
    untracked_at: str | None = None  # no longer tracked since then: its figures are not current

    @property
    def title(self) -> str:
        return self.record.get("title") or self.label or self.doi

    @property
    def href(self) -> str:
        return f"works/{self.slug}.html"

    @property
    def count_rows(self) -> list[SourceRow]:
        return [r for r in self.rows if r.counts_citations]

    @property
    def new_citing(self) -> list[CitingEntry]:
        return [c for c in self.citing if c.is_new]

    @property
    def counts_above_listed(self) -> list[SourceRow]:
        """Sources whose count exceeds the distinct citing works the lists show."""
        listed = self.headline.now.citing_works
        if not listed:
            return []
        return [r for r in self.count_rows if r.citations is not None and r.citations > listed]

    @property
    def count_range(self) -> tuple[int, int, int] | None:
        """(lowest, highest, how many sources) of the current source counts."""
        counts = [c.citations for c in self.headline.now.counts]
        return (min(counts), max(counts), len(counts)) if counts else None

    @property
    def subject_areas(self) -> list[str]:
        seen: dict[str, None] = {}
        for topic in self.topics:
            for level in (topic.field, topic.subfield):
                if level:
                    seen.setdefault(level)
        for subject in self.record.get("subjects") or []:
            seen.setdefault(subject)
        return list(seen)

    @property
    def notices(self) -> list[dict[str, Any]]:
        return list(self.record.get("updated_by") or [])

    @property
    def notice_mark(self) -> str | None:
        """'Retracted', or the kind of the first notice ('Correction', ...), for the index."""
        kinds = [str(n.get("type") or "update").replace("_", " ") for n in self.notices]
        if self.record.get("is_retracted") or "retraction" in kinds or any(
            "retracted" in r.marks for r in self.rows
        ):
            return "Retracted"
        return kinds[0].capitalize() if kinds else None


def context(db: sqlite_utils.Database, as_of: str | None, styles: tuple[str, ...], new_alerts: bool) -> Context:
    run = store.latest_run(db, as_of)
    ends = {r["id"]: e for r in reads.runs(db, as_of) if (e := headline.run_end(r)) is not None}
    return Context(as_of, headline.active_sources(run), ends, styles, new_alerts)


Citer = Callable[[Mapping[str, Any], str, tuple[str, ...]], dict[str, Any]]


def build_work(db: sqlite_utils.Database, work: Mapping[str, Any], ctx: Context,
               citations: Citer = cite.citations) -> WorkPage | None:
    """The page of one work (a ``works`` row); None for a past day the work had no data.
    ``citations(record, doi, styles)`` formats "Cite this" (``cite.citations``, or one
    that remembers)."""
    doi = work["doi"]
    every: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store.observation_history(db, doi, ctx.as_of):
        every[row["source"]].append(row)
    if not every and ctx.as_of is not None:
        return None
    observed = sorted({o["run_id"] for rows in every.values() for o in rows})
    history = {source: values.change_points(rows) for source, rows in every.items()}
    cut = datetime.fromisoformat(ctx.as_of) if ctx.as_of else None
    ends = [min(ctx.run_ends[r], cut) if cut else ctx.run_ends[r] for r in observed if r in ctx.run_ends]
    # the page is as of the last run that observed the work (or, never observed, the last run)
    latest = max(ctx.run_ends.values(), default=None)
    reference = ends[-1] if ends else (min(latest, cut) if cut and latest else latest)
    previous_at = ends[-2] if len(ends) > 1 else None

    rows, latest_ok, per_source_meta, ok_history = [], {}, {}, {}
    for source in SOURCES:
        observations = history.get(source)
        if not observations:
            continue
        ok = [o for o in observations if o["outcome"] == Outcome.OK.value]
        rows.append(_source_row(source, observations, ok, reference, previous_at))
        if ok:
            latest_ok[source], per_source_meta[source], ok_history[source] = ok[-1], ok[-1]["metadata"], ok
    record, origin = metadata.merge(per_source_meta)
    ledger = citing.ledger_rows(db, doi, ctx.as_of)
    current = citing.listed(ledger)  # what the figures count; the list shows every row
    # "New" and the alerts are those of the work's last run, like every figure on the page
    last_run = observed[-1] if observed else None
    alerts = reads.work_alerts(db, last_run, doi) if last_run else []
    run_rows = [o for rows_ in every.values() for o in rows_ if o["run_id"] == last_run]
    new_ids = _named_new(alerts)

    openalex = latest_ok.get("openalex")
    counts_by_year = openalex["metrics"].get("counts_by_year") if openalex else None
    series = []
    for source, ok in ok_history.items():
        counted = [o for o in ok if o["citations"] is not None]
        if counted:
            s = analysis.source_series(_title(source), counted)
            if source == "openalex" and openalex and counts_by_year:
                s = analysis.backfill_from_years(s, counts_by_year, openalex["citations"], record.get("published"))
            series.append(s)
    if current:
        first_fetch = min(r["first_seen_at"] for r in ledger)
        series.append(analysis.ledger_series(current, datetime.fromisoformat(first_fetch).date()))
    years, basis = analysis.per_year(counts_by_year, current)
    partial = analysis.partial_year(years, reference.date()) if reference else None
    began = min((s.points[0][0] for s in series if s.points), default=None)
    title = record.get("title") or work["label"] or doi
    return WorkPage(
        doi=doi,
        slug=doi_slug(doi),
        label=work["label"],
        record=record,
        origin=origin,
        rows=tuple(rows),
        headline=headline.with_changes(history, ledger, ctx.active, reference or EPOCH, previous_at),
        new=headline.new_in_run(alerts, run_rows) if ctx.new_alerts and last_run else None,
        alerts=tuple(alerts),
        run_id=observed[-1] if observed else None,
        as_of_time=ends[-1].isoformat() if ends else "",  # never observed: as of no run
        trend=tuple(headline.trend(history, ledger, ctx.active, _sample(_moments(history, ledger, reference)))),
        metrics=tuple(analysis.metrics(latest_ok, ok_history)),
        citing=tuple(replace(citing_entry(r, None), is_new=r["citation_id"] in new_ids or (r["doi"] or "") in new_ids)
                     for r in ledger),
        coverage=_coverage(ledger),
        who=analysis.who_cites(current),
        intents=tuple(analysis.intents(current)),
        mesh=tuple(analysis.mesh(record)),
        topics=tuple(analysis.topics(record)),
        per_year=tuple(years),
        per_year_basis=basis,
        partial_year=partial,
        series=tuple(series),
        monitoring_began=began.isoformat() if began else None,
        cumulative_chart=charts.both(lambda layout: charts.cumulative(
            series, f"Cumulative citations over all years: {title}",
            "One line per source from our snapshots; dotted parts are backfilled estimates.", layout)),
        since_chart=charts.both(lambda layout: charts.cumulative(
            series, f"Cumulative citations since monitoring began: {title}",
            "One line per source, observed snapshots only.", layout, since=began)) if _days(series) > 1 else Markup(""),
        per_year_chart=charts.both(lambda layout: charts.bars(
            years, f"Citations per year: {title}", f"Source: {basis}.", layout, partial,
            f"{partial} so far" if partial else "")),
        cite=citations(metadata.for_citation(record, per_source_meta), doi, ctx.styles) if record.get("title") else {},
        untracked_at=portfolio.untracked_since(work, ctx.as_of),
    )


def _days(series: Sequence[charts.Series]) -> int:
    """On how many days the series were observed."""
    return len({d for s in series for d, _ in s.points})


def _moments(history: Mapping[str, Sequence[Mapping[str, Any]]], ledger: Sequence[Mapping[str, Any]],
             reference: datetime | None) -> list[datetime]:
    """When the headline may have moved, up to ``reference``: each source's change points
    and each first or last sighting of a citing work, the last of each day; the trend ends
    at the last of them, not at the latest run."""
    found = {datetime.fromisoformat(o["observed_at"]) for rows in history.values() for o in rows}
    found |= {datetime.fromisoformat(t) for row in ledger for s in row["sightings"].values()
              for t in (s["first_seen_at"], s["gone_at"]) if t}
    last_of_day = {m.date(): m for m in sorted(m for m in found if reference is None or m <= reference)}
    return list(last_of_day.values())


def _sample(moments: Sequence[datetime], n: int = TREND_POINTS) -> list[datetime]:
    """At most ``n`` of ``moments``, evenly spread, always the last."""
    if len(moments) <= n:
        return list(moments)
    return [moments[round(i * (len(moments) - 1) / (n - 1))] for i in range(n)]


def _named_new(alerts: Sequence[Mapping[str, Any]]) -> set[Any]:
    """The citation ids (or, from older alerts, DOIs) a new_citations alert names."""
    import json

    named: set[Any] = set()
    for alert in alerts:
        if alert["kind"] != headline.NEW:
            continue
        details = json.loads(alert["details"]) if isinstance(alert["details"], str) else alert["details"]
        named.update(details.get("citation_ids") or [])
        if not details.get("citation_ids"):
            named.update(c.get("doi") for c in details.get("citing") or [] if c.get("doi"))
    return named


def _source_row(
    source: str, observations: Sequence[Mapping[str, Any]], ok: Sequence[Mapping[str, Any]],
    reference: datetime | None, previous_at: datetime | None,
) -> SourceRow:
    """A source's row from its change points (``observations``, ``ok`` those that are
    counts): its latest value, since when it stands and the observation that first
    carried it; its changes since ``previous_at`` (the previous run) and over the windows."""
    latest = observations[-1]
    outcome = Outcome(latest["outcome"])
    spec = SOURCES[source].SPEC
    window = analysis.changes(ok, reference) if latest["outcome"] == "ok" and reference else {"30d": None, "365d": None}
    meta = ok[-1]["metadata"] if ok else {}
    marks = (("retracted",) if meta.get("is_retracted") else ()) + tuple(
        str(n.get("type") or "update") for n in meta.get("updated_by") or [] if isinstance(n, Mapping)
    )
    return SourceRow(
        source=source,
        title=spec.title,
        counts_citations=spec.counts_citations,
        outcome=outcome.value,
        outcome_plain=outcome.plain,
        message=latest["message"],
        citations=latest["citations"],
        previous=analysis.count_at(ok, previous_at) if previous_at else None,
        change_30d=window["30d"],
        change_365d=window["365d"],
        since=latest["observed_at"],
        last_ok_citations=ok[-1]["citations"] if ok else None,
        last_ok_at=ok[-1]["observed_at"] if ok else None,
        observation_id=latest["id"],
        response_id=latest["response_id"],
        body_sha256=latest["body_sha256"],
        pruned_at=latest["pruned_at"],
        marks=marks,
    )


def _coverage(ledger: list[dict[str, Any]]) -> tuple[Coverage, ...]:
    if not ledger:
        return ()
    since = min(r["first_seen_at"] for r in ledger)
    lags = citing.indexing_lag_days(ledger, since)
    result = []
    for source, cov in citing.coverage(ledger, SOURCES).items():
        result.append(Coverage(
            source=source,
            title=_title(source),
            listed=cov["listed"],
            union=cov["union"],
            missing=tuple(r["title"] or r["doi"] or f"PMID {r['pmid']}" for r in cov["missing"]),
            lag_days=lags.get(source),
        ))
    return tuple(result)
