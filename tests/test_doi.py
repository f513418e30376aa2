import random
import re

import pytest

from monitor.doi import InvalidDOI, doi_slug, normalize_doi


@pytest.mark.parametrize(
    "value",
    [
        "10.1016/j.drup.2021.100752",
        "10.1016/J.DRUP.2021.100752",
        "doi:10.1016/j.drup.2021.100752",
        "DOI:10.1016/j.drup.2021.100752",
        "https://doi.org/10.1016/j.drup.2021.100752",
        "http://dx.doi.org/10.1016/j.drup.2021.100752",
        "  https://doi.org/10.1016%2Fj.drup.2021.100752 ",
    ],
)
def test_accepted_forms_become_one_canonical_doi(value):
    assert normalize_doi(value) == "10.1016/j.drup.2021.100752"


@pytest.mark.parametrize("value", ["", "10.1016", "j.drup.2021.100752", "10.12/x", "https://example.org/10.1016/x"])
def test_malformed_dois_are_refused_with_an_example(value):
    with pytest.raises(InvalidDOI, match="expected a form like 10.1016/j.drup.2021.100752"):
        normalize_doi(value)


def test_slug_is_file_name_safe():
    assert doi_slug("10.1016/j.drup.2021.100752") == "10.1016-j.drup.2021.100752"
    assert doi_slug("10.1038/s41586-020-2649-2") == "10.1038-s41586-020-2649-2"  # '-' stays
    for doi in ("10.1000/a/b<c>", "10.1000/../../etc", "10.1000/é ü", "10.1000/a\\b:c*?"):
        slug = doi_slug(doi)
        assert re.fullmatch(r"[a-z0-9._~-]+", slug), slug
        assert slug not in (".", "..")


def test_four_dois_that_once_shared_a_page_name_get_four():
    dois = ["10.1000/a-b", "10.1000/a/b", "10.1000/a_b", "10.1000/a--b", "10.1000/a<b", "10.1000/a b"]
    assert len({doi_slug(d) for d in dois}) == len(dois)


def unslug(slug: str) -> str:
    """The inverse the docstring promises: a page name read back into its DOI."""
    prefix, _, suffix = slug.partition("-")
    raw = bytearray()
    i = 0
    while i < len(suffix):
        if suffix[i] == "_":
            raw.append(int(suffix[i + 1 : i + 3], 16))
            i += 3
        else:
            raw += suffix[i].encode()
            i += 1
    return f"{prefix}/{raw.decode()}"


def test_every_page_name_reads_back_into_its_doi():
    """Injective: random DOIs over the characters that collide most, each decoded back."""
    rng = random.Random()
    alphabet = "ab-_/.<>;:()é ~%"
    dois = {f"10.{rng.randint(1000, 99999)}/" + "".join(rng.choices(alphabet, k=rng.randint(1, 12)))
            for _ in range(2000)}
    slugs = {doi_slug(d): d for d in dois}
    assert len(slugs) == len(dois)
    for slug, doi in slugs.items():
        assert unslug(slug) == doi


def test_a_very_long_doi_gets_a_short_name_still_its_own():
    long_a, long_b = "10.1000/" + "x" * 300, "10.1000/" + "x" * 299 + "y"
    assert len(doi_slug(long_a)) <= 160 and doi_slug(long_a) != doi_slug(long_b)
    assert "~" not in doi_slug("10.1000/" + "x" * 150)  # '~' marks the hashed form only


def test_a_control_character_is_not_part_of_a_doi():
    with pytest.raises(InvalidDOI):
        normalize_doi("10.1000/a\x07b")
