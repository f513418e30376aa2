"""ORCID iDs, ROR ids, OpenAlex author ids and arXiv ids: every accepted form, one canonical."""

from __future__ import annotations

import pytest

from monitor.identifiers import (
    InvalidIdentifier,
    arxiv_doi,
    normalize_openalex_author,
    normalize_orcid,
    normalize_ror,
    orcid_check_digit,
)


def test_the_orcid_check_digit_by_hand():
    # 0000-0002-1825-009?: total = (total + d) * 2 over the 15 digits gives 1314;
    # 1314 mod 11 = 5; (12 - 5) mod 11 = 7
    assert orcid_check_digit("000000021825009") == "7"
    # 0000-0002-9079-593?: the result is 10, written X (ORCID's own example)
    assert orcid_check_digit("000000029079593") == "X"


@pytest.mark.parametrize(
    "value",
    ["0000-0002-1825-0097", "https://orcid.org/0000-0002-1825-0097", "http://orcid.org/0000-0002-1825-0097/",
     "orcid.org/0000000218250097", " 0000-0002-1825-0097 "],
)
def test_orcid_forms(value):
    assert normalize_orcid(value) == "0000-0002-1825-0097"


@pytest.mark.parametrize(
    "value, message",
    [
        ("0000-0002-1825-0098", "its check digit is 8, the other 15 digits give 7"),
        ("0000-0002-1825", "expected 16 characters like 0000-0002-1825-0097"),
        ("https://orcid.org/jiang", "is not an ORCID iD"),
    ],
)
def test_bad_orcids(value, message):
    with pytest.raises(InvalidIdentifier, match=message):
        normalize_orcid(value)


def test_ror_forms_and_check_digits():
    # Stanford's ROR id (OpenAlex's quickstart); 0f54p0 is 15897280 in Crockford base 32,
    # 98 - (1589728000 mod 97) = 98 - 44 = 54
    assert normalize_ror("https://ror.org/00f54p054") == "00f54p054"
    assert normalize_ror("02NR0KA47") == "02nr0ka47"
    with pytest.raises(InvalidIdentifier, match="its check digits do not match"):
        normalize_ror("00f54p055")
    with pytest.raises(InvalidIdentifier, match="expected a form like https://ror.org/02nr0ka47"):
        normalize_ror("https://ror.org/stanford")


def test_openalex_author_forms():
    assert normalize_openalex_author("https://openalex.org/A5017898742") == "A5017898742"
    assert normalize_openalex_author("a5017898742") == "A5017898742"
    with pytest.raises(InvalidIdentifier, match="not an OpenAlex author id"):
        normalize_openalex_author("W2741809807")


@pytest.mark.parametrize(
    "value, doi",
    [
        ("arXiv:2202.01037", "10.48550/arxiv.2202.01037"),  # arXiv's own example
        ("2202.01037v3", "10.48550/arxiv.2202.01037"),  # one DOI for every version
        ("https://arxiv.org/abs/hep-th/9901001v1", "10.48550/arxiv.hep-th/9901001"),
        ("10.1016/j.drup.2021.100752", None),
        ("not an id", None),
    ],
)
def test_arxiv_ids_become_their_datacite_doi(value, doi):
    assert arxiv_doi(value) == doi
