"""Jinja2 for the report: autoescape, StrictUndefined, and no control characters.

A title from a source may hold control characters: XML forbids most of them, so one in
a title would make ``feed.atom`` ill-formed, and in HTML they are noise. Every value a
template writes passes ``strip_controls`` (``textsafe.printable``, the one definition
the digest uses too); the database keeps the exact value.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from monitor.doi import doi_slug
from monitor.models import Outcome
from monitor.textsafe import printable

FAILURES = frozenset(o.value for o in Outcome if o.is_failure)
PACKAGE = Path(__file__).resolve().parent.parent


def strip_controls(value: Any) -> Any:
    """``value`` without control characters (Markup stays Markup); other types as they are."""
    if isinstance(value, Markup):
        return Markup(printable(str(value)))
    if isinstance(value, str):
        return printable(value)
    return value


def template_dirs(config_folder: Path) -> list[Path]:
    """Override folder first, then the templates shipped in the package."""
    dirs = [config_folder / "templates"]
    try:
        dirs.append(Path(str(importlib.resources.files("monitor.templates"))))
    except ModuleNotFoundError:  # running from a source tree without installing
        pass
    dirs.append(PACKAGE.parent / "templates")
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def environment(config_folder: Path) -> jinja2.Environment:
    """The report's Jinja environment. Compiling the templates costs far more than rendering
    them, so one environment serves every report of the process (the daemon's runs, the
    digest) while the templates it can see stay the same: an override file added, removed
    or edited (Jinja checks each template's mtime) gives a fresh compile."""
    dirs = template_dirs(config_folder)
    return _environment(tuple(str(d) for d in dirs), _overrides(dirs[0]) if dirs else ())


def _overrides(folder: Path) -> tuple[str, ...]:
    """The files of the first template folder (the override folder, when there is one)."""
    return tuple(sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()))


@functools.lru_cache(maxsize=8)
def _environment(dirs: tuple[str, ...], overrides: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dirs)),
        autoescape=jinja2.select_autoescape(["html", "xml", "atom"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=strip_controls,
    )
    env.filters["signed"] = signed
    env.filters["day"] = lambda iso: (iso or "")[:10]
    env.filters["minute"] = lambda iso: (iso or "")[:16].replace("T", " ")
    env.filters["web_url"] = web_url
    env.filters["clean"] = strip_controls
    env.filters["doi_slug"] = doi_slug
    env.tests["failure"] = lambda outcome: outcome in FAILURES
    return env


def signed(n: int | None) -> str:
    """+3, -2, 0; a dash for unknown (never 0 for unknown)."""
    return "—" if n is None else (f"+{n}" if n > 0 else str(n))


def web_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL, else None: a source's URL never becomes a javascript: link."""
    if not isinstance(value, str):
        return None
    return value if urlsplit(value.strip()).scheme.lower() in ("http", "https") else None


def code_digest(config_folder: Path) -> str:
    """A digest of everything that shapes a page besides its data: the templates in
    use (overrides included) and the package's code. A page whose data did not change
    is rendered again when this changes."""
    digest = hashlib.sha256()
    for folder in [*template_dirs(config_folder), PACKAGE]:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".html", ".atom", ".xml", ".py"):
                digest.update(str(path.relative_to(folder)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
