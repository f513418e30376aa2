"""The HTML impact report, rendered from the snapshot store alone.

``build`` reads the store into plain records; ``render`` turns them into files
with Jinja2 (autoescape, StrictUndefined). A ``templates/`` folder beside the
config file overrides the templates that ship with the package.
"""

from __future__ import annotations

import importlib.resources
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils

from monitor import __version__, metadata, store
from monitor.config import Config
from monitor.doi import doi_slug
from monitor.models import Outcome
from monitor.sources import SOURCES


@dataclass(frozen=True)
class SourceRow:
    """One source's figure for one work, with where it came from."""

    source: str
    title: str
    outcome: str
    outcome_plain: str
    message: str
    citations: int | None
    previous: int | None  # the last ok count from an earlier run
    observed_at: str
    last_ok_citations: int | None
    last_ok_at: str | None
    observation_id: int
    response_id: int | None
    body_sha256: str | None

    @property
    def change(self) -> int | None:
        if self.citations is None or self.previous is None:
            return None
        return self.citations - self.previous


@dataclass(frozen=True)
class WorkPage:
    doi: str
    slug: str
    label: str | None
    record: dict[str, Any]
    origin: dict[str, str]
    rows: tuple[SourceRow, ...]

    @property
    def title(self) -> str:
        return self.record.get("title") or self.label or self.doi

    @property
    def href(self) -> str:
        return f"works/{self.slug}.html"

    @property
    def highest(self) -> SourceRow | None:
        ok = [r for r in self.rows if r.citations is not None]
        return max(ok, key=lambda r: r.citations or 0) if ok else None


@dataclass(frozen=True)
class Report:
    works: tuple[WorkPage, ...]
    run: dict[str, Any] | None
    generated_at: str
    as_of: str | None
    version: str = __version__
    source_titles: dict[str, str] = field(default_factory=dict)

    @property
    def sources_shown(self) -> list[str]:
        """Sources with a row for any work, in registry order."""
        present = {row.source for work in self.works for row in work.rows}
        return [s for s in self.source_titles if s in present]


def build(db: sqlite_utils.Database, generated_at: str, as_of: str | None = None) -> Report:
    """Read everything the report shows from the store, as it stood at ``as_of``."""
    history: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in store.observation_history(db, as_of):
        history[(row["doi"], row["source"])].append(row)
    pages = []
    for work in store.works_rows(db):
        rows = []
        per_source_meta = {}
        for source in SOURCES:
            observations = history.get((work["doi"], source))
            if not observations:
                continue
            rows.append(_source_row(source, observations))
            ok = [o for o in observations if o["outcome"] == Outcome.OK.value]
            if ok:
                per_source_meta[source] = ok[-1]["metadata"]
        if not rows and as_of is not None:
            continue
        record, origin = metadata.merge(per_source_meta)
        pages.append(
            WorkPage(
                doi=work["doi"],
                slug=doi_slug(work["doi"]),
                label=work["label"],
                record=record,
                origin=origin,
                rows=tuple(rows),
            )
        )
    return Report(
        works=tuple(pages),
        run=store.latest_run(db, as_of),
        generated_at=generated_at,
        as_of=as_of,
        source_titles={name: module.SPEC.title for name, module in SOURCES.items()},
    )


def _source_row(source: str, observations: list[dict[str, Any]]) -> SourceRow:
    latest = observations[-1]
    ok = [o for o in observations if o["outcome"] == Outcome.OK.value]
    earlier = [o for o in ok if o["run_id"] != latest["run_id"]]
    outcome = Outcome(latest["outcome"])
    return SourceRow(
        source=source,
        title=SOURCES[source].SPEC.title,
        outcome=outcome.value,
        outcome_plain=outcome.plain,
        message=latest["message"],
        citations=latest["citations"],
        previous=earlier[-1]["citations"] if earlier else None,
        observed_at=latest["observed_at"],
        last_ok_citations=ok[-1]["citations"] if ok else None,
        last_ok_at=ok[-1]["observed_at"] if ok else None,
        observation_id=latest["id"],
        response_id=latest["response_id"],
        body_sha256=latest["body_sha256"],
    )


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
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["signed"] = lambda n: "" if n is None else (f"+{n}" if n > 0 else str(n))
    env.filters["day"] = lambda iso: (iso or "")[:10]
    env.filters["minute"] = lambda iso: (iso or "")[:16].replace("T", " ")
    return env


def render(report: Report, config: Config, out_dir: Path) -> list[Path]:
    """Write index.html and one page per work into ``out_dir``; return the paths."""
    env = environment(config.folder)
    written = [write_atomic(out_dir / "index.html", env.get_template("index.html").render(report=report, root=""))]
    for page in report.works:
        html = env.get_template("work.html").render(report=report, work=page, root="../")
        written.append(write_atomic(out_dir / page.href, html))
    return written


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


def write_report(config: Config, generated_at: str, as_of: str | None = None) -> list[Path]:
    db = store.open_db(config.database)
    try:
        report = build(db, generated_at, as_of)
    finally:
        db.close()
    return render(report, config, config.report_dir)
