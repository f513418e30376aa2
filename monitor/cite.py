"""'Cite this': APA, Vancouver, Harvard, BibTeX and RIS from the merged metadata."""

from __future__ import annotations

import re
import unicodedata
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


def _sentence(text: str) -> str:
    """``text`` ending with a full stop, unless it already ends with one, ? or !."""
    text = text.strip()
    return text if not text or text[-1] in ".?!" else text + "."


def _page_range(record: Mapping[str, Any]) -> tuple[str, str]:
    """(first page, last page) of ``pages``; the last is empty for a single page."""
    first, _, last = (record.get("pages") or "").replace("–", "-").partition("-")
    return first.strip(), last.strip()


def _locator(record: Mapping[str, Any], dash: str = "–") -> str:
    """The article number, else the page range joined by ``dash``."""
    if record.get("article_number"):
        return str(record["article_number"])
    first, last = _page_range(record)
    return f"{first}{dash}{last}" if last else first


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _nlm_date(record: Mapping[str, Any]) -> str:
    """'2021 May' or '2021 May 4' (NLM); the year alone when no month is known."""
    year = str(record.get("year") or "")
    published = str(record.get("published") or "")
    month, day = published[5:7], published[8:10]
    if not year or not published.startswith(year) or not month.isdigit() or not 1 <= int(month) <= 12:
        return year
    return f"{year} {_MONTHS[int(month) - 1]}" + (f" {int(day)}" if day.isdigit() else "")


def _nlm_pages(record: Mapping[str, Any]) -> str:
    """NLM drops the repeated leading digits of the last page: 3911-3923 → 3911-23."""
    if record.get("article_number"):
        return str(record["article_number"])
    first, last = _page_range(record)
    if first.isdigit() and last.isdigit() and len(first) == len(last):
        common = 0
        while common < len(last) - 1 and first[common] == last[common]:
            common += 1
        last = last[common:]
    return f"{first}-{last}" if last else first


def apa(record: Mapping[str, Any], doi: str) -> str:
    """APA 7: up to 20 authors, then the first 19, an ellipsis and the last."""
    names = [f"{f}, {_initials(g)}" if g else f for f, g in _names(record)]
    if len(names) > 20:
        authors = ", ".join(names[:19]) + ", . . . " + names[-1]
    elif len(names) > 1:
        authors = ", ".join(names[:-1]) + ", & " + names[-1]
    else:
        authors = "".join(names)
    year = record.get("year") or "n.d."
    vol = record.get("volume")
    issue = f"({record['issue']})" if record.get("issue") else ""
    parts = [f"{_sentence(authors)} ({year}). {_sentence(record.get('title') or '')}"]
    venue = record.get("journal")
    if venue:
        locator = ("Article " if record.get("article_number") else "") + _locator(record)
        parts.append(f"{venue}" + (f", {vol}{issue}" if vol else "") + (f", {locator}" if _locator(record) else "") + ".")
    parts.append(f"https://doi.org/{doi}")
    return " ".join(parts)


def vancouver(record: Mapping[str, Any], doi: str) -> str:
    """NLM / ICMJE: six authors then et al., abbreviated journal, year month;volume(issue):pages."""
    names = [f"{f} {_initials(g, dots=False, space='')}".strip() for f, g in _names(record)]
    authors = ", ".join(names[:6]) + (", et al" if len(names) > 6 else "")
    vol = record.get("volume") or ""
    issue = f"({record['issue']})" if record.get("issue") else ""
    loc = f":{_nlm_pages(record)}" if _locator(record) else ""
    journal = record.get("journal_abbreviation") or record.get("journal") or ""
    return (f"{_sentence(authors)} {_sentence(record.get('title') or '')} {_sentence(journal)} "
            f"{_nlm_date(record)};{vol}{issue}{loc}. doi: {doi}")


def harvard(record: Mapping[str, Any], doi: str) -> str:
    """Cite Them Right: Journal, volume(issue), pp. first–last or the article number."""
    names = [f"{f}, {_initials(g, space='')}" if g else f for f, g in _names(record)]
    authors = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
    year = record.get("year") or "n.d."
    vol = record.get("volume")
    issue = f"({record['issue']})" if record.get("issue") else ""
    loc = _locator(record)
    pages = "" if not loc or record.get("article_number") else ("pp. " if _page_range(record)[1] else "p. ")
    tail = ", ".join(p for p in (f"{vol}{issue}" if vol else "", f"{pages}{loc}" if loc else "") if p)
    return (f"{authors} ({year}) '{record.get('title', '')}', {record.get('journal', '')}"
            + (f", {tail}" if tail else "") + f". Available at: https://doi.org/{doi}")


def bibtex(record: Mapping[str, Any], doi: str) -> str:
    """An @article; an article number goes in ``pages``, where every BibTeX style prints it."""
    names = _names(record)
    family = unicodedata.normalize("NFKD", names[0][0] if names else "work")
    key = re.sub(r"[^A-Za-z]", "", family) + str(record.get("year") or "")
    fields = {
        "author": " and ".join(f"{f}, {g}".strip(", ") for f, g in names),
        "title": record.get("title"),
        "journal": record.get("journal"),
        "year": record.get("year"),
        "volume": record.get("volume"),
        "number": record.get("issue"),
        "pages": _locator(record, "--"),
        "publisher": record.get("publisher"),
        "doi": doi,
    }
    body = ",\n".join(f"  {k} = {{{_bibtex_escape(str(v))}}}" for k, v in fields.items() if v)
    return f"@article{{{key or 'work'},\n{body}\n}}"


def _bibtex_escape(text: str) -> str:
    """Characters TeX reads as commands, written as text (so a stray brace cannot end a field)."""
    text = text.replace("\\", "\\textbackslash ")
    text = re.sub(r"([&%$#_{}])", r"\\\1", text)
    return text.replace("~", "\\textasciitilde{}").replace("^", "\\textasciicircum{}")


def ris(record: Mapping[str, Any], doi: str) -> str:
    lines = ["TY  - JOUR"]
    lines += [f"AU  - {f}, {g}".rstrip(", ") for f, g in _names(record)]
    first, last = _page_range(record)
    pairs = [
        ("TI", record.get("title")), ("JO", record.get("journal")), ("PY", record.get("year")),
        ("DA", (record.get("published") or "").replace("-", "/")), ("VL", record.get("volume")),
        ("IS", record.get("issue")), ("SP", record.get("article_number") or first),
        ("EP", None if record.get("article_number") else last),
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
