"""Europe PMC: the parser on every real search response, and fetch through the fake.

The two LEGACY_*citations* recordings are citations lists (``/MED/{id}/citations``), not
search results: they belong to the citing-works reader and are not read here.
"""

from __future__ import annotations

import json

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import europepmc
from tests.conftest import DEFAULT_DOI, ROOT, real_files, real_json
from tests.fakeapi.routes import europepmc as fake_europepmc

SEARCH_FILES = real_files("europepmc", "search_*.json")
ABSTRACT = (ROOT / "tests/fakeapi/constructed/default_article_abstract.txt").read_text().strip()


def result(doi: str) -> dict:
    payload = real_json("europepmc/search_core_cancer_pageSize25.json")
    return next(r for r in payload["resultList"]["result"] if r.get("doi") == doi)


@pytest.mark.parametrize("path", SEARCH_FILES, ids=lambda p: p.name)
def test_parses_every_real_search_result(path):
    payload = json.loads(path.read_text())
    results = payload["resultList"]["result"]
    assert len(results) == min(payload["hitCount"], payload["request"]["pageSize"])
    for record in results:
        parsed = europepmc.parse_record(record)
        assert parsed.citations == record["citedByCount"]
        assert parsed.metadata["pmid"] == record["pmid"]
        assert parsed.metadata["europepmc_id"] == f"{record['source']}/{record['id']}"
        assert parsed.metadata["year"] == int(record["pubYear"])
        assert not parsed.metadata["title"].endswith(".")
        assert parsed.metadata["is_oa"] is (record["isOpenAccess"] == "Y")


def test_core_result_keywords_mesh_abstract_and_ids():
    meta = europepmc.parse_record(result("10.1002/hpja.70059")).metadata
    assert meta["keywords"] == [
        "Chinese",
        "Cancer Screening",
        "Culturally And Linguistically Diverse",
        "Community Partnership",
        "Health Promotion And Education",
    ]
    assert len(meta["mesh"]) == 15
    assert meta["mesh"][:2] == ["Humans", "Neoplasms"]
    assert meta["abstract"].startswith("Issue addressed Despite national cancer screening")
    assert "<h4>" not in meta["abstract"]
    assert meta["pmid"] == "40437959" and meta["pmcid"] == "PMC12120539"
    assert meta["is_oa"] is True and meta["oa_license"] == "cc by-nc-nd"
    assert meta["title"].startswith("Co-Designed Culturally Tailored Cancer Screening")
    assert meta["journal_abbreviation"] == "Health Promot J Austr"
    assert meta["journal"].startswith("Health promotion journal of Australia")
    assert (meta["volume"], meta["issue"], meta["article_number"]) == ("36", "3", "e70059")
    assert "pages" not in meta
    assert meta["published"] == "2025-07-01" and meta["published_print"] == "2025-07-01"
    assert meta["publication_types"] == ["research-article", "Journal Article"]
    assert [a["name"] for a in meta["authors"]] == ["Cannas Kwok", "Xinyi Xu"]
    assert meta["authors"][1]["orcid"] == "0000-0001-6913-0549"
    assert meta["authors"][1]["affiliations"] == [
        "School of Nursing, Nanjing Medical University, Nanjing, China."
    ]


def test_core_result_with_page_range_and_electronic_date():
    meta = europepmc.parse_record(result("10.1016/j.semradonc.2025.04.003")).metadata
    assert meta["pages"] == "463-473" and "article_number" not in meta
    citation = europepmc.parse_record(result("10.1093/nutrit/nuae105"))
    assert citation.citations == 3  # the one result of the page that has been cited
    online = europepmc.parse_record(result("10.1016/j.canep.2025.102866")).metadata
    assert online["published_online"] == "2025-06-16" == online["published"]


def test_lite_result_reads_the_flat_journal_fields_and_author_string():
    payload = real_json("europepmc/search_lite_cancer_pageSize5_cursor_star.json")
    first, erratum = (
        europepmc.parse_record(r).metadata for r in payload["resultList"]["result"][:2]
    )
    assert first["journal_abbreviation"] == "Lancet" and "journal" not in first
    assert first["issn"] == "0140-6736"
    assert (first["volume"], first["issue"], first["pages"]) == ("404", "10471", "2603-2604")
    assert [a["name"] for a in first["authors"]] == ["Schoenfeld JD", "Haas-Kogan DA", "O'Neill AF"]
    assert erratum["publication_types"] == ["published erratum", "correction"]
    assert erratum["pmcid"] == "PMC12124214"


def test_no_results_page_has_no_records():
    payload = real_json("europepmc/search_no_results.json")
    assert payload["hitCount"] == 0 and payload["resultList"]["result"] == []


def test_a_count_of_the_wrong_type_is_an_error_naming_the_field():
    record = result("10.1002/hpja.70059")
    record["citedByCount"] = "n/a"
    with pytest.raises(MalformedResponse, match="citedByCount"):
        europepmc.parse_record(record)


# --- through the fake ---


def test_fetch_reads_the_constructed_record(fake_api, make_session):
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.OK, obs.message
    assert obs.citations == 30
    meta = obs.metadata
    assert meta["pmid"] == "33930000" and "pmcid" not in meta
    assert meta["title"] == (
        "Emerging role of autophagy in anti-tumor immunity: Implications for the modulation "
        "of immunotherapy resistance"
    )
    assert [a["name"] for a in meta["authors"]] == [
        "Ting Jiang",
        "Xisha Chen",
        "Xingcong Ren",
        "Jin Ming Yang",
        "Yan Cheng",
    ]
    assert meta["keywords"] == [
        "Autophagy",
        "Immunotherapy",
        "Resistance",
        "Tumor immunity",
        "Tumor microenvironment (TME)",
    ]
    assert "Autophagy" in meta["mesh"]
    assert meta["abstract"] == ABSTRACT
    assert (meta["journal"], meta["volume"], meta["article_number"]) == (
        "Drug Resistance Updates",
        "56",
        "100752",
    )
    assert meta["published"] == "2021-05-01" and meta["year"] == 2021
    assert meta["is_oa"] is False
    [hit] = fake_api.hits("europepmc", "/search")
    assert hit.arg("query") == f'DOI:"{DEFAULT_DOI}"'
    assert (hit.arg("format"), hit.arg("resultType")) == ("json", "core")


def test_fetch_batches_25_dois_per_request(fake_api, make_session):
    works = (
        [Work(f"10.9999/x.{i}") for i in range(12)]
        + [Work(DEFAULT_DOI)]
        + [Work(f"10.9999/y.{i}") for i in range(17)]
    )
    observations = europepmc.fetch(works, make_session(europepmc))
    hits = fake_api.hits("europepmc", "/search")
    assert len(hits) == 2
    assert hits[0].arg("query").count(" OR ") == 24 and hits[1].arg("query").count(" OR ") == 4
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert observations[12].outcome is Outcome.OK and observations[12].citations == 30
    assert {o.outcome for o in observations[:12] + observations[13:]} == {Outcome.NOT_FOUND}


def test_a_changed_count_is_read(fake_api, make_session):
    fake_europepmc.set_count(fake_api, DEFAULT_DOI, 33)
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.citations == 33


def test_error_inside_http_200_is_an_error_with_its_message(fake_api, make_session):
    body = json.dumps({"errCode": 500, "errMsg": "Query syntax error near DOI"}).encode()
    fake_api.inject("europepmc", body=body)
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.ERROR
    assert obs.message == "Europe PMC error 500: Query syntax error near DOI"
    assert obs.citations is None


def test_maintenance_503_is_an_error_after_retries(fake_api, make_session):
    fake_api.inject(
        "europepmc",
        status=503,
        body=b"Service Unavailable",
        times=2,
        headers={"Content-Type": "text/plain"},
    )
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.ERROR and "HTTP 503" in obs.message
    assert len(fake_api.hits("europepmc")) == 2


def test_429_is_rate_limited_and_a_retry_can_succeed(fake_api, make_session):
    fake_api.inject("europepmc", status=429, times=2)
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.RATE_LIMITED
    fake_api.inject("europepmc", status=429, headers={"Retry-After": "0"})
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.OK and obs.citations == 30


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("europepmc", malformed=True)
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.ERROR and "not valid JSON" in obs.message


def test_an_envelope_without_result_list_is_an_error_naming_it(fake_api, make_session):
    fake_api.inject("europepmc", body=b'{"version": "6.9", "hitCount": 1}')
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.ERROR and "'resultList' is missing" in obs.message
