"""Identifiers of people, institutions and preprints: accept the forms people paste, keep one.

- ORCID iD: ``0000-0002-1825-0097``, with or without ``https://orcid.org/``; its last
  character is an ISO 7064 MOD 11-2 check digit (support.orcid.org, "Structure of the
  ORCID identifier"), so a mistyped iD is caught before any request.
- ROR id: ``https://ror.org/02nr0ka47`` or ``02nr0ka47``: a 0, six Crockford base-32
  characters and two check digits (ISO 7064 MOD 97-10 of the six characters' number).
- OpenAlex author id: ``A5017898742`` or ``https://openalex.org/A5017898742``.
- arXiv id → its DataCite DOI: arXiv registers ``10.48550/arXiv.<id>`` for every article
  (the colon of ``arXiv:2202.01037`` becomes a period; one DOI for all versions).

Pure functions, no I/O: config validation and the resolvers both use them.
"""

from __future__ import annotations

import re

_ORCID = re.compile(r"^(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$")
_ORCID_PREFIXES = ("https://orcid.org/", "http://orcid.org/", "orcid.org/", "orcid:")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_ROR = re.compile(r"^0([0-9a-hjkmnp-tv-z]{6})(\d{2})$")
_ROR_PREFIXES = ("https://ror.org/", "http://ror.org/", "ror.org/", "ror:")
_OPENALEX_AUTHOR = re.compile(r"^A\d{4,12}$")
# New-style 2202.01037 (four-digit month, four or five digits); old-style hep-th/9901001.
_ARXIV = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(v\d+)?$", re.IGNORECASE)
_ARXIV_PREFIXES = ("https://arxiv.org/abs/", "http://arxiv.org/abs/", "arxiv.org/abs/", "arxiv:")


class InvalidIdentifier(ValueError):
    """A malformed identifier; the message says what is wrong and gives an example."""


def _strip(value: str, prefixes: tuple[str, ...]) -> str:
    text = value.strip()
    lowered = text.lower()
    for prefix in prefixes:
        if lowered.startswith(prefix):
            return text[len(prefix) :].strip().rstrip("/")
    return text.rstrip("/")


def orcid_check_digit(base: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 15 digits of an ORCID iD.

    >>> orcid_check_digit("000000021825009")
    '7'
    """
    total = 0
    for digit in base:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def normalize_orcid(value: str) -> str:
    """``0000-0002-1825-0097`` from any accepted form; InvalidIdentifier when malformed.

    >>> normalize_orcid("https://orcid.org/0000-0002-9079-593x")
    '0000-0002-9079-593X'
    """
    text = _strip(value, _ORCID_PREFIXES).upper()
    match = _ORCID.match(text)
    if not match:
        raise InvalidIdentifier(
            f"{value!r} is not an ORCID iD; expected 16 characters like 0000-0002-1825-0097"
        )
    digits = "".join(match.groups())
    expected = orcid_check_digit(digits[:15])
    if digits[15] != expected:
        raise InvalidIdentifier(
            f"{value!r} is not a valid ORCID iD: its check digit is {digits[15]}, the other 15 "
            f"digits give {expected}; copy the iD again from orcid.org"
        )
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def ror_check_digits(body: str) -> str:
    """The two check digits of a ROR id's six base-32 characters (ISO 7064 MOD 97-10)."""
    number = 0
    for char in body:
        number = number * 32 + _CROCKFORD.index(char)
    return f"{98 - (number * 100) % 97:02d}"


def normalize_ror(value: str) -> str:
    """``02nr0ka47`` from ``https://ror.org/02nr0ka47`` or the bare id; InvalidIdentifier else."""
    text = _strip(value, _ROR_PREFIXES).lower()
    match = _ROR.match(text)
    if not match:
        raise InvalidIdentifier(
            f"{value!r} is not a ROR id; expected a form like https://ror.org/02nr0ka47"
        )
    if ror_check_digits(match.group(1)) != match.group(2):
        raise InvalidIdentifier(
            f"{value!r} is not a valid ROR id: its check digits do not match; "
            "copy it again from ror.org"
        )
    return text


def normalize_openalex_author(value: str) -> str:
    """``A5017898742`` from the bare id or ``https://openalex.org/A5017898742``."""
    text = _strip(value, ("https://openalex.org/", "http://openalex.org/", "openalex.org/"))
    text = text.upper()
    if not _OPENALEX_AUTHOR.match(text):
        raise InvalidIdentifier(
            f"{value!r} is not an OpenAlex author id; expected a form like A5017898742"
        )
    return text


def arxiv_doi(value: str) -> str | None:
    """The DataCite DOI arXiv registered for an arXiv id (any version); None if not an id.

    >>> arxiv_doi("arXiv:2202.01037v2")
    '10.48550/arxiv.2202.01037'
    """
    match = _ARXIV.match(_strip(value, _ARXIV_PREFIXES))
    if not match:
        return None
    return f"10.48550/arxiv.{match.group(1).lower()}"  # DOIs are stored lower case (doi.py)
