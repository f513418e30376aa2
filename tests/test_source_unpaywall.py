"""Unpaywall: one GET per DOI with the contact email; OA status and best copy, no count."""

from __future__ import annotations

import json

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import unpaywall
from tests.conftest import DEFAULT_DOI, real_files, real_json

REAL = "unpaywall/v2_doi_10.1016_j.xgen.2025.100814.json"


def test_parse_real_gold_record():
    record = real_json(REAL)
    parsed = unpaywall.parse_record(record)
    assert parsed.citations is None
    best = record["best_oa_location"]
    assert parsed.metadata == {
        "is_oa": True,
        "oa_status": "gold",
        "oa_url": "https://doi.org/10.1016/j.xgen.2025.100814",
        "oa_landing_url": best["url_for_landing_page"],
        "oa_license": "cc-by",
        "oa_version": "publishedVersion",
        "oa_host_type": "publisher",
    }
    assert "oa_pdf_url" not in parsed.metadata  # url_for_pdf is null in the recording
    assert parsed.metrics == {
        "oa_locations_count": 2,
        "has_repository_copy": True,
        "journal_is_oa": True,
    }


@pytest.mark.parametrize("path", real_files("unpaywall"), ids=lambda p: p.name)
def test_every_real_recording_parses(path):
    record = json.loads(path.read_text())
    parsed = unpaywall.parse_record(record)
    assert parsed.metadata["is_oa"] is record["is_oa"]
    assert parsed.metadata["oa_status"] == record["oa_status"]
    assert parsed.metrics["oa_locations_count"] == len(record["oa_locations"])


def test_closed_record_has_no_oa_location():
    record = dict(
        real_json(REAL),
        is_oa=False,
        oa_status="closed",
        best_oa_location=None,
        oa_locations=[],
        has_repository_copy=False,
    )
    parsed = unpaywall.parse_record(record)
    assert parsed.metadata == {"is_oa": False, "oa_status": "closed"}
    assert parsed.metrics["oa_locations_count"] == 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"is_oa": None}, "'is_oa' should be true/false"),
        ({"is_oa": "true"}, "'is_oa' should be true/false"),
        ({"oa_status": 3}, "'oa_status' should be a string"),
        ({"best_oa_location": "https://x"}, "'best_oa_location' should be an object"),
        ({"best_oa_location": {"url": 7}}, "'best_oa_location.url' should be a string"),
    ],
)
def test_changed_fields_are_errors_naming_them(change, message):
    with pytest.raises(MalformedResponse, match=message):
        unpaywall.parse_record(dict(real_json(REAL), **change))


def test_missing_is_oa_is_an_error():
    record = real_json(REAL)
    del record["is_oa"]
    with pytest.raises(MalformedResponse, match="'is_oa' is missing"):
        unpaywall.parse_record(record)


def test_fetch_default_article_is_closed(fake_api, make_session):
    [obs] = unpaywall.fetch(
        [Work(DEFAULT_DOI)], make_session(unpaywall, contact_email="me@example.org")
    )
    assert obs.outcome is Outcome.OK
    assert obs.citations is None
    assert obs.metadata == {"is_oa": False, "oa_status": "closed"}
    assert obs.metrics == {
        "oa_locations_count": 0,
        "has_repository_copy": False,
        "journal_is_oa": False,
    }
    [hit] = fake_api.hits("unpaywall")
    assert hit.path == f"/{DEFAULT_DOI}"
    assert hit.arg("email") == "me@example.org"


def test_fetch_reads_the_best_location_when_open(fake_api, make_session):
    location = real_json(REAL)["oa_locations"][1]  # the recorded PMC copy
    fake_api.records["unpaywall"][DEFAULT_DOI].update(
        is_oa=True,
        oa_status="green",
        has_repository_copy=True,
        best_oa_location=location,
        oa_locations=[location],
    )
    [obs] = unpaywall.fetch([Work(DEFAULT_DOI)], make_session(unpaywall))
    assert obs.metadata["oa_status"] == "green"
    assert obs.metadata["oa_url"] == "https://www.ncbi.nlm.nih.gov/pmc/articles/12008803"
    assert obs.metadata["oa_host_type"] == "repository"
    assert obs.metadata["oa_version"] == "submittedVersion"
    assert obs.metrics["oa_locations_count"] == 1


def test_unknown_doi_is_not_found(fake_api, make_session):
    works = [Work("10.9999/unknown"), Work(DEFAULT_DOI)]
    observations = unpaywall.fetch(works, make_session(unpaywall))
    assert [o.outcome for o in observations] == [Outcome.NOT_FOUND, Outcome.OK]
    assert observations[0].exchange.status_code == 404
    assert len(fake_api.hits("unpaywall")) == 2  # one request per work


def test_no_email_422_is_an_error_naming_the_fix(fake_api, make_session):
    [obs] = unpaywall.fetch([Work(DEFAULT_DOI)], make_session(unpaywall, contact_email=None))
    assert fake_api.hits("unpaywall")[0].arg("email") is None
    assert obs.outcome is Outcome.ERROR
    assert "HTTP 422" in obs.message and "[monitor] contact_email" in obs.message


def test_429_then_200_is_ok(fake_api, make_session):
    fake_api.inject("unpaywall", status=429, headers={"Retry-After": "0"})
    [obs] = unpaywall.fetch([Work(DEFAULT_DOI)], make_session(unpaywall))
    assert obs.outcome is Outcome.OK
    assert len(fake_api.hits("unpaywall")) == 2


def test_503_every_time_is_an_error(fake_api, make_session):
    fake_api.inject("unpaywall", status=503, body=b"Service Unavailable", times=None)
    [obs] = unpaywall.fetch([Work(DEFAULT_DOI)], make_session(unpaywall))
    assert obs.outcome is Outcome.ERROR and "HTTP 503" in obs.message
    assert obs.metadata == {}


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("unpaywall", malformed=True)
    [obs] = unpaywall.fetch([Work(DEFAULT_DOI)], make_session(unpaywall))
    assert obs.outcome is Outcome.ERROR and "not valid JSON" in obs.message


def test_spec():
    spec = unpaywall.SPEC
    assert spec.needs_contact and not spec.needs_key
    assert spec.counts_citations is False
    assert spec.requests_per_second == 5.0


def test_an_answer_about_another_doi_is_an_error(fake_api, make_session):
    fake_api.inject("unpaywall", rewrite=lambda record: {**record, "doi": "10.9999/other"})
    [obs] = unpaywall.fetch([Work(DEFAULT_DOI)], make_session(unpaywall))
    assert obs.outcome is Outcome.ERROR and obs.metadata == {}
    assert obs.message == f"answered for another work: 10.9999/other (asked for {DEFAULT_DOI})"
