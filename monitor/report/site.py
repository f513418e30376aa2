"""Writing the report site: the work pages, the index, the feed, the JSON, the archive.

``write_report`` streams: one work at a time is built, rendered and written, and only
its index row and report.json entry are kept (in the page cache, not in memory), so
memory stays flat in the number of works. A work whose key did not change since the
site now served is not built again: its files are linked from that generation.

The current site is a new generation swapped in whole (monitor/report/generations.py).
Each day the report also files ``archive/DAY/``: that day's index (its first page) and
``manifest.json``, what ``report --as-of DAY`` needs to know to rebuild the whole day
from the database; ``[report] keep_archive_days`` says how long days are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils
from markupsafe import Markup

from monitor import __version__, cite, store
from monitor.config import Config
from monitor.report import collection_pages, feed, jsondata, keys, reads
from monitor.report.cache import PageCache
from monitor.report.dashboard import ORDERS, index_row, write_pages
from monitor.report.generations import Generations, link_or_copy, replace_folder
from monitor.report.generations import write_file as _write
from monitor.report.pages import Context, build_work, context
from monitor.report.rendering import code_digest, environment
from monitor.sources import SOURCES, title_of

_CITE_CODE = hashlib.sha256(Path(cite.__file__).read_bytes()).hexdigest()[:12]  # formatting changed: format again


@dataclass(frozen=True)
class Written:
    """A site written: its index, how many work pages it has and how many of them were
    built anew (the others, unchanged, are the previous site's files)."""

    index: Path
    pages: int
    built: int = 0


@dataclass(frozen=True)
class Site:
    """The run-wide facts the index, the feed and report.json show."""

    generated_at: str
    as_of: str | None
    run: dict[str, Any] | None
    next_run: str | None
    alerts: tuple[dict[str, Any], ...]
    archive: tuple[str, ...] = ()
    totals: dict[str, int] = field(default_factory=dict)
    archived: bool = False  # a day's copy under archive/: its work links lead to today's pages
    collections: tuple[collection_pages.CollectionPage, ...] = ()  # by name
    version: str = __version__
    source_titles: dict[str, str] = field(default_factory=lambda: {n: title_of(n) for n in SOURCES})
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # source → its last run that answered

    def alerts_for(self, doi: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["doi"] == doi]


def write_report(config: Config, as_of: str | None = None, out_dir: Path | None = None,
                 now: datetime | None = None, rebuild: bool = False) -> Written:
    """Write the current site (and file today's archive), or with ``as_of`` the site as
    the data stood then, into ``archive/DAY/`` or ``out_dir``; say where its index is and
    how many work pages it has. ``rebuild``: build every page, changed or not."""
    db = store.open_reader(config.database)  # the report only reads: a read-only database is fine
    try:
        if as_of is None and out_dir is None:
            return _write_current(db, config, now or datetime.now(UTC), rebuild)
        gens = Generations(config.report_dir)
        target = out_dir or gens.archive / as_of[:10]  # type: ignore[index]
        target.parent.mkdir(parents=True, exist_ok=True)
        with gens.lock():
            return _write_past(db, config, as_of, now, target)
    finally:
        db.close()


def _write_past(db: sqlite_utils.Database, config: Config, as_of: str | None, now: datetime | None,
                target: Path) -> Written:
    """A complete site into ``target``, built whole into a folder beside it first."""
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        cache = PageCache(folder / ".cache.sqlite", known=Generations(config.report_dir).home / "cache.sqlite")
        try:
            _write_site(db, config, _site(db, config, as_of, now), folder, cache, reuse=None)
            written = Written(target / "index.html", cache.count(), cache.count())
        finally:
            cache.close()
        (folder / ".cache.sqlite").unlink()
        replace_folder(folder, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return written


def _write_current(db: sqlite_utils.Database, config: Config, now: datetime, rebuild: bool) -> Written:
    gens = Generations(config.report_dir)
    with gens.lock():
        gens.adopt()
        current = gens.current()
        site = _site(db, config, None, now)
        today = (site.generated_at or now.isoformat())[:10]
        days = _prune_archive(gens, config.report.keep_archive_days, today)
        if config.report.keep_archive_days:
            days = sorted({*days, today}, reverse=True)
        site = Site(**{**site.__dict__, "archive": tuple(days)})
        folder = gens.start()
        cache = PageCache(gens.home / "cache.sqlite")
        try:
            valid = cache.start(current.name if current and not rebuild else None)
            site = _write_site(db, config, site, folder, cache, reuse=current if valid else None)
            built = cache.built
            final = gens.publish(folder)
            cache.finish(final.name)
            cache.commit()
            if config.report.keep_archive_days:
                _file_day(config, gens, site, cache, today)
            written = Written(config.report_dir / "index.html", cache.count(), built)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            cache.close()
        gens.clean()
    return written


def next_run(config: Config, now: datetime) -> str | None:
    """When the daemon's schedule fires next (for the run-health section)."""
    try:
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger.from_crontab(config.schedule.cron, timezone=config.schedule.timezone)
        fire = trigger.get_next_fire_time(None, now)
    except (ValueError, LookupError):
        return None
    return fire.astimezone(UTC).isoformat(timespec="minutes") if fire else None


def first_run_day(config: Config) -> date | None:
    """The day of the first run: the earliest day a past report can show."""
    db = store.open_reader(config.database)
    try:
        runs = reads.runs(db)
    finally:
        db.close()
    return date.fromisoformat(runs[0]["started_at"][:10]) if runs else None


def day_end(day: str) -> str:
    """'2026-11-27' → the last moment of that day (UTC), as stored timestamps compare."""
    return f"{day[:10]}T23:59:59.999999+00:00"


def _site(db: sqlite_utils.Database, config: Config, as_of: str | None, now: datetime | None) -> Site:
    run = store.latest_run(db, as_of)
    generated_at = (run or {}).get("finished_at") or (run or {}).get("started_at") or as_of or ""
    reference = datetime.fromisoformat(generated_at) if generated_at else (now or datetime.now(UTC))
    return Site(
        generated_at=generated_at,
        as_of=as_of,
        run=run,
        next_run=next_run(config, reference) if as_of is None else None,
        alerts=tuple(store.run_alerts(db, run["id"])) if run else (),
        answered=reads.last_answered(db, as_of),
    )


def _write_site(db: sqlite_utils.Database, config: Config, site: Site, folder: Path,
                cache: PageCache, reuse: Path | None) -> Site:
    """Every work page into ``folder`` (linking unchanged ones from ``reuse``), then the
    index pages, the collections' pages, the feed and report.json from the page cache."""
    env = environment(config.folder)
    ctx = context(db, site.as_of, config.report.citation_styles, config.alerts.new_citations)
    shared = keys.run_wide(ctx, code_digest(config.folder))
    (folder / "works").mkdir(exist_ok=True)
    templates = WorkTemplates(env.get_template("work.html"), env.get_template("_partials/index_row.html"),
                              env.get_template("_partials/untracked_row.html"))
    old, new = (os.path.join(reuse, "works", "") if reuse else ""), os.path.join(folder, "works", "")
    for found in keys.work_keys(db, ctx, shared):
        work, key = found.work, found.key
        cached = cache.get(work["id"])
        if reuse is not None and cached is not None and cached[0] == key and all(
            link_or_copy(f"{old}{cached[1]}{ext}", f"{new}{cached[1]}{ext}") for ext in (".html", ".json")
        ):
            cache.keep(work["id"], found.run_id, found.as_of)
            continue
        _write_work(db, work, key, ctx, site, folder, cache, templates)
        cache.built += 1
    groups = collection_pages.build_all(db, site.run, site.as_of, site.alerts, cache)
    site = Site(**{**site.__dict__, "totals": cache.totals((site.run or {}).get("id")),
                   "collections": tuple(groups)})
    size = config.report.index_page_size
    _write_index(env, site, folder, cache, size)
    collection_pages.write_all(env, site, folder, cache, groups, size)
    the_feed = feed.build(db, site.as_of, config.report.feed_entries, config.email.report_url,
                          site.generated_at, cache.headline,
                          {g.summary.name: (g.summary.title, g.href) for g in groups})
    _write(folder / "feed.atom", env.get_template("feed.atom").render(feed=the_feed, version=site.version))
    with open(folder / "report.json", "w", encoding="utf-8") as out:
        jsondata.write_report_json(out, _header(site), cache.summaries(),
                                   [jsondata.collection(g) for g in groups], (text for _, text in cache.untracked()))
    os.chmod(folder / "report.json", 0o644)
    return site


@dataclass(frozen=True)
class WorkTemplates:
    page: jinja2.Template
    row: jinja2.Template  # a tracked work's row of the index
    untracked_row: jinja2.Template  # a work no longer tracked, listed apart


def _write_work(db: sqlite_utils.Database, work: dict[str, Any], key: str, ctx: Context, site: Site,
                folder: Path, cache: PageCache, templates: WorkTemplates) -> None:
    def citations(record: Mapping[str, Any], doi: str, styles: tuple[str, ...]) -> dict[str, Any]:
        item = hashlib.sha256(json.dumps([cite.csl_json(record, doi), styles, __version__, _CITE_CODE],
                                         sort_keys=True).encode()).hexdigest()
        known = cache.citations(work["id"], item)
        if known is None:
            known = {label: str(text) for label, text in cite.citations(record, doi, styles).items()}
            cache.put_citations(work["id"], item, known)
        return {label: text if label in ("BibTeX", "RIS") else Markup(text) for label, text in known.items()}

    page = build_work(db, work, ctx, citations)
    if page is None:
        return
    _write(folder / page.href, templates.page.render(work=page, site=site, root="../"))
    _write(folder / "works" / f"{page.slug}.json", jsondata.dumps(jsondata.detail(page)) + "\n")
    row = index_row(page)
    html = (templates.untracked_row if page.untracked_at else templates.row).render(
        row=row, root="", titles=site.source_titles)
    cache.put(work["id"], page.doi, page.slug, key, row, html,
              jsondata.dumps(jsondata.summary(page, row)), f"{page.title}\n{page.headline.now.text}",
              page.untracked_at)


def _write_index(env: jinja2.Environment, site: Site, folder: Path, cache: PageCache, size: int,
                 only_first: bool = False, root: str = "") -> None:
    write_pages(env.get_template("index.html"), folder, lambda order: cache.rows(order, root=root),
                cache.count(tracked=True), size, orders=("headline",) if only_first else tuple(ORDERS),
                only_first=only_first, site=site, root=root)


def _header(site: Site) -> dict[str, Any]:
    run = site.run or {}
    summary = run.get("summary") or {}
    return {
        "generated_at": site.generated_at or None,
        "as_of": site.as_of,
        "version": site.version,
        "last_run": {
            "id": run["id"], "started_at": run["started_at"], "finished_at": run.get("finished_at"),
            "status": run["status"],
            "sources": [{"source": s, "outcome": v.get("outcome"), "message": v.get("message") or ""}
                        for s, v in sorted(summary.items()) if isinstance(v, dict)],
        } if run else None,
        "next_run": site.next_run,
        "totals": site.totals,
    }


def _file_day(config: Config, gens: Generations, site: Site, cache: PageCache, day: str) -> None:
    """archive/DAY/: the day's index (first page; its work links lead to today's pages)
    and what rebuilding the whole day takes."""
    folder = Path(tempfile.mkdtemp(prefix=f".{day}.tmp-", dir=gens.archive))
    try:
        archived = Site(**{**site.__dict__, "archived": True, "archive": ()})
        _write_index(environment(config.folder), archived, folder, cache, config.report.index_page_size,
                     only_first=True, root="../../")
        manifest = {
            "day": day,
            "run_id": (site.run or {}).get("id"),
            "generated_at": site.generated_at or None,
            "version": site.version,
            "works": site.totals.get("works", 0),
            "rebuild": f"citation-monitor report --as-of {day}",
        }
        _write(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        replace_folder(folder, gens.archive / day)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _prune_archive(gens: Generations, keep_days: int, today: str) -> list[str]:
    """Remove dated copies older than ``keep_days`` (and leftovers of killed writes);
    return the days that remain."""
    if not gens.archive.is_dir():
        return []
    cutoff = (date.fromisoformat(today) - timedelta(days=keep_days)).isoformat() if keep_days else "9999"
    days = []
    for path in gens.archive.iterdir():
        if path.name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and _is_day(path.name):
            if path.name <= cutoff:
                shutil.rmtree(path, ignore_errors=True)
            else:
                days.append(path.name)
    return sorted(days, reverse=True)


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10
