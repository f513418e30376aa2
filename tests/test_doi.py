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
    assert "/" not in doi_slug("10.1000/a/b<c>")
