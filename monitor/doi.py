"""DOI parsing: accept the forms people paste, store one canonical form."""

import re
from urllib.parse import unquote

_PREFIXES = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "doi.org/",
    "doi:",
)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


class InvalidDOI(ValueError):
    pass


def normalize_doi(value: str) -> str:
    """Return the canonical lower-case ``10.x/...`` form of a DOI.

    Accepts ``10.x/...``, ``doi:10.x/...`` and ``https://doi.org/10.x/...``.

    >>> normalize_doi("https://doi.org/10.1016/J.DRUP.2021.100752")
    '10.1016/j.drup.2021.100752'
    """
    text = value.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    text = unquote(text).strip().lower()
    if not _DOI.match(text):
        raise InvalidDOI(
            f"{value!r} is not a DOI; expected a form like 10.1016/j.drup.2021.100752"
        )
    return text


def doi_or_none(value: object) -> str | None:
    """Normalise a DOI found in an API response; None when absent or unparseable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return normalize_doi(value)
    except InvalidDOI:
        return None


def doi_slug(doi: str) -> str:
    """A file-name-safe form of a canonical DOI, for report pages."""
    return re.sub(r"[^a-z0-9.]+", "-", doi).strip("-")
