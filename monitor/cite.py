"""'Cite this': APA, Vancouver, Harvard, BibTeX and RIS from the merged metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

STYLES = ("APA", "Vancouver", "Harvard", "BibTeX", "RIS")


def _names(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(family, given) for each author; a single-string name is split at its last space."""
    result = []
    for author in record.get("authors") or []:
        family, given = author.get("family"), author.get("given")
        if not family:
            name = (author.get("name") or "").strip()
            given, _, family = name.rpartition(" ")
        if family:
            result.append((family, given or ""))
    return result


def _initials(given: str, dots: bool = True, space: str = " ") -> str:
    parts = [p for p in re.split(r"[\s\-]+", given) if p]
    return space.join(p[0] + ("." if dots else "") for p in parts)


def _locator(record: Mapping[str, Any]) -> str:
    return record.get("article_number") or record.get("pages") or ""


def apa(record: Mapping[str, Any], doi: str) -> str:
    names = [f"{f}, {_initials(g)}" if g else f for f, g in _names(record)]
    if len(names) > 1:
        authors = ", ".join(names[:-1]) + ", & " + names[-1]
    else:
        authors = "".join(names)
    year = record.get("year") or "n.d."
    vol = record.get("volume")
    issue = f"({record['issue']})" if record.get("issue") else ""
    parts = [f"{authors} ({year}). {record.get('title', '')}."]
    venue = record.get("journal")
    if venue:
        parts.append(f"{venue}" + (f", {vol}{issue}" if vol else "") + (f", {_locator(record)}" if _locator(record) else "") + ".")
    parts.append(f"https://doi.org/{doi}")
    return " ".join(parts)


def vancouver(record: Mapping[str, Any], doi: str) -> str:
    names = [f"{f} {_initials(g, dots=False, space='')}".strip() for f, g in _names(record)]
    authors = ", ".join(names[:6]) + (", et al." if len(names) > 6 else "")
    date = record.get("year") or ""
    vol = record.get("volume") or ""
    issue = f"({record['issue']})" if record.get("issue") else ""
    loc = f":{_locator(record)}" if _locator(record) else ""
    journal = record.get("journal_abbreviation") or record.get("journal") or ""
    return f"{authors}. {record.get('title', '')}. {journal}. {date};{vol}{issue}{loc}. doi:{doi}"


def harvard(record: Mapping[str, Any], doi: str) -> str:
    names = [f"{f}, {_initials(g, space='')}" if g else f for f, g in _names(record)]
    authors = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
    year = record.get("year") or "n.d."
    vol = record.get("volume")
    loc = _locator(record)
    tail = ", ".join(p for p in (f"{vol}" if vol else "", f"{'p. ' if record.get('pages') and not record.get('article_number') else 'article '}{loc}" if loc else "") if p)
    return f"{authors} ({year}) '{record.get('title', '')}', {record.get('journal', '')}" + (f", {tail}" if tail else "") + f". doi:{doi}."


def bibtex(record: Mapping[str, Any], doi: str) -> str:
    names = _names(record)
    key = re.sub(r"[^A-Za-z]", "", names[0][0] if names else "work") + str(record.get("year") or "")
    fields = {
        "author": " and ".join(f"{f}, {g}".strip(", ") for f, g in names),
        "title": record.get("title"),
        "journal": record.get("journal"),
        "year": record.get("year"),
        "volume": record.get("volume"),
        "number": record.get("issue"),
        "pages": record.get("pages") if not record.get("article_number") else None,
        "eid": record.get("article_number"),
        "publisher": record.get("publisher"),
        "doi": doi,
    }
    body = ",\n".join(f"  {k} = {{{_bibtex_escape(str(v))}}}" for k, v in fields.items() if v)
    return f"@article{{{key},\n{body}\n}}"


def _bibtex_escape(text: str) -> str:
    return re.sub(r"([&%$#_])", r"\\\1", text)


def ris(record: Mapping[str, Any], doi: str) -> str:
    lines = ["TY  - JOUR"]
    lines += [f"AU  - {f}, {g}".rstrip(", ") for f, g in _names(record)]
    pairs = [
        ("TI", record.get("title")), ("JO", record.get("journal")), ("PY", record.get("year")),
        ("DA", (record.get("published") or "").replace("-", "/")), ("VL", record.get("volume")),
        ("IS", record.get("issue")), ("SP", record.get("article_number") or (record.get("pages") or "").split("-")[0]),
        ("PB", record.get("publisher")), ("SN", record.get("issn")), ("DO", doi),
        ("UR", f"https://doi.org/{doi}"),
    ]
    lines += [f"{tag}  - {value}" for tag, value in pairs if value]
    lines += [f"KW  - {k}" for k in record.get("keywords") or []]
    lines.append("ER  - ")
    return "\n".join(lines)


def citations(record: Mapping[str, Any], doi: str) -> dict[str, str]:
    return {
        "APA": apa(record, doi),
        "Vancouver": vancouver(record, doi),
        "Harvard": harvard(record, doi),
        "BibTeX": bibtex(record, doi),
        "RIS": ris(record, doi),
    }
