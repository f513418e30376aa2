"""Semantic Scholar: the parsers on every real recording, and fetch / fetch_citing through the fake."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure
from monitor.ledger import normalize_title
from monitor.models import Exchange, Observation, Outcome, Work
from monitor.sources import semanticscholar
from tests.conftest import DEFAULT_DOI, real_files, real_json, real_path, run_and_read_ledger
from tests.fakeapi import Fault
from tests.fakeapi.routes import semanticscholar as fake_s2

PAPER_FILES = [p for p in real_files("semanticscholar") if p.name.startswith("paper_")]
CITATION_FILES = [p for p in real_files("semanticscholar") if p.name.startswith("citation")]
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


def test_every_real_recording_is_read_here():
    names = {p.name for p in real_files("semanticscholar")}
    read = {p.name for p in PAPER_FILES + CITATION_FILES}
    read |= {n for n in names if n.startswith(("batch_", "error_", "references_page_"))}
    assert names == read


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


def test_real_batch_is_matched_by_identity_and_null_is_unknown():
    payload = real_json("semanticscholar/batch_papers_with_null_full_fields.json")
    matches = semanticscholar.match(payload, BATCH_IDS)
    assert matches[0] == (None, None)  # the first id answered null
    assert all(stranger is None for _, stranger in matches)
    records = [record for record, _ in matches[1:]]
    # CorpusId:470667 is a paper whose DOI is 10.2139/ssrn.288970: its CorpusId names it
    assert records[0]["externalIds"]["DOI"] == "10.2139/ssrn.288970"
    assert records[2]["paperId"] == BATCH_IDS[3]  # asked by paperId
    parsed = [semanticscholar.parse_paper(record) for record in records]
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


def test_an_answer_out_of_order_is_matched_to_the_ids_it_names():
    payload = real_json("semanticscholar/batch_papers_with_null_full_fields.json")
    matches = semanticscholar.match(payload[::-1], BATCH_IDS)
    # CorpusId:211530585 is unknown (null); its place now holds another paper: a stranger
    assert matches[0] == (None, payload[3])
    assert [record["paperId"] for record, _ in matches[1:]] == [r["paperId"] for r in payload[1:]]


def test_a_record_naming_none_of_the_ids_is_held_apart_as_a_stranger():
    payload = real_json("semanticscholar/batch_papers_with_null_full_fields.json")
    matches = semanticscholar.match(payload[2:3], ["DOI:10.9999/another"])
    assert matches == [(None, payload[2])]


def test_real_batch_of_authors_only_is_an_error_per_record():
    payload = real_json("semanticscholar/batch_papers_authors.json")
    pairs = [(None, record) for record in payload]
    assert len(pairs) == 3
    for _, record in pairs:
        with pytest.raises(MalformedResponse, match="'citationCount' is missing"):
            semanticscholar.parse_paper(record)
    names = [a["name"] for a in semanticscholar.parse_metadata(pairs[1][1])["authors"]]
    assert names == ["E. Duflo", "A. Banerjee", "R. Glennerster", "Cynthia Kinnan"]


def test_a_batch_answer_of_the_wrong_length_is_malformed():
    payload = real_json("semanticscholar/batch_papers_with_null_full_fields.json")
    with pytest.raises(MalformedResponse, match="4 entries for 3 ids"):
        semanticscholar.match(payload, BATCH_IDS[:3])
    with pytest.raises(MalformedResponse, match="expected a list"):
        semanticscholar.match({"data": payload}, BATCH_IDS)


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


def test_a_record_under_an_alias_doi_is_confirmed_by_asking_for_the_work_alone(
    fake_api, make_session
):
    # S2 may hold the article under an alias DOI: the same paper, asked alone
    fake_api.records["semanticscholar"][DEFAULT_DOI]["externalIds"]["DOI"] = (
        "10.1016/S1368-7646(21)00015-7"
    )
    works = [Work("10.9999/a"), Work(DEFAULT_DOI), Work("10.9999/b")]
    observations = semanticscholar.fetch(works, make_session(semanticscholar))
    assert [o.outcome for o in observations] == [Outcome.NOT_FOUND, Outcome.OK, Outcome.NOT_FOUND]
    assert observations[1].citations == 38
    alone = fake_api.hits("semanticscholar", "/paper/DOI:")
    assert [h.path for h in alone] == [f"/paper/DOI:{DEFAULT_DOI}"]


def test_an_answer_out_of_order_never_swaps_two_counts(fake_api, make_session):
    """The issue's case: two records swapped in the answer once swapped two counts, 38↔101."""
    other = copy.deepcopy(fake_api.records["semanticscholar"][DEFAULT_DOI])
    other.update(paperId="f" * 40, citationCount=101, externalIds={"DOI": "10.9999/other"})
    fake_api.records["semanticscholar"]["10.9999/other"] = other
    fake_api.inject("semanticscholar", rewrite=lambda answer: answer[::-1])
    works = [Work(DEFAULT_DOI), Work("10.9999/other")]
    observations = semanticscholar.fetch(works, make_session(semanticscholar))
    assert [(o.doi, o.outcome, o.citations) for o in observations] == [
        (DEFAULT_DOI, Outcome.OK, 38),
        ("10.9999/other", Outcome.OK, 101),
    ]
    assert not fake_api.hits("semanticscholar", "/paper/DOI:")  # both named by their DOI


def another_paper(fake_api) -> dict:
    other = copy.deepcopy(fake_api.records["semanticscholar"][DEFAULT_DOI])
    other.update(paperId="f" * 40, citationCount=101, externalIds={"DOI": "10.9999/other"})
    return other


def test_an_answer_for_another_work_is_an_error_never_its_count(fake_api, make_session):
    """The batch answer names another paper, and the work asked alone is not that paper
    (nor known at all): the other paper's count never becomes this work's."""
    other = another_paper(fake_api)
    fake_api.inject("semanticscholar", rewrite=lambda answer: [other])
    fake_api.inject("semanticscholar", status=404, body=b'{"error": "Paper with id DOI:x not found"}')
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert obs.message.startswith(
        f"answered for another work: 10.9999/other (asked for {DEFAULT_DOI}); asked alone, HTTP 404"
    )


def test_a_work_asked_alone_must_be_the_paper_the_batch_named_or_name_its_doi(fake_api, make_session):
    other, third = another_paper(fake_api), another_paper(fake_api)
    third.update(paperId="e" * 40, externalIds={"DOI": "10.9999/third"})
    fake_api.inject("semanticscholar", rewrite=lambda answer: [other])
    fake_api.inject("semanticscholar", rewrite=lambda answer: third)
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert obs.message == f"answered for another work: 10.9999/other (asked for {DEFAULT_DOI})"


def test_a_wrong_batch_record_is_replaced_by_the_works_own_answer(fake_api, make_session):
    other = another_paper(fake_api)
    fake_api.inject("semanticscholar", rewrite=lambda answer: [other])  # the batch only
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert (obs.outcome, obs.citations) == (Outcome.OK, 38)  # never the other paper's 101
    assert obs.exchange.url.endswith(f"/paper/DOI:{DEFAULT_DOI}?fields={semanticscholar.FIELDS.replace(',', '%2C')}")


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
    [obs] = semanticscholar.fetch([Work(DEFAULT_DOI)], make_session(semanticscholar))
    assert obs.outcome is Outcome.ERROR  # one id cannot be split any further
    assert obs.message == "HTTP 400 from Semantic Scholar: Response would exceed maximum size"


def test_other_400s_are_asked_again_in_halves_so_one_bad_id_costs_one_work(fake_api, make_session):
    fake_api.inject("semanticscholar", status=400, body=b'{"error": "Unrecognized id: x"}', times=2)
    observations = semanticscholar.fetch(
        [Work(DEFAULT_DOI), Work("10.9999/a")], make_session(semanticscholar)
    )
    assert [o.outcome for o in observations] == [Outcome.ERROR, Outcome.NOT_FOUND]
    assert observations[0].message == "HTTP 400 from Semantic Scholar: Unrecognized id: x"
    sent = [h.json()["ids"] for h in fake_api.hits("semanticscholar")]
    assert sent == [[f"DOI:{DEFAULT_DOI}", "DOI:10.9999/a"], [f"DOI:{DEFAULT_DOI}"], ["DOI:10.9999/a"]]


def test_a_batch_whose_answer_is_too_large_is_asked_again_in_halves(
    fake_api, make_session, monkeypatch
):
    record = fake_api.records["semanticscholar"][DEFAULT_DOI]
    one = len(json.dumps([fake_s2._select(record, semanticscholar.FIELDS.split(","))]))
    monkeypatch.setattr(fake_s2, "MAX_ANSWER_BYTES", 2 * one)  # room for two records, not three
    dois = [DEFAULT_DOI, "10.9999/a", "10.9999/b", "10.9999/c"]
    for doi in dois[1:]:
        fake_api.records["semanticscholar"][doi] = copy.deepcopy(record)
    observations = semanticscholar.fetch([Work(d) for d in dois], make_session(semanticscholar))
    assert [o.doi for o in observations] == dois
    assert {o.outcome for o in observations} == {Outcome.OK}
    assert [o.citations for o in observations] == [record["citationCount"]] * 4
    sent = [len(h.json()["ids"]) for h in fake_api.hits("semanticscholar", "/paper/batch")]
    assert sent == [4, 2, 2]  # refused whole, then both halves answered


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


# --- citing works: the parser on real citation pages ---

CITING_DOIS = [  # the shared citing works Semantic Scholar lists (A, B, C, D the preprint, E)
    "10.1038/s41580-022-00001-a",
    "10.1016/j.ccell.2022.00002",
    "10.1016/j.phrs.2023.00003",
    "10.1101/2023.01.01.00004",
    "10.3390/cancers15000006",
]
PAPER_ID = "5e2a0c3f9b7d41e8a6c2f0d1b3e5a7c9d1f3b5e7"  # the default article's, constructed


def test_real_first_citations_page_lists_every_citing_paper_by_id_and_title():
    page = real_json("semanticscholar/citations_page_offset0_corpusid14514057.json")
    assert (page["offset"], page["next"]) == (0, 100)
    records = semanticscholar.parse_citations(page)
    assert len(records) == 100  # asked with fields=title: paperId and title only
    first = records[0]
    assert first.s2_id == "344e7fb2000d9063cbc9deb550e46946bafe3c90"
    assert first.title.startswith("We’ve got you covered! The effect of public health insurance")
    assert first.source == "semanticscholar"
    assert (first.doi, first.year, first.authors, first.contexts) == (None, None, (), ())
    assert first.is_influential is None  # not asked for: unknown, never False
    assert [r.s2_id for r in records] == [e["citingPaper"]["paperId"] for e in page["data"]]


def test_real_last_citations_page_keeps_papers_known_by_title_only():
    page = real_json("semanticscholar/citations_page_offset1800_last_corpusid14514057.json")
    assert "next" not in page and page["offset"] == 1800
    records = semanticscholar.parse_citations(page)
    papers = [e["citingPaper"] for e in page["data"]]
    identifiable = [p for p in papers if p["paperId"] or normalize_title(p["title"])]
    assert len(page["data"]) == 81
    assert [r.title for r in records] == [p["title"] for p in identifiable]
    untitled = [r for r in records if r.s2_id is None]
    assert (
        untitled
        and untitled[0].title == "The Construction of a Major Macromarketing Research Collection"
    )


def test_real_citation_edge_with_contexts_intents_and_influence():
    edge = real_json("semanticscholar/citation_item_contexts_intents_isInfluential.json")
    record = semanticscholar.parse_citation(edge)
    assert record.doi == "10.1109/lra.2022.3229266"  # recorded as 10.1109/LRA.2022.3229266
    assert record.s2_id == "bdcbc589c8d1e4dd0c6572630f8511557406ad2f"
    assert record.title == "Learning to Throw With a Handful of Samples Using Decision Transformers"
    assert (record.year, record.published) == (2023, "2023-02-01")
    assert record.venue == "IEEE Robotics and Automation Letters"
    assert record.type == "JournalArticle"
    assert [a["name"] for a in record.authors] == ["M. Monastirsky", "Osher Azulay", "A. Sintov"]
    assert record.authors[0]["s2_id"] == "97501516"
    assert len(record.contexts) == 4 and record.contexts[0].startswith("RP is implemented")
    assert record.intents == ("result", "background", "methodology")
    assert record.is_influential is True
    assert record.fields == ("Computer Science", "Engineering")
    assert record.pmid is None


def test_a_references_page_is_not_a_citations_page():
    page = real_json("semanticscholar/references_page_offset0_doi.json")
    assert "citedPaper" in page["data"][0]
    with pytest.raises(MalformedResponse, match=r"'data\[0\]\.citingPaper' is missing"):
        semanticscholar.parse_citations(page)


@pytest.mark.parametrize(
    "change, error",
    [
        (
            lambda e: e.update(isInfluential="yes"),
            r"'data\[0\]\.isInfluential' should be true/false",
        ),
        (lambda e: e.update(contexts="one context"), r"'data\[0\]\.contexts' should be a list"),
        (
            lambda e: e["citingPaper"].update(year="2023"),
            r"'data\[0\]\.citingPaper\.year' should be",
        ),
        (
            lambda e: e["citingPaper"]["externalIds"].update(DOI=["10.1/x"]),
            r"'data\[0\]\.citingPaper\.externalIds\.DOI' should be a string",
        ),
    ],
)
def test_a_changed_citation_edge_is_an_error_naming_the_field(change, error):
    edge = real_json("semanticscholar/citation_item_contexts_intents_isInfluential.json")
    change(edge)
    with pytest.raises(MalformedResponse, match=error):
        semanticscholar.parse_citations({"offset": 0, "data": [edge]})


def test_a_page_without_data_is_an_error():
    with pytest.raises(MalformedResponse, match="'data' is missing"):
        semanticscholar.parse_citations({"offset": 0, "next": 100})
    with pytest.raises(MalformedResponse, match="expected an object"):
        semanticscholar.parse_citations([])


def test_an_edge_with_nothing_to_identify_the_citing_paper_is_left_out():
    edges = [
        {"citingPaper": {"paperId": None, "title": None}},
        {"citingPaper": {"paperId": None, "title": "Notes"}},
    ]
    assert semanticscholar.parse_citations({"offset": 0, "data": edges}) == []


# --- citing works through the fake ---


def observed(session, doi=DEFAULT_DOI):
    [obs] = semanticscholar.fetch([Work(doi)], session)
    assert obs.outcome is Outcome.OK
    return obs


def test_fetch_citing_the_default_article(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.OK and listing.complete is True
    assert (listing.doi, listing.source, listing.count_at_fetch) == (
        DEFAULT_DOI,
        "semanticscholar",
        38,
    )
    assert [r.doi for r in listing.records] == CITING_DOIS
    a, b, c, d, e = listing.records
    assert [r.pmid for r in listing.records] == [
        "35000001",
        "35000002",
        "36000003",
        None,
        "37000006",
    ]
    assert a.title == "Autophagy and immune evasion in solid tumours" and a.year == 2022
    assert a.venue == "Nature Reviews Molecular Cell Biology" and a.type == "Review"
    assert [x["name"] for x in a.authors] == ["Maria Rossi", "Jian Li"]
    assert a.contexts and a.intents == ("background",) and a.is_influential is False
    assert b.is_influential is True and b.intents == ("methodology", "background")
    assert [x.is_influential for x in (c, d, e)] == [False, False, False]
    assert c.contexts == () and [x["name"] for x in c.authors] == ["Yan Cheng", "Wei Zhang"]
    assert d.venue == "bioRxiv" and d.type is None and d.published is None
    [hit] = fake_api.hits("semanticscholar", "/paper/" + PAPER_ID)  # by the paperId of the count
    assert hit.path == f"/paper/{PAPER_ID}/citations"
    assert (hit.arg("offset"), hit.arg("limit")) == ("0", "1000")
    assert hit.arg("fields") == semanticscholar.CITING_FIELDS
    assert all(r.exchange is session.exchanges[-1] for r in listing.records)  # provenance


def test_fetch_citing_pages_through_the_list(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session, page_size=2)
    hits = fake_api.hits("semanticscholar", f"/paper/{PAPER_ID}/citations")
    assert [(h.arg("offset"), h.arg("limit")) for h in hits] == [("0", "2"), ("2", "2"), ("4", "2")]
    assert [r.doi for r in listing.records] == CITING_DOIS and listing.complete is True
    pages = session.exchanges[-3:]
    assert [pages.index(r.exchange) for r in listing.records] == [0, 0, 1, 1, 2]


def test_fetch_citing_asks_by_doi_without_a_paper_id(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = Observation(DEFAULT_DOI, "semanticscholar", Outcome.OK, citations=38)
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert [r.doi for r in listing.records] == CITING_DOIS
    [hit] = fake_api.hits("semanticscholar")
    assert hit.path == f"/paper/DOI:{DEFAULT_DOI}/citations"


def test_the_key_goes_in_a_header_for_the_list_too(fake_api, make_session):
    session = make_session(semanticscholar, api_key="s2-secret")
    semanticscholar.fetch_citing(Work(DEFAULT_DOI), observed(session), session)
    hit = fake_api.hits("semanticscholar", "/paper/" + PAPER_ID)[0]
    assert hit.headers["x-api-key"] == "s2-secret"
    assert all("s2-secret" not in x.url for x in session.exchanges)


def test_a_list_cut_by_the_page_cap_is_incomplete(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    session.max_pages = 2
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session, page_size=2)
    assert listing.outcome is Outcome.OK and listing.complete is False
    assert [r.doi for r in listing.records] == CITING_DOIS[:4]
    assert len(fake_api.hits("semanticscholar", f"/paper/{PAPER_ID}/citations")) == 2


def test_a_list_longer_than_the_api_lists_is_incomplete(fake_api, make_session, monkeypatch):
    edges = fake_api.records[fake_s2.CITING][DEFAULT_DOI]
    for n in range(7):  # twelve citing works
        extra = copy.deepcopy(edges[-1])
        extra["citingPaper"]["paperId"] = f"f{n}" * 20
        extra["citingPaper"]["externalIds"]["DOI"] = f"10.9999/extra.{n}"
        edges.append(extra)
    monkeypatch.setattr(
        semanticscholar, "OFFSET_LIMIT", 6
    )  # the API stops at offset + limit 10,000
    session = make_session(semanticscholar)
    listing = semanticscholar.fetch_citing(
        Work(DEFAULT_DOI), observed(session), session, page_size=3
    )
    hits = fake_api.hits("semanticscholar", f"/paper/{PAPER_ID}/citations")
    assert [(h.arg("offset"), h.arg("limit")) for h in hits] == [("0", "3"), ("3", "2")]
    assert len(listing.records) == 5 and listing.complete is False


def test_a_failed_page_fails_the_whole_list(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject("semanticscholar", Fault())  # the first page passes untouched
    fake_api.inject("semanticscholar", status=500, body=b"<html>Internal error</html>", times=None)
    with pytest.raises(FetchFailure) as failed:
        semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session, page_size=2)
    assert failed.value.outcome is Outcome.ERROR and "HTTP 500" in failed.value.message
    hits = fake_api.hits("semanticscholar", f"/paper/{PAPER_ID}/citations")
    assert [h.arg("offset") for h in hits] == ["0", "2", "2"]  # the second page, retried once


def test_a_malformed_page_fails_the_whole_list(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject("semanticscholar", Fault())
    fake_api.inject("semanticscholar", malformed=True)
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session, page_size=2)
    assert len(fake_api.hits("semanticscholar", f"/paper/{PAPER_ID}/citations")) == 2


def test_a_429_that_persists_fails_the_list_as_rate_limited(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject("semanticscholar", status=429, body=TOO_MANY_REQUESTS, times=None)
    with pytest.raises(FetchFailure) as failed:
        semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert failed.value.outcome is Outcome.RATE_LIMITED
    assert "api-key-form" in failed.value.message


def test_a_429_then_200_is_retried(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject("semanticscholar", status=429, body=TOO_MANY_REQUESTS)
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert listing.complete is True and len(listing.records) == 5


def test_an_unknown_paper_id_fails_the_list_quoting_the_api(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = Observation(
        DEFAULT_DOI, "semanticscholar", Outcome.OK, citations=38, metadata={"s2_id": "0"}
    )
    with pytest.raises(FetchFailure) as failed:
        semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert failed.value.message == "HTTP 404 from Semantic Scholar: Paper with id 0 not found"


def test_a_page_too_large_is_asked_again_in_half_pages(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject(
        "semanticscholar",
        status=400,
        body=b'{"error": "Response would exceed maximum size. Try a smaller limit."}',
    )
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    hits = fake_api.hits("semanticscholar", f"/paper/{PAPER_ID}/citations")
    assert [h.arg("limit") for h in hits] == ["1000", "500"]
    assert listing.complete is True and len(listing.records) == 5


def test_another_400_fails_the_list(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject(
        "semanticscholar", status=400, body=b'{"error": "Unrecognized or unsupported fields: [x]"}'
    )
    with pytest.raises(FetchFailure, match="Unrecognized or unsupported fields"):
        semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert len(fake_api.hits("semanticscholar", "/paper/" + PAPER_ID)) == 1


def test_a_next_that_does_not_advance_is_an_error_not_a_loop(fake_api, make_session):
    session = make_session(semanticscholar)
    obs = observed(session)
    fake_api.inject("semanticscholar", body=b'{"offset": 0, "next": 0, "data": []}', times=None)
    with pytest.raises(MalformedResponse, match="'next' \\(0\\) does not advance"):
        semanticscholar.fetch_citing(Work(DEFAULT_DOI), obs, session)


def test_an_empty_list_is_complete_only_for_an_uncited_work(fake_api, make_session):
    fake_api.records[fake_s2.CITING][DEFAULT_DOI] = []
    session = make_session(semanticscholar)
    cited = observed(session)
    listing = semanticscholar.fetch_citing(Work(DEFAULT_DOI), cited, session)
    assert listing.outcome is Outcome.OK and listing.records == () and listing.complete is False
    uncited = Observation(
        DEFAULT_DOI, "semanticscholar", Outcome.OK, citations=0, metadata=cited.metadata
    )
    assert semanticscholar.fetch_citing(Work(DEFAULT_DOI), uncited, session).complete is True


# --- citing works in a run: the collector stores the list, or its failure ---


def test_a_run_stores_the_list_in_the_ledger(write_config):
    config = write_config(only=("semanticscholar",))
    [fetch], rows = run_and_read_ledger(config, "semanticscholar")
    assert (fetch["outcome"], fetch["complete"], fetch["items"]) == ("ok", 1, 5)
    by_doi = {row["doi"]: row for row in rows}
    assert set(by_doi) == set(CITING_DOIS)
    assert by_doi["10.1016/j.phrs.2023.00003"]["is_self_citation"] == 1  # Yan Cheng
    assert by_doi["10.1016/j.ccell.2022.00002"]["is_influential"] == 1


def test_a_run_whose_list_request_fails_stores_a_failed_list(write_config, fake_api):
    config = write_config(only=("semanticscholar",))
    fake_api.inject("semanticscholar", Fault())  # the count passes
    fake_api.inject("semanticscholar", status=500, body=b"<html>Internal error</html>", times=None)
    [fetch], rows = run_and_read_ledger(config, "semanticscholar")
    assert (fetch["outcome"], fetch["complete"], fetch["items"]) == ("error", 0, 0)
    assert "HTTP 500" in fetch["message"]
    assert rows == []
