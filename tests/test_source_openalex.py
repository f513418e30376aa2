"""OpenAlex: the parser on every real recorded response, and fetch through the fake."""

from __future__ import annotations

import json

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import openalex
from tests.conftest import DEFAULT_DOI, real_files, real_json, real_path

WORK_FILES = [p for p in real_files("openalex") if p.name.startswith("work_") and "select" not in p.name]


@pytest.mark.parametrize("path", WORK_FILES, ids=lambda p: p.name)
def test_parses_every_real_work_record(path):
    record = json.loads(path.read_text())
    parsed = openalex.parse_work(record)
    assert parsed.citations == record["cited_by_count"]
    assert parsed.metrics["fwci"] == record["fwci"]
    assert parsed.metrics["citation_percentile"] == record["citation_normalized_percentile"]["value"]
    assert parsed.metrics["counts_by_year"] == {
        str(row["year"]): row["cited_by_count"] for row in record["counts_by_year"]
    }
    meta = parsed.metadata
    assert meta["title"] == record["title"]
    assert [a["name"] for a in meta["authors"]] == [
        a["author"]["display_name"] for a in record["authorships"]
    ]
    assert meta["openalex_id"] == record["id"].rsplit("/", 1)[1]
    assert meta["topics"][0]["name"] == record["topics"][0]["display_name"]
    assert meta["topics"][0]["field"] == record["topics"][0]["field"]["display_name"]
    assert meta["is_retracted"] is record["is_retracted"]


def test_state_of_oa_record_values():
    parsed = openalex.parse_work(real_json("openalex/work_W2741809807_state_of_oa_full.json"))
    assert parsed.citations == 962
    assert parsed.metadata["oa_status"] is not None
    assert parsed.metadata["abstract"].split()[0]  # rebuilt from the inverted index


def test_recent_record_carries_pmid_and_orcid():
    parsed = openalex.parse_work(real_json("openalex/work_by_doi_10.1016_j.xgen.2025.100814.json"))
    assert parsed.metadata["pmid"] == "40120586"
    assert parsed.metadata["authors"][0]["orcid"] == "0000-0002-5390-2695"
    assert parsed.metadata["article_number"] == "100814"
    assert parsed.metadata["journal"] == "Cell Genomics"


def test_select_response_without_count_is_an_error_naming_the_field():
    record = real_json("openalex/work_by_doi_select_open_access_doi.json")
    with pytest.raises(MalformedResponse, match="'cited_by_count' is missing"):
        openalex.parse_work(record)


def test_list_envelope_is_read():
    payload = real_json("openalex/works_list_filter_title_search_count2.json")
    results = payload["results"]
    assert len(results) == payload["meta"]["count"] == 2
    for record in results:
        assert openalex.parse_work(record).citations == record["cited_by_count"]


def test_a_count_of_the_wrong_type_is_an_error():
    record = real_json("openalex/work_by_doi_10.1016_j.xgen.2025.100814.json")
    record["cited_by_count"] = "many"
    with pytest.raises(MalformedResponse, match="cited_by_count"):
        openalex.parse_work(record)


def test_abstract_from_inverted_index():
    assert openalex.abstract_from_index({"world": [1], "hello": [0, 2]}) == "hello world hello"


def test_fetch_batches_100_dois_per_request(fake_api, make_session):
    works = [Work(DEFAULT_DOI)] + [Work(f"10.9999/x.{i}") for i in range(149)]
    observations = openalex.fetch(works, make_session(openalex))
    assert len(fake_api.hits("openalex", "/works")) == 2
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert observations[0].outcome is Outcome.OK and observations[0].citations == 41
    assert {o.outcome for o in observations[1:]} == {Outcome.NOT_FOUND}


def test_real_404_html_body_on_list_is_an_error(fake_api, make_session):
    body = real_path("openalex/error_404_not_found_html.txt").read_bytes()
    fake_api.inject("openalex", status=404, body=body, headers={"Content-Type": "text/html"})
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex))
    assert obs.outcome is Outcome.ERROR and "HTTP 404" in obs.message


def test_403_with_a_key_says_the_key_was_refused(fake_api, make_session):
    fake_api.inject("openalex", status=403, body=b'{"error": "Invalid API key"}')
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex, api_key="bad"))
    assert obs.outcome is Outcome.ERROR
    assert "refused the API key" in obs.message


def test_403_rate_limit_is_rate_limited(fake_api, make_session):
    fake_api.inject("openalex", status=403, body=b'{"error": "Rate limit exceeded; slow down"}')
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex, api_key="k"))
    assert obs.outcome is Outcome.RATE_LIMITED
