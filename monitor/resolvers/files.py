"""``file = "works.bib"``: a collection kept in a file, read at every run.

Formats, chosen by the extension (``.bib``, ``.ris``, ``.csv``/``.tsv``, anything else
sniffed from the content):

- **BibTeX**: each entry's ``doi`` field; else an arXiv ``eprint`` (with ``archivePrefix``
  or ``eprinttype`` arXiv) or an ``arxiv.org/abs`` ``url``; ``@string``, ``@preamble`` and
  ``@comment`` are skipped. Values in braces or quotes, nested braces included.
- **RIS**: each record's ``DO`` tag; else a ``doi.org`` or ``arxiv.org/abs`` link in ``UR``,
  ``L1``-``L3`` or ``LK``; title from ``TI``/``T1``.
- **CSV** (or TSV, or ``;``-separated): the column named ``doi`` (any case); ``title`` if any.
- **A plain list**: one DOI (any form) or arXiv id per line; blank lines and ``#`` comments
  are skipped.

An arXiv id becomes its DataCite DOI; an entry with neither is skipped with its reason.
Also what ``citation-monitor import FILE`` reads.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.config import CollectionConfig
from monitor.doi import doi_or_none
from monitor.identifiers import arxiv_doi
from monitor.models import Outcome
from monitor.resolvers.base import Context, Found, Resolution, Skipped, unite

KIND = "file"
EXTENSIONS = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".csv": "csv", ".tsv": "csv"}


class UnreadableFile(ValueError):
    """A file whose format is known but whose content breaks it (one line, with the place)."""


@dataclass(frozen=True)
class Entry:
    """One record of a file, before its identifiers are checked."""

    item: str  # where it is: "line 3", "@article{smith2020} (line 12)", "record 2"
    doi: str | None = None
    arxiv: str | None = None
    title: str | None = None


def describe(collection: CollectionConfig) -> str:
    return f"file {collection.identifier}"


def path_of(collection: CollectionConfig) -> Path:
    """The file a ``file`` collection reads."""
    return collection.path or Path(collection.identifier)


def resolve(collection: CollectionConfig, context: Context) -> Resolution:
    path = path_of(collection)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return _unreadable(f"{path} not found; fix file = in [[collections]] {collection.name!r}")
    except OSError as exc:
        return _unreadable(f"{path} cannot be read ({exc.strerror or exc})")
    try:
        found, skipped = read(path.name, content)
    except UnreadableFile as exc:
        return _unreadable(f"{path}: {exc}")
    return Resolution(tuple(found), tuple(skipped), content=content)


def _unreadable(message: str) -> Resolution:
    return Resolution((), outcome=Outcome.ERROR, message=message, complete=False)


def read(name: str, content: bytes) -> tuple[list[Found], list[Skipped]]:
    """The works a file lists (one per DOI, whichever way it is written), and what it skips."""
    text = decode(content)
    found, skipped = [], []
    for entry in PARSERS[file_format(name, text)](text):
        doi = doi_or_none(entry.doi) if entry.doi else None
        doi = doi or (arxiv_doi(entry.arxiv) if entry.arxiv else None)
        if doi:
            found.append(Found(doi, title=entry.title, via=("file",)))
        elif entry.doi or entry.arxiv:
            what = entry.doi or entry.arxiv
            skipped.append(Skipped(entry.item, f"{what!r} is not a DOI or arXiv id", entry.title))
        else:
            skipped.append(Skipped(entry.item, "no DOI or arXiv id", entry.title))
    return unite(found), skipped


def decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")  # old BibTeX exports; a DOI is ASCII either way


def file_format(name: str, text: str) -> str:
    """bibtex, ris, csv or list: by the extension, else by the content."""
    known = EXTENSIONS.get(Path(name).suffix.lower())
    if known:
        return known
    head = text.lstrip()
    if head.startswith("@"):
        return "bibtex"
    if re.search(r"^TY  - ", text, re.MULTILINE):
        return "ris"
    header = head.split("\n", 1)[0].lower()
    if "doi" in (cell.strip().strip('"') for cell in re.split(r"[,;\t]", header)):
        return "csv"
    return "list"


# --- plain lists -----------------------------------------------------------------


def parse_list(text: str) -> Iterator[Entry]:
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        token = value.split()[0]
        is_arxiv = arxiv_doi(token) is not None and doi_or_none(token) is None
        yield Entry(f"line {number}", doi=None if is_arxiv else token, arxiv=token if is_arxiv else None)


# --- CSV ---------------------------------------------------------------------------


def parse_csv(text: str) -> Iterator[Entry]:
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    if "doi" not in columns:
        shown = ", ".join(n for n in (reader.fieldnames or []) if n) or "none"
        raise UnreadableFile(f"has no doi column (its columns: {shown}); name one doi")
    for row in reader:
        value = (row.get(columns["doi"]) or "").strip()
        title = (row.get(columns["title"]) or "").strip() if "title" in columns else ""
        if not value and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank row
        is_arxiv = bool(value) and doi_or_none(value) is None and arxiv_doi(value) is not None
        yield Entry(
            f"row {reader.line_num}",
            doi=None if is_arxiv else value or None,
            arxiv=value if is_arxiv else None,
            title=title or None,
        )


# --- RIS ---------------------------------------------------------------------------

_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_LINK_TAGS = ("UR", "L1", "L2", "L3", "LK")


def parse_ris(text: str) -> Iterator[Entry]:
    record: dict[str, list[str]] = {}
    start = 0
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = _RIS_LINE.match(line.rstrip())
        if not match:
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            record, start = {}, number
        elif tag == "ER":
            count += 1
            yield _ris_entry(record, f"record {count} (line {start})")
            record = {}
        elif value:
            record.setdefault(tag, []).append(value)
    if record:
        raise UnreadableFile(f"the record from line {start} has no closing ER tag")


def _ris_entry(record: dict[str, list[str]], item: str) -> Entry:
    links = [v for tag in _LINK_TAGS for v in record.get(tag, [])]
    doi = next(iter(record.get("DO", [])), None) or next((v for v in links if "doi.org/" in v), None)
    arxiv = next((v for v in links if "arxiv.org/abs/" in v.lower()), None)
    title = next((v for tag in ("TI", "T1", "CT", "BT") for v in record.get(tag, [])), None)
    return Entry(item, doi=doi, arxiv=_after(arxiv, "arxiv.org/abs/") if arxiv and not doi else None, title=title)


# --- BibTeX ------------------------------------------------------------------------

_ENTRY = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_FIELD_NAME = re.compile(r"\s*([A-Za-z][\w\-:.]*)\s*=\s*")
_SKIPPED_ENTRIES = {"comment", "preamble", "string"}


def parse_bibtex(text: str) -> Iterator[Entry]:
    position = 0
    while (at := text.find("@", position)) != -1:
        match = _ENTRY.match(text, at)
        if not match:
            position = at + 1
            continue
        kind, opening = match.group(1).lower(), match.group(2)
        end = _closing(text, match.end(), ")" if opening == "(" else "}")
        line = text.count("\n", 0, at) + 1
        if end is None:
            raise UnreadableFile(f"the entry @{kind} on line {line} is never closed")
        position = end + 1
        if kind in _SKIPPED_ENTRIES:
            continue
        key, _, body = text[match.end() : end].partition(",")
        fields = _bibtex_fields(body, line)
        arxiv = None
        if (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower() == "arxiv":
            arxiv = fields.get("eprint")
        elif "arxiv.org/abs/" in (fields.get("url") or "").lower():
            arxiv = _after(fields["url"], "arxiv.org/abs/")
        doi = fields.get("doi")
        yield Entry(
            f"@{kind}{{{key.strip()}}} (line {line})",
            doi=doi or None,
            arxiv=arxiv if not doi else None,
            title=_plain(fields.get("title")),
        )


def _closing(text: str, start: int, closer: str) -> int | None:
    """The index of the character closing an entry opened just before ``start``."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index if closer == "}" else None
            depth -= 1
        elif char == closer and depth == 0:
            return index
    return None


def _bibtex_fields(body: str, line: int) -> dict[str, str]:
    """name → value (lower-case names; parts joined by # concatenated, macros as written)."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(body):
        while position < len(body) and body[position] in " \t\r\n,":
            position += 1
        match = _FIELD_NAME.match(body, position)
        if not match:
            if body[position:].strip():
                raise UnreadableFile(f"the entry on line {line} has a field that is not name = value")
            break
        position = match.end()
        parts = []
        while True:
            value, position = _bibtex_value(body, position, line)
            parts.append(value)
            rest = body[position:].lstrip()
            if not rest.startswith("#"):
                break
            position = len(body) - len(rest) + 1
        fields[match.group(1).lower()] = "".join(parts).strip()
    return fields


def _bibtex_value(body: str, position: int, line: int) -> tuple[str, int]:
    """One part of a field's value, and the position after it."""
    while position < len(body) and body[position] in " \t\r\n":
        position += 1
    opener = body[position : position + 1]
    if opener in ("{", '"'):
        depth, index = 0, position + 1
        while index < len(body):
            char = body[index]
            if char == "{":
                depth += 1
            elif char == "}" and depth > 0:
                depth -= 1
            elif depth == 0 and char == ("}" if opener == "{" else '"'):
                return body[position + 1 : index], index + 1
            index += 1
        raise UnreadableFile(f"the entry on line {line} has a value that is never closed")
    match = re.compile(r"[^\s,#]*").match(body, position)
    assert match is not None  # the pattern matches the empty string
    return match.group(0), match.end()


def _plain(text: str | None) -> str | None:
    """A BibTeX title as text: braces dropped, white space collapsed."""
    if not text:
        return None
    return " ".join(text.replace("{", "").replace("}", "").split()) or None


def _after(text: str, marker: str) -> str:
    return text[text.lower().index(marker) + len(marker) :].strip().rstrip("/")


PARSERS = {"bibtex": parse_bibtex, "ris": parse_ris, "csv": parse_csv, "list": parse_list}
