"""Write and edit config.toml for people: ``init``, ``add``, ``remove``, ``import``.

Edits go through tomlkit, so every comment and the layout stay as they were; a new
``[[works]]`` entry goes after the last one. Nothing is written unless the edited file
loads as a valid config (``load_config``), and then it replaces the old one atomically.
Every refusal is one ConfigError line that says what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Comment, Table, Whitespace

from monitor.config import load_config
from monitor.doi import InvalidDOI, normalize_doi
from monitor.errors import ConfigError
from monitor.report import write_atomic
from monitor.resolvers.base import Skipped
from monitor.resolvers.files import UnreadableFile, read

PACKAGE = Path(str(resources.files("monitor")))


@dataclass(frozen=True)
class Imported:
    """What ``import_file`` did: the DOIs added, those already tracked, the items skipped."""

    added: tuple[str, ...]
    known: tuple[str, ...]
    skipped: tuple[Skipped, ...]


def template() -> str:
    """The commented config.toml ``init`` writes (package data: it ships in the wheel)."""
    return (PACKAGE / "skeleton" / "config.toml").read_text(encoding="utf-8")


def shipped(name: str) -> Path:
    """Where ``docs`` or ``datasette`` is: inside the installed package (pyproject maps them
    there), or beside it in a source checkout."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


def init_config(path: Path) -> Path:
    """Write the commented template to ``path``; never over an existing file."""
    if path.exists():
        raise ConfigError(f"{path} already exists; edit it, or pass --config with a new path")
    return write_atomic(path, template())


def add_works(path: Path, dois: Sequence[str], titles: Sequence[str | None] = ()) -> list[str]:
    """Append a ``[[works]]`` entry per DOI (its title, if given, as a comment); the
    canonical DOIs added. A malformed DOI or one already listed refuses them all."""
    document = _read(path)
    listed = _listed(path, document)
    wanted: list[str] = []
    for value in dois:
        doi = _doi(path, value)
        if doi in listed or doi in wanted:
            where = f"[[works]] #{listed.index(doi) + 1}" if doi in listed else "twice in this command"
            raise ConfigError(f"{path}: {doi} is already listed ({where}); nothing was added")
        wanted.append(doi)
    works = document.get("works")
    if works is None:
        works = tomlkit.aot()
        document.append("works", works)
    if not isinstance(works, AoT):
        raise ConfigError(f"{path}: works must be an array of tables: write each as [[works]]")
    # the comments that ended the last entry describe what follows the works: keep them last
    after = _take_trailing(works[-1]) if len(works) else [(None, Whitespace("\n"))]
    for doi, title in zip(wanted, [*titles, *[None] * len(wanted)]):
        if len(works):
            works[-1].add(tomlkit.nl())
        table = tomlkit.table()
        table.add("doi", doi)
        if title:
            table["doi"].comment(" ".join(title.split())[:100])
        works.append(table)
    works[-1].value.body.extend(after)
    _save(path, document)
    return wanted


def remove_works(path: Path, dois: Sequence[str]) -> list[str]:
    """Remove the ``[[works]]`` entry of each DOI, keeping the comments around it that
    describe what follows; the canonical DOIs removed. One not listed refuses them all."""
    document = _read(path)
    listed = _listed(path, document)
    gone = []
    for value in dois:
        doi = _doi(path, value)
        if doi not in listed:
            raise ConfigError(
                f"{path}: {doi} is not in [[works]]; nothing was removed "
                "(a work found by a [[collections]] table leaves with it)"
            )
        gone.append(doi)
    works = document["works"]
    for index in sorted({listed.index(d) for d in gone}, reverse=True):
        trailing = _take_trailing(works[index])
        if index > 0:
            _take_trailing(works[index - 1])  # it described the entry going now
            works[index - 1].value.body.extend(trailing)
        elif any(isinstance(item, Comment) for _, item in trailing):
            # a blank line already ends what precedes the works: only its comments move
            while trailing and isinstance(trailing[0][1], Whitespace):
                trailing.pop(0)
            _insert_before(document, works, trailing)
        del works[index]
    _save(path, document)
    return gone


def import_file(path: Path, source: Path) -> Imported:
    """Add the works a BibTeX, RIS, CSV or DOI-list file names (monitor/resolvers/files.py),
    each with its title as a comment; those already listed are left as they are."""
    try:
        found, skipped = read(source.name, source.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except UnreadableFile as exc:
        raise ConfigError(f"{source}: {exc}") from None
    listed = set(_listed(path, _read(path)))
    new = [f for f in found if f.doi not in listed]
    if new:
        add_works(path, [f.doi for f in new], [f.title for f in new])
    return Imported(
        tuple(f.doi for f in new), tuple(f.doi for f in found if f.doi in listed), tuple(skipped)
    )


# --- tomlkit ----------------------------------------------------------------------------


def _read(path: Path) -> tomlkit.TOMLDocument:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; `citation-monitor init` writes one")
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None


def _listed(path: Path, document: tomlkit.TOMLDocument) -> list[str]:
    """The canonical DOI of each ``[[works]]`` entry, in order."""
    found = []
    for index, table in enumerate(document.get("works", []), start=1):
        try:
            found.append(normalize_doi(str(table.get("doi", ""))))
        except InvalidDOI as exc:
            raise ConfigError(f"{path}: [[works]] #{index} doi: {exc}") from None
    return found


def _doi(path: Path, value: str) -> str:
    try:
        return normalize_doi(value)
    except InvalidDOI as exc:
        raise ConfigError(f"{path}: {exc}; nothing was changed") from None


def _take_trailing(table: Table) -> list[tuple[Any, Any]]:
    """Remove and return the comments and blank lines that end a table: in TOML they sit
    before the next header, so they describe what comes next."""
    body = table.value.body
    end = len(body)
    while end and body[end - 1][0] is None and isinstance(body[end - 1][1], (Comment, Whitespace)):
        end -= 1
    trailing = body[end:]
    del body[end:]
    return trailing


def _insert_before(document: tomlkit.TOMLDocument, works: AoT, items: list[tuple[Any, Any]]) -> None:
    """Put ``items`` at the end of what precedes the works: a table, or the document's top."""
    index = next(i for i, (_, item) in enumerate(document.body) if item is works)
    previous = document.body[index - 1][1] if index else None
    if isinstance(previous, Table):
        previous.value.body.extend(items)
    else:
        document.body[index:index] = items


def _save(path: Path, document: tomlkit.TOMLDocument) -> None:
    """Write only a config that loads; atomically, so a crash leaves the old one."""
    candidate = write_atomic(path.with_name(f".{path.name}.edited"), tomlkit.dumps(document))
    try:
        load_config(candidate)
    except ConfigError as exc:
        candidate.unlink()
        raise ConfigError(f"{str(exc).replace(str(candidate), str(path))}; nothing was changed") from None
    os.replace(candidate, path)
