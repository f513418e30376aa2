"""Semantic Scholar: the parser on every real paper record and batch, and fetch through the fake.

The real recordings of citation and reference pages (``citations_page_*``,
``references_page_*``, ``citation_item_*``) are not read here: they belong to the
citing-works ledger, a later issue.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Exchange, Outcome, Work
from monitor.sources import semanticscholar
from tests.conftest import DEFAULT_DOI, real_files, real_json, real_path
from tests.fakeapi.routes import semanticscholar as fake_s2

PAPER_FILES = [p for p in real_files("semanticscholar") if p.name.startswith("paper_")]
LEDGER_FILES = ("citations_page_", "references_page_", "citation_item_")
# The ids sent for batch_papers_with_null_full_fields.json (PROVENANCE.md).
BATCH_IDS = [
    "CorpusId:211530585",
    "CorpusId:470667",
    "10.2139/ssrn.2250500",
    "0f40b1f08821e22e859c6050916cec3667778613",
]
TOO_MANY_REQUESTS = json.dumps(fake_s2.TOO_MANY_REQUESTS).encode()  # no Retry-After with it


def exchange(status: int, body: bytes) -> Exchange:
    return Exchange(
        "semanticscholar",
        "POST",
        "https://api.semanticscholar.org/graph/v1/paper/batch",
        status,
        {},
        body,
        datetime.now(UTC),
        1,
    )


# --- the parser on real recordings ---


def test_every_real_recording_is_read_here_or_left_to_the_ledger():
    names = {p.name for p in real_files("semanticscholar")}
    read = {p.name for p in PAPER_FILES} | {n for n in names if n.startswith(("batch_", "error_"))}
    assert names - read == {n for n in names if n.startswith(LEDGER_FILES)}


@pytest.mark.parametrize("path", PAPER_FILES, ids=lambda p: p.name)
def test_every_real_paper_record_is_parsed(path):
    record = json.loads(path.read_text())
    if "citationCount" not in record:  # asked with fields=title: no count is an error, never 0
        with pytest.raises(MalformedResponse, match="'citationCount' is missing"):
            semanticscholar.parse_paper(record)
        return
    parsed = semanticscholar.parse_paper(record)
    assert parsed.citations == record["citationCount"]
    assert parsed.metrics["influential_citations"] == record["influentialCitationCount"]
    meta = parsed.metadata
    assert meta["title"] == record["title"]
    assert meta["s2_id"] == record["paperId"]
    assert [a["name"] for a in meta["authors"]] == [a["name"] for a in record["authors"]]
    assert meta["journal"] == record["journal"]["name"]
    assert meta["published"] == record["publicationDate"] and meta["year"] == record["year"]


def test_record_recorded_2026_values():
    parsed = semanticscholar.parse_paper(
        real_json("semanticscholar/paper_by_doi_fields_2026-02_10.1021_acs.jctc.2c01235.json")
    )
    assert parsed.citations == 63
    assert parsed.metrics == {"influential_citations": 3}  # referenceCount was not asked for
    meta = parsed.metadata
    assert meta["pmid"] == "36972469"
    assert meta["pmcid"] == "PMC10134429"
    assert meta["corpus_id"] == "257786462"
    assert meta["volume"] == "19"
    assert meta["pages"] == "2149-2160"  # recorded as "2149 - 2160"
    assert "article_number" not in meta
    assert meta["is_oa"] is True
    assert meta["oa_status"] == "hybrid"
    assert meta["oa_url"] == "https://doi.org/10.1021/acs.jctc.2c01235"
    assert meta["oa_license"] == "CCBY"
    assert meta["publication_types"] == ["Review", "JournalArticle"]
    assert meta["authors"][0] == {"name": "G. Wellawatte", "s2_id": "1805407482"}


def test_full_record_has_tldr_fields_of_study_and_reference_count():
    parsed = semanticscholar.parse_paper(
        real_json("semanticscholar/paper_full_all_fields_turing1950.json")
    )
    assert parsed.citations == 10059
    assert parsed.metrics == {"influential_citations": 530, "references_count": 14}
    meta = parsed.metadata
    assert meta["tldr"].startswith("If the meaning of the words")
    assert meta["fields_of_study"] == ["Computer Science", "Sociology"]
    assert meta["journal"] == "Mind" and meta["volume"] == "LIX" and meta["pages"] == "433-460"
    assert meta["is_oa"] is False
    assert "oa_url" not in meta and "pmid" not in meta
    assert meta["corpus_id"] == "14636783"
    assert meta["abstract"].startswith("I propose to consider the question")


def test_a_record_without_citationCount_is_an_error_naming_the_field():
    record = real_json("semanticscholar/paper_by_doi_title_only.json")
    assert record["title"] == "Computing Machinery and Intelligence"
    with pytest.raises(MalformedResponse, match="'citationCount' is missing"):
        semanticscholar.parse_paper(record)


def test_real_batch_is_matched_by_position_and_null_is_left_out():
    payload = real_json("semanticscholar/batch_papers_with_null_full_fields.json")
    pairs = semanticscholar.aligned(payload, BATCH_IDS)
    assert [key for key, _ in pairs] == BATCH_IDS[1:]  # the first id answered null
    # CorpusId:470667 answered a paper whose DOI is 10.2139/ssrn.288970: position decides
    assert pairs[0][1]["externalIds"]["DOI"] == "10.2139/ssrn.288970"
    parsed = [semanticscholar.parse_paper(record) for _, record in pairs]
    assert [p.citations for p in parsed] == [10670, 2185, 0]
    assert [p.metrics["influential_citations"] for p in parsed] == [578, 245, 0]
    assert [p.metrics["references_count"] for p in parsed] == [30, 67, 2]
    first, second, third = (p.metadata for p in parsed)
    assert first["fields_of_study"] == ["Psychology", "Economics", "Mathematics"]
    assert (
        first["oa_status"] == "green"
        and first["oa_url"] == "http://papers.nber.org/papers/w8841.pdf"
    )
    assert first["journal"] == "Experimental & Empirical Studies eJournal"
    assert "publication_types" not in second  # null in the record
    # fieldsOfStudy null: the s2-fos-model categories still say something
    assert third["fields_of_study"] == ["Environmental Science", "Business", "Economics"]
    assert "journal" not in third and "published" not in third  # journal null, venue ""
    assert third["year"] == 2023


def test_real_batch_of_authors_only_is_an_error_per_record():
    payload = real_json("semanticscholar/batch_papers_authors.json")
    pairs = semanticscholar.aligned(payload, ["a", "b", "c"])
    assert len(pairs) == 3
    for _, record in pairs:
        with pytest.raises(MalformedResponse, match="'citationCount' is missing"):
            semanticscholar.parse_paper(record)
    names = [a["name"] for a in semanticscholar.parse_metadata(pairs[1][1])["authors"]]
    assert names == ["E. Duflo", "A. Banerjee", "R. Glennerster", "Cynthia Kinnan"]


def test_a_batch_answer_of_the_wrong_length_is_malformed():
    payload = real_json("semanticscholar/batch_papers_with_null_full_fields.json")
    with pytest.raises(MalformedResponse, match="4 entries for 3 ids"):
        semanticscholar.aligned(payload, BATCH_IDS[:3])
    with pytest.raises(MalformedResponse, match="expected a list"):
        semanticscholar.aligned({"data": payload}, BATCH_IDS)


def test_real_404_body_is_read_as_the_api_error_text():
    body = real_path("semanticscholar/error_404_paper_not_found.json").read_bytes()
    assert semanticscholar.error_text(exchange(404, body)) == "Paper with id 0 not found"
    assert semanticscholar.error_text(exchange(502, b"<html>Bad Gateway</html>")) is None


def test_a_count_of_the_wrong_type_is_an_error():
    record = real_json("semanticscholar/paper_by_doi_fields_2026-02_10.1021_acs.jctc.2c01235.json")
    record["influentialCitationCount"] = "3"
    with pytest.raises(MalformedResponse, match="influentialCitationCount"):
        semanticscholar.parse_paper(record)


# --- fetch through the fake ---


def test_fetch_the_default_article(fake_api, make_session):
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.OK
    assert obs.citations == 38
    assert obs.metrics == {"influential_citations": 2, "references_count": 182}
    meta = obs.metadata
    assert meta["title"].startswith("Emerging role of autophagy in anti-tumor immunity")
    assert [a["name"] for a in meta["authors"]] == [
        "Ting Jiang",
        "Xisha Chen",
        "Xingcong Ren",
        "Jin Ming Yang",
        "Yan Cheng",
    ]
    assert meta["journal"] == "Drug Resistance Updates"
    assert meta["volume"] == "56" and meta["article_number"] == "100752" and "pages" not in meta
    assert meta["published"] == "2021-05-01" and meta["year"] == 2021
    assert meta["pmid"] == "33930000"
    assert meta["fields_of_study"] == ["Medicine", "Biology"]
    assert meta["tldr"].startswith("This review discusses how autophagy")
    assert meta["is_oa"] is False and "oa_url" not in meta
    assert meta["abstract"].startswith("Immunotherapies such as CAR-T cell transfer")
    [hit] = fake_api.hits("semanticscholar")
    assert (hit.method, hit.path) == ("POST", "/paper/batch")
    assert hit.json() == {"ids": [f"DOI:{DEFAULT_DOI}"]}
    assert hit.arg("fields") == semanticscholar.FIELDS
    assert "x-api-key" not in hit.headers


def test_the_key_goes_in_a_header_not_the_url(fake_api, make_session):
    [obs] = semanticscholar.fetch(
        [Work(DEFAULT_DOI)], make_session(semanticscholar, api_key="s2-secret")
    )
    assert obs.outcome is Outcome.OK
    assert fake_api.hits("semanticscholar")[0].headers["x-api-key"] == "s2-secret"
    assert "s2-secret" not in obs.exchange.url


def test_unknown_doi_is_not_found(fake_api, make_session):
    [obs] = semanticscholar.fetch([Work("10.9999/does-not-exist")], make_session(semanticscholar))
    assert obs.outcome is Outcome.NOT_FOUND and obs.citations is None


def test_records_are_matched_by_position_not_by_their_doi(fake_api, make_session):
    # S2 may hold the article under another spelling or an alias DOI
    fake_api.records["semanticscholar"][DEFAULT_DOI]["externalIds"]["DOI"] = (
        "10.1016/S1368-7646(21)00015-7"
    )
    works = [Work("10.9999/a"), Work(DEFAULT_DOI), Work("10.9999/b")]
    observations = semanticscholar.fetch(works, make_session(semanticscholar))
    assert [o.outcome for o in observations] == [Outcome.NOT_FOUND, Outcome.OK, Outcome.NOT_FOUND]
    assert observations[1].citations == 38


def test_fetch_batches_500_ids_per_request(fake_api, make_session):
    works = [Work(DEFAULT_DOI)] + [Work(f"10.9999/x.{i}") for i in range(1199)]
    observations = semanticscholar.fetch(works, make_session(semanticscholar))
    hits = fake_api.hits("semanticscholar", "/paper/batch")
    assert [len(h.json()["ids"]) for h in hits] == [500, 500, 200]
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert observations[0].outcome is Outcome.OK and observations[0].citations == 38
    assert {o.outcome for o in observations[1:]} == {Outcome.NOT_FOUND}


def test_a_changed_record_is_an_error_for_its_own_work_only(fake_api, make_session):
    other = copy.deepcopy(fake_api.records["semanticscholar"][DEFAULT_DOI])
    fake_api.records["semanticscholar"]["10.9999/other"] = other
    del fake_api.records["semanticscholar"][DEFAULT_DOI]["citationCount"]
    broken, fine = semanticscholar.fetch(
        [Work(DEFAULT_DOI), Work("10.9999/other")], make_session(semanticscholar)
    )
    assert broken.outcome is Outcome.ERROR and broken.citations is None
    assert "'citationCount' is missing" in broken.message
    assert fine.outcome is Outcome.OK and fine.citations == 38


def test_429_without_retry_after_is_retried_with_backoff(fake_api, make_session):
    fake_api.inject("semanticscholar", status=429, body=TOO_MANY_REQUESTS)
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.OK and obs.citations == 38
    assert len(fake_api.hits("semanticscholar")) == 2


def test_429_that_persists_is_rate_limited_and_says_where_to_get_a_key(fake_api, make_session):
    fake_api.inject("semanticscholar", status=429, body=TOO_MANY_REQUESTS, times=None)
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.citations is None
    assert "HTTP 429" in obs.message
    assert "https://www.semanticscholar.org/product/api#api-key-form" in obs.message
    assert len(fake_api.hits("semanticscholar")) == 2  # max_retries = 1


def test_429_with_a_key_does_not_advise_a_key(fake_api, make_session):
    fake_api.inject("semanticscholar", status=429, body=TOO_MANY_REQUESTS, times=None)
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar, api_key="k"))
    assert obs.outcome is Outcome.RATE_LIMITED
    assert "api-key-form" not in obs.message


def test_403_with_a_key_says_the_key_was_refused(fake_api, make_session):
    fake_api.inject("semanticscholar", status=403, body=b'{"message":"Forbidden"}')
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar, api_key="bad"))
    assert obs.outcome is Outcome.ERROR
    assert "refused the API key in $SEMANTIC_SCHOLAR_API_KEY" in obs.message


def test_403_without_a_key_quotes_the_api(fake_api, make_session):
    fake_api.inject("semanticscholar", status=403, body=b'{"message":"Forbidden"}')
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.ERROR
    assert obs.message == "HTTP 403 from Semantic Scholar: Forbidden"


def test_real_404_body_on_the_batch_endpoint_is_an_error_quoting_it(fake_api, make_session):
    body = real_path("semanticscholar/error_404_paper_not_found.json").read_bytes()
    fake_api.inject("semanticscholar", status=404, body=body)
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.ERROR
    assert obs.message == "HTTP 404 from Semantic Scholar: Paper with id 0 not found"


def test_400_error_body_is_quoted(fake_api, make_session):
    fake_api.inject(
        "semanticscholar", status=400, body=b'{"error": "Response would exceed maximum size"}'
    )
    observations = semanticscholar.fetch(
        [Work(DEFAULT_DOI), Work("10.9999/a")], make_session(semanticscholar)
    )
    assert {o.outcome for o in observations} == {Outcome.ERROR}
    assert (
        "HTTP 400 from Semantic Scholar: Response would exceed maximum size"
        in observations[0].message
    )


def test_a_non_json_error_body_is_quoted_raw(fake_api, make_session):
    fake_api.inject("semanticscholar", status=502, body=b"<html>Bad Gateway</html>", times=None)
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.ERROR and "HTTP 502" in obs.message


def test_malformed_body_is_an_error_for_the_whole_batch(fake_api, make_session):
    fake_api.inject("semanticscholar", malformed=True)
    observations = semanticscholar.fetch(
        [Work(DEFAULT_DOI), Work("10.9999/a")], make_session(semanticscholar)
    )
    assert {o.outcome for o in observations} == {Outcome.ERROR}
    assert all("not valid JSON" in o.message for o in observations)
    assert all(o.citations is None for o in observations)


def test_an_answer_of_the_wrong_length_is_an_error(fake_api, make_session):
    fake_api.inject("semanticscholar", body=b"[null]")
    observations = semanticscholar.fetch(
        [Work(DEFAULT_DOI), Work("10.9999/a")], make_session(semanticscholar)
    )
    assert {o.outcome for o in observations} == {Outcome.ERROR}
    assert "1 entries for 2 ids sent" in observations[0].message
