"""The report: a static site rendered from the snapshot store alone.

    pages.py        one work's page, built from its rows (``build_work``)
    dashboard.py    the index: one row per work, three sort orders, paged
    collection_pages.py  a page per collection (from the index's rows), and the
                    works no longer tracked, apart
    feed.py         the Atom feed: a rolling window of new citing works and alerts
    jsondata.py     report.json (the index's numbers) and works/<doi>.json (a page's)
    rendering.py    Jinja2 with autoescape, StrictUndefined and no control characters
    keys.py         what each page depends on, so unchanged pages are not rebuilt
    cache.py        the page cache: each work's key, index row and report.json entry
    generations.py  the site replaced as a whole: report_dir links to one generation
    site.py         ``write_report``: all of it, one work at a time, and the archive

A ``templates/`` folder beside the config file overrides the shipped templates, file
by file; each template says which context it receives.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from monitor.report.rendering import environment, web_url
from monitor.report.site import Written, day_end, first_run_day, next_run, write_report

__all__ = ["Written", "day_end", "environment", "first_run_day", "next_run", "web_url", "write_atomic", "write_report"]


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
