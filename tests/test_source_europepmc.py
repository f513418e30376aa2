"""Europe PMC: the parsers on every real search and citations response, and fetch and
fetch_citing through the fake."""

from __future__ import annotations

import dataclasses
import json

import pytest

from monitor import collect
from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure
from monitor.models import Outcome, Work
from monitor.sources import europepmc
from tests.conftest import DEFAULT_DOI, ROOT, real_files, real_json
from tests.fakeapi.routes import europepmc as fake_europepmc

SEARCH_FILES = real_files("europepmc", "search_*.json")
CITATIONS_FILES = real_files("europepmc", "LEGACY_*citations*.json")
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


def test_an_answer_cut_short_is_an_error_for_the_works_it_leaves_out(fake_api, make_session):
    record = fake_api.records["europepmc"][DEFAULT_DOI]
    body = {"version": "6.9", "hitCount": 3, "resultList": {"result": [record]}}
    fake_api.inject("europepmc", body=json.dumps(body).encode())
    works = [Work(DEFAULT_DOI), Work("10.9999/cut")]
    found, missing = europepmc.fetch(works, make_session(europepmc))
    assert found.outcome is Outcome.OK and found.citations == record["citedByCount"]
    assert missing.outcome is Outcome.ERROR and missing.citations is None
    assert "the answer lists 1 of the 3 records it matched" in missing.message


def test_a_result_without_its_doi_is_an_error_naming_the_field_not_a_not_found(
    fake_api, make_session
):
    record = dict(fake_api.records["europepmc"][DEFAULT_DOI])
    del record["doi"]
    body = {"version": "6.9", "hitCount": 1, "resultList": {"result": [record]}}
    fake_api.inject("europepmc", body=json.dumps(body).encode())
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], make_session(europepmc))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert "'resultList.result[].doi' is missing" in obs.message


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


# --- citing works (the ledger): the real citations pages ---


@pytest.mark.parametrize("path", CITATIONS_FILES, ids=lambda p: p.name)
def test_parses_every_real_citations_page(path):
    payload = json.loads(path.read_text())
    hit_count, citations = europepmc.parse_citations_page(payload)
    assert hit_count == payload["hitCount"] and citations == payload["citationList"]["citation"]
    for citation in citations:
        record = europepmc.parse_citation(citation)
        assert (
            citation["source"] == "MED" and record.pmid == citation["id"] and record.pmcid is None
        )
        assert record.doi is None  # the citations shape carries none
        assert record.year == citation["pubYear"]
        assert record.venue == citation["journalAbbreviation"]
        assert record.title == citation["title"].removesuffix(".")
        names = citation["authorString"].removesuffix(".").split(", ")
        assert [a["name"] for a in record.authors] == names


def test_legacy_2015_citations_page_values():
    payload = real_json("europepmc/LEGACY_2015_citations_MED_17183631.json")
    hit_count, citations = europepmc.parse_citations_page(payload)
    assert (hit_count, len(citations)) == (23, 23)  # the whole list on its one page
    first = europepmc.parse_citation(citations[0])
    assert first.pmid == "19749171" and first.year == 2009 and first.venue == "Pharmacol. Rev."
    assert first.title == (
        "The transient receptor potential vanilloid-1 channel in thermoregulation: "
        "a thermosensor it is not"
    )
    assert len(first.authors) == 9 and first.authors[0] == {"name": "Romanovsky AA"}
    assert first.type is None  # no citationType in 2015
    assert europepmc.parse_citation(citations[2]).authors == ({"name": "Cardona PJ"},)


def test_legacy_2016_citations_page_values():
    payload = real_json("europepmc/LEGACY_2016_citations_MED_15723116_page1.json")
    hit_count, citations = europepmc.parse_citations_page(payload)
    assert (hit_count, len(citations)) == (810, 25)  # page 1 of many
    first = europepmc.parse_citation(citations[0])
    assert first.pmid == "16271386" and first.venue == "Cell" and first.year == 2005
    assert first.type == "Journal Article"  # the first of citationType's list
    assert first.title == (
        "Passenger-strand cleavage facilitates assembly of siRNA into Ago2-containing RNAi "
        "enzyme complexes"
    )


def test_pmc_and_preprint_citations():
    citation = real_json("europepmc/LEGACY_2016_citations_MED_15723116_page1.json")["citationList"][
        "citation"
    ][0]
    pmc = europepmc.parse_citation(dict(citation, source="PMC", id="PMC4740857"))
    assert (pmc.pmid, pmc.pmcid) == (None, "PMC4740857")
    preprint = europepmc.parse_citation(dict(citation, source="PPR", id="PPR170401"))
    assert (preprint.pmid, preprint.pmcid, preprint.type) == (None, None, "preprint")


def test_a_citation_without_source_is_an_error_naming_the_field():
    citation = real_json("europepmc/LEGACY_2015_citations_MED_17183631.json")["citationList"][
        "citation"
    ][0]
    with pytest.raises(MalformedResponse, match=r"'citationList.citation\[0\].source' is missing"):
        europepmc.parse_citation(
            {k: v for k, v in citation.items() if k != "source"}, where="citationList.citation[0]."
        )
    with pytest.raises(MalformedResponse, match="'hitCount' is missing"):
        europepmc.parse_citations_page({"citationList": {"citation": []}})


# --- citing works through the fake ---

SHARED = {  # the shared citing works Europe PMC lists (constructed)
    "35000001": ("Autophagy and immune evasion in solid tumours", 2022, "Nat Rev Mol Cell Biol"),
    "36000003": ("Autophagy inhibitors sensitise tumours to PD-1 blockade", 2023, "Pharmacol Res"),
    "37000006": (
        "Autophagy-related gene signatures predict immunotherapy response",
        2023,
        "Cancers (Basel)",
    ),
}


@pytest.fixture
def counted(fake_api, make_session):
    """The session and the ok count observation of the default article (its request dropped)."""
    session = make_session(europepmc)
    [obs] = europepmc.fetch([Work(DEFAULT_DOI)], session)
    assert obs.metadata["europepmc_id"] == "MED/33930000"
    fake_api.requests.clear()
    return session, obs


def fail_from_page(fake_api, session, page, **fault):
    """Queue ``fault`` for the request of ``page`` and the ones after it."""
    get = session.get

    def wrapped(path, params=None, **kw):
        if params and params.get("page") == str(page):
            fake_api.inject("europepmc", times=None, **fault)
        return get(path, params=params, **kw)

    session.get = wrapped


def test_fetch_citing_lists_the_constructed_citations(fake_api, counted):
    session, obs = counted
    listing = europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.OK and listing.complete is True
    assert listing.count_at_fetch == 30 and listing.source == "europepmc"
    assert {r.pmid: (r.title, r.year, r.venue) for r in listing.records} == SHARED
    cheng = next(r for r in listing.records if r.pmid == "36000003")
    assert cheng.authors == ({"name": "Cheng Y"}, {"name": "Zhang W"})
    assert cheng.type == "research-article" and cheng.doi is None
    [hit] = fake_api.hits("europepmc")
    assert hit.path == "/MED/33930000/citations"
    assert (hit.arg("format"), hit.arg("page"), hit.arg("pageSize")) == ("json", "1", "1000")
    assert all(r.exchange is session.exchanges[-1] for r in listing.records)


def test_fetch_citing_pages_until_hit_count(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(europepmc, "PAGE_SIZE", 2)
    listing = europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
    hits = fake_api.hits("europepmc", "/MED/33930000/citations")
    assert [(h.arg("page"), h.arg("pageSize")) for h in hits] == [("1", "2"), ("2", "2")]
    assert listing.complete is True and {r.pmid for r in listing.records} == set(SHARED)
    assert listing.records[0].exchange is not listing.records[2].exchange  # each its own page


def test_a_capped_list_is_not_complete(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(europepmc, "PAGE_SIZE", 1)
    session.max_pages = 2
    listing = europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert len(fake_api.hits("europepmc")) == 2
    assert listing.outcome is Outcome.OK and listing.complete is False
    assert [r.pmid for r in listing.records] == ["35000001", "36000003"]


def page_body(hit_count, citations):
    return json.dumps(
        {
            "version": "6.9",
            "hitCount": hit_count,
            "request": {},
            "citationList": {"citation": citations},
        }
    ).encode()


def test_fewer_citations_than_hit_count_is_not_complete(fake_api, counted):
    session, obs = counted
    three = fake_api.records[fake_europepmc.CITING]["MED/33930000"]["citationList"]["citation"]
    fake_api.inject("europepmc", body=page_body(5, three))
    fake_api.inject("europepmc", body=page_body(5, []))
    listing = europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert len(listing.records) == 3 and listing.complete is False
    assert len(fake_api.hits("europepmc")) == 2  # page 2 came back empty: stop


def test_a_list_that_changed_while_paged_is_not_complete(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(europepmc, "PAGE_SIZE", 2)
    three = fake_api.records[fake_europepmc.CITING]["MED/33930000"]["citationList"]["citation"]
    fake_api.inject("europepmc", body=page_body(4, three[:2]))  # then the fake says 3
    listing = europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert len(listing.records) == 3 and listing.complete is False


def test_a_failed_page_fails_the_list(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(europepmc, "PAGE_SIZE", 1)
    fail_from_page(fake_api, session, 2, status=503, body=b"Service Unavailable")
    with pytest.raises(FetchFailure, match="HTTP 503"):
        europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert [h.arg("page") for h in fake_api.hits("europepmc")] == ["1", "2", "2"]  # one retry
    listing = collect._fetch_list(europepmc, Work(DEFAULT_DOI), obs, session)  # still failing
    assert listing.outcome is Outcome.ERROR and listing.records == () and not listing.complete


def test_a_malformed_page_fails_the_list(fake_api, counted):
    session, obs = counted
    fake_api.inject("europepmc", malformed=True)
    listing = collect._fetch_list(europepmc, Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.ERROR and "not valid JSON" in listing.message
    assert listing.records == () and listing.complete is False


def test_an_error_inside_http_200_fails_the_list(fake_api, counted):
    session, obs = counted
    fake_api.inject("europepmc", body=b'{"errCode": 404, "errMsg": "Invalid source: ABC"}')
    with pytest.raises(FetchFailure, match="Europe PMC error 404: Invalid source: ABC"):
        europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)


def test_429_fails_the_list_as_rate_limited(fake_api, counted):
    session, obs = counted
    fake_api.inject("europepmc", status=429, times=2)
    listing = collect._fetch_list(europepmc, Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.RATE_LIMITED and listing.records == ()


def test_a_work_nobody_cites_has_a_complete_empty_list(fake_api, counted):
    session, obs = counted
    obs = dataclasses.replace(obs, citations=0, metadata={"europepmc_id": "MED/12345"})
    listing = europepmc.fetch_citing(Work("10.9/b"), obs, session)
    assert listing.outcome is Outcome.OK and listing.records == () and listing.complete is True
    assert fake_api.hits("europepmc")[0].path == "/MED/12345/citations"


def test_a_count_without_an_id_cannot_list(counted):
    session, obs = counted
    with pytest.raises(MalformedResponse, match="no source and id"):
        europepmc.fetch_citing(Work(DEFAULT_DOI), dataclasses.replace(obs, metadata={}), session)


def test_a_citations_page_answering_another_work_is_an_error(fake_api, counted):
    from monitor.errors import WrongWork

    session, obs = counted
    fake_api.inject("europepmc", rewrite=lambda page: {**page, "request": {**page["request"], "id": "1"}})
    with pytest.raises(WrongWork, match="answered for another work: the citations of MED/1 "
                                        r"\(asked for MED/33930000\)"):
        europepmc.fetch_citing(Work(DEFAULT_DOI), obs, session)
