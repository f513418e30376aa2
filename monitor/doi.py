"""DOI parsing: accept the forms people paste, store one canonical form."""

import hashlib
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
_DOI = re.compile(r"^10\.\d{4,9}/[^\s\x00-\x1f\x7f-\x9f]+$")


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


# A slug keeps these characters as they are; '/' becomes '-' once (between prefix and
# suffix), and every other byte is written as _XX.
_SLUG_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_SLUG_MAX = 160  # longer slugs end in a hash: file names stop at 255 bytes


def doi_slug(doi: str) -> str:
    """A file-name-safe page name for a canonical DOI, different for every DOI.

    '10.1016/j.drup.2021.100752' → '10.1016-j.drup.2021.100752'. The prefix
    ('10.' and digits) never holds a '-', so the first '-' is the '/'; in the suffix,
    letters, digits, '.' and '-' stay, and every other byte becomes '_' and two hex
    digits ('10.1000/a/b' → '10.1000-a_2fb', '10.1000/a_b' → '10.1000-a_5fb'). So
    the name can be read back into its DOI: no two DOIs share a page. A name longer
    than 160 characters is cut and ends in '~' and the DOI's SHA-256.

    >>> doi_slug("10.1016/j.drup.2021.100752")
    '10.1016-j.drup.2021.100752'
    """
    prefix, _, suffix = doi.partition("/")
    escaped = "".join(
        char if char in _SLUG_SAFE else "".join(f"_{byte:02x}" for byte in char.encode())
        for char in suffix
    )
    slug = f"{prefix}-{escaped}"
    if len(slug) > _SLUG_MAX:
        slug = f"{slug[:_SLUG_MAX - 65]}~{hashlib.sha256(doi.encode()).hexdigest()}"
    return slug
