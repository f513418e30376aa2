"""Dimensions Metrics API: one GET per DOI, times_cited as the count, ratios as metrics.

No recorded response of this API is in ../shared/fixtures/real: the parser tests
use the documented shape (a public write-up's sample and a client's cassette, see
tests/fakeapi/constructed/dimensions/README.md), the fetch tests the fake.
"""

from __future__ import annotations

import json

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import dimensions
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import dimensions as fake_dimensions

# The documented answer for a recent work (times_cited 0, ratios null, highly_cited flags).
RECENT = {
    "doi": "10.1103/physrevmaterials.2.073804",
    "times_cited": 0,
    "recent_citations": 0,
    "highly_cited_1": False,
    "highly_cited_5": False,
    "highly_cited_10": False,
    "relative_citation_ratio": None,
    "field_citation_ratio": None,
    "license": "This data has been sourced via the Dimensions Metrics API ...",
}


def test_parse_reads_count_and_ratios():
    record = {
        "doi": "10.1371/journal.pbio.1002195",
        "times_cited": 1285,
        "recent_citations": 161,
        "relative_citation_ratio": 15.96,
        "field_citation_ratio": 116.66,
        "license": "terms",
    }
    parsed = dimensions.parse_metrics(record)
    assert parsed.citations == 1285
    assert parsed.metrics == {
        "recent_citations": 161,
        "field_citation_ratio": 116.66,
        "relative_citation_ratio": 15.96,
    }
    assert parsed.metadata == {}


def test_null_ratios_are_left_out_never_zero():
    parsed = dimensions.parse_metrics(RECENT)
    assert parsed.citations == 0  # a genuine zero: the field is there
    assert "field_citation_ratio" not in parsed.metrics
    assert "relative_citation_ratio" not in parsed.metrics
    assert parsed.metrics == {
        "recent_citations": 0,
        "highly_cited_1": False,
        "highly_cited_5": False,
        "highly_cited_10": False,
    }


def test_missing_times_cited_is_an_error_naming_it():
    record = {k: v for k, v in RECENT.items() if k != "times_cited"}
    with pytest.raises(MalformedResponse, match="'times_cited' is missing"):
        dimensions.parse_metrics(record)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("times_cited", "many", "'times_cited' should be a count"),
        ("recent_citations", 1.5, "'recent_citations' should be"),
        ("field_citation_ratio", "4.1", "'field_citation_ratio' should be a number"),
    ],
)
def test_wrong_types_are_errors_naming_the_field(field, value, message):
    with pytest.raises(MalformedResponse, match=message):
        dimensions.parse_metrics(dict(RECENT, **{field: value}))


def test_fetch_ok_from_the_fake(fake_api, make_session):
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.OK
    assert obs.citations == 36
    assert obs.metrics == {
        "recent_citations": 12,
        "field_citation_ratio": 4.1,
        "relative_citation_ratio": 1.3,
        "highly_cited_1": False,
        "highly_cited_5": False,
        "highly_cited_10": False,
    }
    [hit] = fake_api.hits("dimensions")
    assert hit.path == f"/doi/{DEFAULT_DOI}"
    assert obs.exchange is not None and obs.exchange.url.endswith(f"/doi/{DEFAULT_DOI}")


def test_one_request_per_work_in_order(fake_api, make_session):
    works = [Work("10.9999/unknown.1"), Work(DEFAULT_DOI)]
    observations = dimensions.fetch(works, make_session(dimensions))
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert [o.outcome for o in observations] == [Outcome.NOT_FOUND, Outcome.OK]
    assert [h.path for h in fake_api.hits("dimensions")] == [f"/doi/{w.doi}" for w in works]


def test_unknown_doi_404_is_not_found_without_a_count(make_session):
    [obs] = dimensions.fetch([Work("10.9999/does-not-exist")], make_session(dimensions))
    assert obs.outcome is Outcome.NOT_FOUND
    assert obs.citations is None and obs.metrics == {}
    assert obs.exchange is not None and obs.exchange.status_code == 404


def test_a_doi_with_url_special_characters_stays_in_the_path(fake_api, make_session):
    """``;`` would end the path at servers that take it for a path parameter (the fake does)."""
    doi = "10.1002/(sici)1097-0258;2-#x"
    fake_api.records["dimensions"][doi] = dict(RECENT, doi=doi, times_cited=5)
    [obs] = dimensions.fetch([Work(doi)], make_session(dimensions))
    assert obs.outcome is Outcome.OK and obs.citations == 5
    assert fake_api.hits("dimensions")[0].path == "/doi/10.1002/%28sici%291097-0258%3B2-%23x"


def test_changed_count_is_seen(fake_api, make_session):
    fake_dimensions.set_count(fake_api, DEFAULT_DOI, 40)
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.citations == 40


def test_429_then_200_is_ok(fake_api, make_session):
    fake_api.inject("dimensions", status=429, headers={"Retry-After": "0"})
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.OK and obs.citations == 36
    assert len(fake_api.hits("dimensions")) == 2


def test_429_every_time_is_rate_limited_without_a_count(fake_api, make_session):
    fake_api.inject("dimensions", status=429, headers={"Retry-After": "0"}, times=None)
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.citations is None
    assert "HTTP 429" in obs.message


def test_a_hanging_host_is_given_up_after_one_work_not_waited_out_for_each(
    fake_api, make_session
):
    fake_api.inject("dimensions", delay=0.5, times=None)
    works = [Work(DEFAULT_DOI), Work("10.9999/a"), Work("10.9999/b")]
    session = make_session(dimensions, timeout_seconds=0.2)
    observations = dimensions.fetch(works, session)
    assert [o.outcome for o in observations] == [Outcome.ERROR] * 3
    assert observations[0].message.startswith("timed out after 0.2s waiting for")
    assert all(o.message.endswith("not asked again this run") for o in observations[1:])
    assert len(fake_api.hits("dimensions")) == 2  # the first work's attempts only


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("dimensions", malformed=True)
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert "not valid JSON" in obs.message


def test_changed_schema_is_an_error_naming_the_field(fake_api, make_session):
    record = dict(fake_api.records["dimensions"][DEFAULT_DOI])
    record["citations"] = record.pop("times_cited")
    fake_api.inject("dimensions", body=json.dumps(record).encode())
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.ERROR
    assert "'times_cited' is missing" in obs.message


def test_unexpected_status_is_an_error_quoting_the_body(fake_api, make_session):
    fake_api.inject("dimensions", status=403, body=b"Forbidden: unregistered organization")
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.ERROR
    assert "HTTP 403" in obs.message and "unregistered organization" in obs.message


def test_spec():
    assert dimensions.SPEC.name == "dimensions"
    assert dimensions.SPEC.requests_per_second == 1.0
    assert not dimensions.SPEC.needs_key and dimensions.SPEC.enabled_by_default
    assert dimensions.SPEC.counts_citations


def test_an_answer_about_another_doi_is_an_error_never_its_count(fake_api, make_session):
    """The issue's case: Dimensions' DOI was never checked (3 of 3 counts wrong, 5 false alerts)."""
    fake_api.inject("dimensions", rewrite=lambda record: {**record, "doi": "10.9999/other"})
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.ERROR and obs.citations is None and obs.metrics == {}
    assert obs.message == f"answered for another work: 10.9999/other (asked for {DEFAULT_DOI})"


def test_an_answer_naming_no_doi_is_an_error_naming_the_field(fake_api, make_session):
    fake_api.inject("dimensions", rewrite=lambda record: {k: v for k, v in record.items() if k != "doi"})
    [obs] = dimensions.fetch([Work(DEFAULT_DOI)], make_session(dimensions))
    assert obs.outcome is Outcome.ERROR and "field 'doi' is missing" in obs.message
