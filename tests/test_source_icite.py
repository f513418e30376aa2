"""NIH iCite: the parser on the real docs sample (legacy and database names), fetch through the
fake, and the citing PMIDs read again from the answer the count came from."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Exchange, Observation, Outcome, Work
from monitor.sources import icite
from tests.conftest import DEFAULT_DOI, real_json
from tests.fakeapi.routes import icite as fake_icite

SAMPLE = "icite/docs_sample_pubs_pmids_23456789_27599104.json"
PMID = "33930000"


def sample() -> list[dict]:
    return real_json(SAMPLE)["data"]


def database_names(record: dict) -> dict:
    """The record as ``legacy=false`` names it, flags as true/false (support page example)."""
    renamed = {icite.NAMES.get(k, k): v for k, v in record.items()}
    for name in ("rcrIsProvisional", "isClinicalArticle", "is_research_article"):
        renamed[name] = renamed[name] == "Yes"
    return renamed


def test_parses_every_record_of_the_docs_sample():
    records = sample()
    assert [r["pmid"] for r in records] == [23456789, 27599104]
    for record in records:
        parsed = icite.parse_record(record)
        assert parsed.citations == record["citation_count"]
        assert parsed.metrics["relative_citation_ratio"] == record["relative_citation_ratio"]
        assert parsed.metrics["nih_percentile"] == record["nih_percentile"]
        assert parsed.metrics["field_citation_rate"] == record["field_citation_rate"]
        assert (
            parsed.metrics["expected_citations_per_year"] == record["expected_citations_per_year"]
        )
        assert parsed.metrics["citations_per_year"] == record["citations_per_year"]
        assert parsed.metrics["apt"] == record["apt"] == 0.75
        assert parsed.metrics["provisional"] is False  # "No"
        assert parsed.metrics["is_research_article"] is True  # "Yes"
        assert parsed.metrics["is_clinical"] is False
        assert parsed.metrics["cited_by_clinical_count"] == 2
        assert parsed.metadata["pmid"] == str(record["pmid"])
        assert parsed.metadata["year"] == record["year"]
        assert parsed.metadata["journal_abbreviation"] == record["journal"]


def test_docs_sample_values():
    first, rcr_paper = (icite.parse_record(r) for r in sample())
    assert (
        first.citations,
        first.metrics["relative_citation_ratio"],
        first.metrics["nih_percentile"],
    ) == (46, 1.78, 71)
    assert (rcr_paper.citations, rcr_paper.metrics["relative_citation_ratio"]) == (222, 9.87)
    assert [a["name"] for a in rcr_paper.metadata["authors"]] == [
        "B Ian Hutchins",
        "Xin Yuan",
        "James M Anderson",
        "George M Santangelo",
    ]
    assert rcr_paper.metadata["title"] == (
        "Relative Citation Ratio (RCR): A New Metric That Uses Citation Rates to Measure "
        "Influence at the Article Level"
    )


@pytest.mark.parametrize("index", [0, 1])
def test_database_field_names_and_boolean_flags_parse_the_same(index):
    record = sample()[index]
    assert icite.parse_record(database_names(record)) == icite.parse_record(record)


def test_authors_as_a_list_of_objects():
    record = dict(
        sample()[0],
        authors=[
            {"lastName": "Sharma", "fullName": "Sharma, Arun", "firstName": "Arun"},
            {"fullName": "Méndez, Eduardo"},
        ],
    )
    authors = icite.parse_record(record).metadata["authors"]
    assert authors == [
        {"name": "Arun Sharma", "given": "Arun", "family": "Sharma"},
        {"name": "Méndez, Eduardo"},
    ]


def test_a_recent_paper_without_rcr_keeps_its_count():
    record = dict(sample()[1], relative_citation_ratio=None, nih_percentile=None, provisional="Yes")
    parsed = icite.parse_record(record)
    assert parsed.citations == 222
    assert (
        "relative_citation_ratio" not in parsed.metrics and "nih_percentile" not in parsed.metrics
    )
    assert parsed.metrics["provisional"] is True


def test_an_unknown_flag_value_is_an_error_naming_the_field():
    with pytest.raises(MalformedResponse, match="'provisional' should be Yes or No"):
        icite.parse_record(dict(sample()[0], provisional="Maybe"))


def test_a_missing_count_is_an_error_naming_the_legacy_field():
    record = {k: v for k, v in sample()[0].items() if k != "citation_count"}
    with pytest.raises(MalformedResponse, match="'citation_count' is missing"):
        icite.parse_record(record)


def test_an_rcr_of_the_wrong_type_is_an_error():
    with pytest.raises(MalformedResponse, match="relative_citation_ratio"):
        icite.parse_record(dict(sample()[0], relative_citation_ratio="high"))


# --- through the fake ---


def test_fetch_reads_the_constructed_record(fake_api, make_session):
    [obs] = icite.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(icite))
    assert obs.outcome is Outcome.OK, obs.message
    assert obs.citations == 3
    assert obs.metrics["relative_citation_ratio"] == 1.42
    assert obs.metrics["nih_percentile"] == 61.3
    assert obs.metrics["provisional"] is False and obs.metrics["is_research_article"] is False
    assert obs.metrics["apt"] == 0.25
    assert obs.metadata["year"] == 2021 and obs.metadata["pmid"] == PMID
    assert [a["name"] for a in obs.metadata["authors"]][-1] == "Yan Cheng"
    [hit] = fake_api.hits("icite", "/pubs")
    assert hit.arg("pmids") == PMID


def test_fetch_batches_200_pmids_per_request(fake_api, make_session):
    works = [Work(f"10.9999/x.{i}", pmid=str(40000000 + i)) for i in range(449)] + [
        Work(DEFAULT_DOI, pmid=PMID)
    ]
    observations = icite.fetch(works, make_session(icite))
    hits = fake_api.hits("icite", "/pubs")
    assert [len(h.arg("pmids").split(",")) for h in hits] == [200, 200, 50]
    assert observations[-1].outcome is Outcome.OK and observations[-1].citations == 3
    assert {o.outcome for o in observations[:-1]} == {Outcome.NOT_FOUND}


def test_two_works_with_one_pmid_both_get_its_record(fake_api, make_session):
    """Two DOIs of one article (an alias, a DOI PubMed merged) share its PMID."""
    works = [Work(DEFAULT_DOI, pmid=PMID), Work("10.9999/alias", pmid=PMID)]
    first, second = icite.fetch(works, make_session(icite))
    assert (first.outcome, second.outcome) == (Outcome.OK, Outcome.OK)
    assert first.citations == second.citations == 3
    assert second.doi == "10.9999/alias"
    assert fake_api.hits("icite", "/pubs")[0].arg("pmids") == PMID  # asked once


def test_a_changed_count_is_read(fake_api, make_session):
    fake_icite.set_count(fake_api, PMID, 40)
    [obs] = icite.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(icite))
    assert obs.citations == 40


def test_429_is_rate_limited(fake_api, make_session):
    fake_api.inject("icite", status=429, times=2)
    [obs] = icite.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(icite))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.citations is None


def test_http_400_is_an_error_with_the_body(fake_api, make_session):
    fake_api.inject("icite", status=400, body=b"Bad Request: pmids must be numbers")
    [obs] = icite.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(icite))
    assert obs.outcome is Outcome.ERROR
    assert obs.message.startswith("HTTP 400 from 127.0.0.1:")
    assert obs.message.endswith(": Bad Request: pmids must be numbers")


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("icite", malformed=True)
    [obs] = icite.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(icite))
    assert obs.outcome is Outcome.ERROR and "not valid JSON" in obs.message


def test_an_envelope_without_data_is_an_error_naming_it(fake_api, make_session):
    fake_api.inject("icite", body=b'{"meta": {}, "links": {}}')
    [obs] = icite.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(icite))
    assert obs.outcome is Outcome.ERROR and "'data' is missing" in obs.message


# --- citing works (the ledger) ---


def counted(record: dict) -> Observation:
    """An ok observation of ``record`` whose exchange is a batch answer holding it."""
    body = json.dumps({"meta": {}, "links": {}, "data": [sample()[1], record]}).encode()
    exchange = Exchange(
        "icite",
        "GET",
        "https://icite.od.nih.gov/api/pubs?pmids=x",
        200,
        {},
        body,
        datetime.now(UTC),
        1,
    )
    parsed = icite.parse_record(record)
    return Observation(
        DEFAULT_DOI, "icite", Outcome.OK, citations=parsed.citations, exchange=exchange
    )


def test_citing_pmids_of_the_docs_sample_record_are_its_cited_by():
    # The docs sample's README author emptied cited_by (citation_count 46, cited_by []).
    record = sample()[0]
    assert record["cited_by"] == [] and record["citation_count"] == 46
    assert icite.citing_pmids(record) == []
    assert icite.citing_pmids(dict(record, cited_by=[31000002, "31000001", 31000002])) == [
        "31000002",
        "31000001",
    ]


def test_citing_pmids_under_the_database_name():
    record = database_names(dict(sample()[0], cited_by=[31000001]))
    assert "cited_by" not in record and record["citedByPmids"] == [31000001]
    assert icite.citing_pmids(record) == ["31000001"]


def test_a_record_without_citing_pmids_is_an_error_naming_the_field():
    record = {k: v for k, v in sample()[0].items() if k != "cited_by"}
    with pytest.raises(MalformedResponse, match="'cited_by' is missing"):
        icite.citing_pmids(record)
    with pytest.raises(MalformedResponse, match="'cited_by' should list PMIDs"):
        icite.citing_pmids(dict(record, cited_by=["PMC123"]))


def test_fetch_citing_reads_the_batch_answer_again_without_a_request(fake_api, make_session):
    session = make_session(icite)
    works = [Work("10.9999/other", pmid="23456789"), Work(DEFAULT_DOI, pmid=PMID)]
    other, obs = icite.fetch(works, session)
    assert obs.outcome is Outcome.OK and other.exchange is obs.exchange  # one batch
    listing = icite.fetch_citing(works[1], obs, session)
    assert len(fake_api.hits("icite")) == 1  # the count's request only
    assert listing.outcome is Outcome.OK and listing.complete is True
    assert [r.pmid for r in listing.records] == ["35000001", "35000002", "36000003"]
    assert {r.source for r in listing.records} == {"icite"}
    assert all(r.exchange is obs.exchange for r in listing.records)  # provenance: the batch answer
    assert listing.count_at_fetch == obs.citations == 3


def test_an_empty_list_for_a_cited_work_is_not_complete():
    record = sample()[0]  # cited_by [] although citation_count is 46
    listing = icite.fetch_citing(Work(DEFAULT_DOI, pmid="23456789"), counted(record), None)
    assert listing.records == () and listing.complete is False
    uncited = dict(record, citation_count=0)
    listing = icite.fetch_citing(Work(DEFAULT_DOI, pmid="23456789"), counted(uncited), None)
    assert listing.records == () and listing.complete is True


def test_a_pmid_missing_from_the_answer_is_an_error():
    obs = counted(sample()[0])
    with pytest.raises(MalformedResponse, match="PMID 40000000 is not in the answer"):
        icite.fetch_citing(Work(DEFAULT_DOI, pmid="40000000"), obs, None)
    with pytest.raises(MalformedResponse, match="no iCite answer"):
        icite.fetch_citing(
            Work(DEFAULT_DOI, pmid="23456789"), dataclasses.replace(obs, exchange=None), None
        )


def test_the_lists_of_a_batch_parse_its_answer_once(monkeypatch):
    record = dict(sample()[0], pmid=int(PMID), cited_by=[35000001, 35000002], citation_count=2)
    obs = counted(record)  # one answer holding two records: docs sample [1], then this one
    first = Work("10.9999/other", pmid=str(sample()[1]["pmid"]))
    parses = []
    real = Exchange.json
    monkeypatch.setattr(Exchange, "json", lambda self: parses.append(self) or real(self))
    lists = [icite.fetch_citing(w, obs, None) for w in (first, Work(DEFAULT_DOI, pmid=PMID))]
    assert all(x.outcome is Outcome.OK for x in lists)
    assert [r.pmid for r in lists[1].records] == ["35000001", "35000002"]
    assert len(parses) == 1  # not once a work: a batch of 200 would parse it 200 times
    icite.fetch_citing(Work(DEFAULT_DOI, pmid=PMID), counted(record), None)
    assert len(parses) == 2  # another answer is parsed for itself
