"""The HTML impact report, rendered from the snapshot store alone.

``build`` reads the store into plain records (as it stood at ``as_of``); ``render``
writes the site with Jinja2 (autoescape, StrictUndefined): ``index.html``, one page
per work under ``works/``, ``feed.atom`` (new citing works), ``report.json`` (the
same numbers) and a dated copy under ``archive/``. A ``templates/`` folder beside
the config file overrides the shipped templates, file by file.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import sqlite_utils
from markupsafe import Markup

from monitor import __version__, analysis, charts, cite, citing, headline, metadata, store
from monitor.analysis import Metric
from monitor.citing_view import CitingEntry, citing_entry
from monitor.config import Config
from monitor.doi import doi_slug
from monitor.headline import HeadlineChanges
from monitor.models import Outcome
from monitor.sources import SOURCES
from monitor.sources import title_of as _title

FAILURES = frozenset(o.value for o in Outcome if o.is_failure)


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
    previous: int | None  # the last ok count from an earlier run
    change_30d: int | None
    change_365d: int | None
    observed_at: str
    last_ok_citations: int | None
    last_ok_at: str | None
    observation_id: int
    response_id: int | None
    body_sha256: str | None
    pruned_at: str | None = None  # the raw body was pruned (retention); values are kept

    @property
    def change(self) -> int | None:
        if self.citations is None or self.previous is None:
            return None
        return self.citations - self.previous

    @property
    def failed(self) -> bool:
        return Outcome(self.outcome).is_failure


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
    metrics: tuple[Metric, ...] = ()
    citing: tuple[CitingEntry, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    who: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)
    per_year: tuple[tuple[str, int], ...] = ()
    per_year_basis: str = ""
    series: tuple[charts.Series, ...] = ()  # the cumulative chart's lines, also shown as a table
    cumulative_chart: Markup = field(default_factory=Markup)
    per_year_chart: Markup = field(default_factory=Markup)
    cite: dict[str, str] = field(default_factory=dict)

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
    def fingerprint(self) -> list[dict[str, Any]]:
        """Weighted topics, heaviest first: the research-topic fingerprint."""
        topics = [t for t in self.record.get("topics") or [] if t.get("name")]
        return sorted(topics, key=lambda t: -(t.get("score") or 0))

    @property
    def subject_areas(self) -> list[str]:
        seen: dict[str, None] = {}
        for topic in self.fingerprint:
            for level in ("field", "subfield"):
                if topic.get(level):
                    seen.setdefault(topic[level])
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
        if self.record.get("is_retracted") or "retraction" in kinds:
            return "Retracted"
        return kinds[0].capitalize() if kinds else None


@dataclass(frozen=True)
class Report:
    works: tuple[WorkPage, ...]
    run: dict[str, Any] | None
    generated_at: str
    as_of: str | None
    next_run: str | None = None
    version: str = __version__
    source_titles: dict[str, str] = field(default_factory=dict)
    archive: tuple[str, ...] = ()
    alerts: tuple[dict[str, Any], ...] = ()  # raised by the last run

    def alerts_for(self, doi: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["doi"] == doi]

    @property
    def sources_shown(self) -> list[str]:
        """Counting sources with a row for any work, in registry order."""
        present = {row.source for work in self.works for row in work.count_rows}
        return [s for s in self.source_titles if s in present]

    @property
    def new_citing(self) -> list[tuple[WorkPage, CitingEntry]]:
        return [(w, c) for w in self.works for c in w.new_citing]


def build(
    db: sqlite_utils.Database,
    as_of: str | None = None,
    next_run: str | None = None,
    archive: tuple[str, ...] = (),
) -> Report:
    """Read everything the report shows from the store, as it stood at ``as_of``."""
    run = store.latest_run(db, as_of)
    generated_at = (run or {}).get("finished_at") or (run or {}).get("started_at") or as_of or ""
    reference = datetime.fromisoformat(generated_at) if generated_at else datetime.now(UTC)
    previous = store.previous_run(db, run["id"]) if run else None
    previous_at = headline.run_end(previous)
    active = headline.active_sources(run)
    pages = []
    for work in store.works_rows(db):  # one work at a time: memory stays bounded
        history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in store.observation_history(db, work["doi"], as_of):
            history[row["source"]].append(row)
        if history or as_of is None:
            pages.append(_work_page(db, work, history, run, reference, as_of, active, previous_at))
    return Report(
        works=tuple(pages),
        run=run,
        generated_at=generated_at,
        as_of=as_of,
        next_run=next_run,
        source_titles={name: _title(name) for name in SOURCES},
        archive=archive,
        alerts=tuple(store.run_alerts(db, run["id"])) if run else (),
    )


def _work_page(
    db: sqlite_utils.Database,
    work: dict[str, Any],
    history: dict[str, list[dict[str, Any]]],
    run: dict[str, Any] | None,
    reference: datetime,
    as_of: str | None,
    active: tuple[str, ...] | None = None,
    previous_at: datetime | None = None,
) -> WorkPage:
    doi = work["doi"]
    rows, latest_ok, per_source_meta = [], {}, {}
    for source in SOURCES:
        observations = history.get(source)
        if not observations:
            continue
        ok = [o for o in observations if o["outcome"] == Outcome.OK.value]
        rows.append(_source_row(source, observations, ok, reference))
        if ok:
            latest_ok[source] = ok[-1]
            per_source_meta[source] = ok[-1]["metadata"]
    record, origin = metadata.merge(per_source_meta)
    ledger = citing.ledger_rows(db, doi, as_of)
    current = citing.listed(ledger)  # what the figures count; the list shows every row
    latest_run_id = run["id"] if run else None
    openalex = latest_ok.get("openalex")
    counts_by_year = openalex["metrics"].get("counts_by_year") if openalex else None

    series = []
    for source in SOURCES:
        ok = [o for o in history.get(source, []) if o["outcome"] == "ok" and o["citations"] is not None]
        if ok:
            s = analysis.source_series(_title(source), ok)
            if source == "openalex" and openalex and counts_by_year:
                s = analysis.backfill_from_years(
                    s, counts_by_year, openalex["citations"], record.get("published"))
            series.append(s)
    if current:
        first_fetch = min(r["first_seen_at"] for r in ledger)
        series.append(analysis.ledger_series(current, datetime.fromisoformat(first_fetch).date()))
    years, basis = analysis.per_year(counts_by_year, current)
    title = record.get("title") or doi
    return WorkPage(
        doi=doi,
        slug=doi_slug(doi),
        label=work["label"],
        record=record,
        origin=origin,
        rows=tuple(rows),
        headline=headline.with_changes(history, ledger, active, reference, previous_at),
        metrics=tuple(analysis.metrics(latest_ok)),
        citing=tuple(citing_entry(r, latest_run_id) for r in ledger),
        coverage=_coverage(ledger),
        who=analysis.who_cites(current),
        per_year=tuple(years),
        per_year_basis=basis,
        series=tuple(series),
        cumulative_chart=charts.cumulative(
            series, f"Cumulative citations over time: {title}",
            "One line per source from our snapshots; dotted parts are backfilled estimates.",
        ),
        per_year_chart=charts.bars(years, f"Citations per year: {title}", f"Source: {basis}."),
        cite=cite.citations(metadata.for_citation(record, per_source_meta), doi) if record.get("title") else {},
    )


def _source_row(
    source: str, observations: list[dict[str, Any]], ok: list[dict[str, Any]], reference: datetime
) -> SourceRow:
    latest = observations[-1]
    earlier = [o for o in ok if o["run_id"] != latest["run_id"]]
    outcome = Outcome(latest["outcome"])
    spec = SOURCES[source].SPEC
    window = analysis.changes(ok, reference) if latest["outcome"] == "ok" else {"30d": None, "365d": None}
    return SourceRow(
        source=source,
        title=spec.title,
        counts_citations=spec.counts_citations,
        outcome=outcome.value,
        outcome_plain=outcome.plain,
        message=latest["message"],
        citations=latest["citations"],
        previous=earlier[-1]["citations"] if earlier else None,
        change_30d=window["30d"],
        change_365d=window["365d"],
        observed_at=latest["observed_at"],
        last_ok_citations=ok[-1]["citations"] if ok else None,
        last_ok_at=ok[-1]["observed_at"] if ok else None,
        observation_id=latest["id"],
        response_id=latest["response_id"],
        body_sha256=latest["body_sha256"],
        pruned_at=latest["pruned_at"],
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


# --- rendering -----------------------------------------------------------------


def template_dirs(config_folder: Path) -> list[Path]:
    """Override folder first, then the templates shipped in the package."""
    dirs = [config_folder / "templates"]
    try:
        dirs.append(Path(str(importlib.resources.files("monitor.templates"))))
    except ModuleNotFoundError:  # running from a source tree without installing
        pass
    dirs.append(Path(__file__).resolve().parent.parent / "templates")
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def environment(config_folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(config_folder)]),
        autoescape=jinja2.select_autoescape(["html", "xml", "atom"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["signed"] = lambda n: "—" if n is None else (f"+{n}" if n > 0 else str(n))
    env.filters["day"] = lambda iso: (iso or "")[:10]
    env.filters["minute"] = lambda iso: (iso or "")[:16].replace("T", " ")
    env.filters["web_url"] = web_url
    env.tests["failure"] = lambda outcome: outcome in FAILURES
    return env


def web_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL, else None: a source's URL never becomes a javascript: link."""
    if not isinstance(value, str):
        return None
    return value if urlsplit(value.strip()).scheme.lower() in ("http", "https") else None


def render(report: Report, config: Config, out_dir: Path) -> list[Path]:
    """Write the site into ``out_dir``; return the paths written, index first."""
    env = environment(config.folder)
    written = [write_atomic(out_dir / "index.html", env.get_template("index.html").render(report=report, root=""))]
    for page in report.works:
        html = env.get_template("work.html").render(report=report, work=page, root="../")
        written.append(write_atomic(out_dir / page.href, html))
    written.append(write_atomic(out_dir / "feed.atom", env.get_template("feed.atom").render(report=report)))
    written.append(write_atomic(out_dir / "report.json", json.dumps(as_json(report), indent=2, ensure_ascii=False) + "\n"))
    return written


def as_json(report: Report) -> dict[str, Any]:
    """The numbers of the pages, for scripts."""
    def work(page: WorkPage) -> dict[str, Any]:
        return {
            "doi": page.doi,
            "title": page.title,
            "headline": page.headline.as_dict(),
            "sources": [
                {k: v for k, v in asdict(r).items() if k != "body_sha256"} | {"change": r.change, "raw_sha256": r.body_sha256}
                for r in page.rows
            ],
            "metrics": [asdict(m) for m in page.metrics],
            "citations_per_year": dict(page.per_year),
            "cumulative": [
                {"label": s.label, "observed": [[d.isoformat(), n] for d, n in s.points],
                 "backfilled": [[d.isoformat(), n] for d, n in s.backfill]}
                for s in page.series
            ],
            "who_cites": {heading: dict(items) for (heading, _), items in page.who.items()},
            "coverage": [asdict(c) | {"missing": list(c.missing)} for c in page.coverage],
            "citing_works": [asdict(c) for c in page.citing],
        }

    return {
        "generated_at": report.generated_at,
        "as_of": report.as_of,
        "version": report.version,
        "last_run": report.run,
        "next_run": report.next_run,
        "works": [work(w) for w in report.works],
    }


def write_atomic(path: Path, text: str) -> Path:
    """Write to a temporary file beside ``path``, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def next_run(config: Config, now: datetime) -> str | None:
    """When the daemon's schedule fires next (for the run-health section)."""
    try:
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger.from_crontab(config.schedule.cron, timezone=config.schedule.timezone)
        fire = trigger.get_next_fire_time(None, now)
    except (ValueError, LookupError):
        return None
    return fire.astimezone(UTC).isoformat(timespec="minutes") if fire else None


def day_end(day: str) -> str:
    """'2026-11-27' → the last moment of that day (UTC), as stored timestamps compare."""
    return f"{day[:10]}T23:59:59.999999+00:00"


def write_report(config: Config, as_of: str | None = None, out_dir: Path | None = None) -> list[Path]:
    """Write the current site and today's archive copy; or, with ``as_of``, a past report.

    A past report goes to ``archive/DAY/`` unless ``out_dir`` says otherwise. Today's
    archive copy is built exactly as ``report --as-of DAY`` would rebuild it.
    """
    archive_dir = config.report_dir / "archive"
    db = store.open_reader(config.database)
    try:
        if as_of is not None:
            return render(build(db, as_of), config, out_dir or archive_dir / as_of[:10])
        current = build(db)
        day = current.generated_at[:10] or None
        dated = build(db, day_end(day)) if day else None
    finally:
        db.close()
    if dated is not None and day is not None:
        render(dated, config, archive_dir / day)
    days = tuple(sorted((p.name for p in archive_dir.iterdir() if p.is_dir()), reverse=True)) if archive_dir.is_dir() else ()
    reference = datetime.fromisoformat(current.generated_at) if current.generated_at else datetime.now(UTC)
    current = replace(current, next_run=next_run(config, reference), archive=days)
    return render(current, config, out_dir or config.report_dir)
