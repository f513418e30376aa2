"""OpenCitations: the parser on every real count recording, and fetch through the fake.

The other real recordings (``docs_exemplar_index_v2_citation.json``, the legacy COCI v1
citation lists and metadata, the Meta API exemplar) are lists of citing works or
metadata: they belong to the citing-works ledger, a later issue.
"""

from __future__ import annotations

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import opencitations
from tests.conftest import DEFAULT_DOI, real_files, real_json

COUNT_FILES = [p.name for p in real_files("opencitations", "docs_exemplar_index_v2_*-count.json")]


def test_the_count_recordings_are_the_two_index_v2_exemplars():
    names = {p.name for p in real_files("opencitations")}
    if names:
        assert COUNT_FILES == [
            "docs_exemplar_index_v2_citation-count.json",
            "docs_exemplar_index_v2_reference-count.json",
        ]


def test_real_citation_count_exemplar():
    parsed = opencitations.parse_count(
        real_json("opencitations/docs_exemplar_index_v2_citation-count.json")
    )
    assert parsed is not None
    assert parsed.citations == 34  # recorded as the string "34"
    assert parsed.metrics == {} and parsed.metadata == {}


def test_real_reference_count_exemplar_has_the_same_shape():
    parsed = opencitations.parse_count(
        real_json("opencitations/docs_exemplar_index_v2_reference-count.json")
    )
    assert parsed is not None and parsed.citations == 35


def test_an_empty_list_says_nothing_so_it_is_not_found():
    assert opencitations.parse_count([]) is None


@pytest.mark.parametrize(
    "payload, error",
    [
        ({"count": "34"}, "expected a list of rows, got dict"),
        ([{}], "field '[0].count' is missing"),
        ([{"count": "about 30"}], "field '[0].count' should be a count"),
        ([{"count": None}], "field '[0].count' should be"),
        (["34"], "expected an object at '[0].'"),
    ],
)
def test_a_changed_shape_is_an_error_naming_the_field(payload, error):
    with pytest.raises(MalformedResponse, match=error.replace("[", r"\[").replace("(", r"\(")):
        opencitations.parse_count(payload)


def test_an_integer_count_is_accepted_too():
    assert opencitations.parse_count([{"count": 7}]).citations == 7


# --- fetch through the fake ---


def test_fetch_the_default_article(fake_api, make_session):
    [obs] = opencitations.fetch([Work(DEFAULT_DOI)], make_session(opencitations))
    assert obs.outcome is Outcome.OK and obs.citations == 33
    [hit] = fake_api.hits("opencitations")
    assert (hit.method, hit.path) == ("GET", f"/citation-count/doi:{DEFAULT_DOI}")
    assert "authorization" not in hit.headers


def test_the_access_token_goes_in_the_authorization_header(fake_api, make_session):
    [obs] = opencitations.fetch(
        [Work(DEFAULT_DOI)], make_session(opencitations, api_key="oc-token")
    )
    assert obs.outcome is Outcome.OK
    assert fake_api.hits("opencitations")[0].headers["authorization"] == "oc-token"
    assert "oc-token" not in obs.exchange.url


def test_an_unknown_doi_counts_zero_because_that_is_what_the_api_says(fake_api, make_session):
    [obs] = opencitations.fetch([Work("10.9999/does-not-exist")], make_session(opencitations))
    assert obs.outcome is Outcome.OK and obs.citations == 0


def test_one_request_per_work_in_order(fake_api, make_session):
    works = [Work("10.9999/a"), Work(DEFAULT_DOI), Work("10.9999/b")]
    observations = opencitations.fetch(works, make_session(opencitations))
    assert [o.citations for o in observations] == [0, 33, 0]
    assert [h.path for h in fake_api.hits("opencitations", "/citation-count/")] == [
        f"/citation-count/doi:{w.doi}" for w in works
    ]


def test_a_doi_with_reserved_characters_is_quoted_in_the_path(fake_api, make_session):
    doi = "10.1002/(sici)1097-4571(198909)40:5<342::aid-asi7>3.0.co;2-u"
    fake_api.records["opencitations"][doi] = [{"count": "12"}]
    [obs] = opencitations.fetch([Work(doi)], make_session(opencitations))
    assert obs.outcome is Outcome.OK and obs.citations == 12
    path = fake_api.hits("opencitations")[0].path
    assert "<" not in path and ";" not in path and "%3C342" in path


def test_an_empty_list_is_not_found(fake_api, make_session):
    fake_api.inject("opencitations", body=b"[]")
    [obs] = opencitations.fetch([Work(DEFAULT_DOI)], make_session(opencitations))
    assert obs.outcome is Outcome.NOT_FOUND and obs.citations is None


def test_429_then_200_is_ok(fake_api, make_session):
    fake_api.inject("opencitations", status=429, body=b"Too Many Requests")
    [obs] = opencitations.fetch([Work(DEFAULT_DOI)], make_session(opencitations))
    assert obs.outcome is Outcome.OK and obs.citations == 33
    assert len(fake_api.hits("opencitations")) == 2


def test_429_that_persists_is_rate_limited(fake_api, make_session):
    fake_api.inject("opencitations", status=429, headers={"Retry-After": "0"}, times=None)
    [obs] = opencitations.fetch([Work(DEFAULT_DOI)], make_session(opencitations))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.citations is None


def test_a_failing_work_does_not_stop_the_next(fake_api, make_session):
    fake_api.inject("opencitations", status=500, body=b"Internal Server Error", times=2)
    first, second = opencitations.fetch(
        [Work("10.9999/a"), Work(DEFAULT_DOI)], make_session(opencitations)
    )
    assert first.outcome is Outcome.ERROR and "HTTP 500" in first.message
    assert second.outcome is Outcome.OK and second.citations == 33


def test_a_404_is_an_error_not_a_zero(fake_api, make_session):
    fake_api.inject("opencitations", status=404, body=b"Not found")
    [obs] = opencitations.fetch([Work(DEFAULT_DOI)], make_session(opencitations))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert "HTTP 404 from" in obs.message and "Not found" in obs.message


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("opencitations", malformed=True)
    [obs] = opencitations.fetch([Work(DEFAULT_DOI)], make_session(opencitations))
    assert obs.outcome is Outcome.ERROR and "not valid JSON" in obs.message
