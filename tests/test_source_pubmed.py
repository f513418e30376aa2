"""PubMed: elink and efetch parsers on the real recordings, cited-in counts through the fake,
and the cited-in PMIDs read again from the answer the count came from."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure
from monitor.models import Exchange, Observation, Outcome, Work
from monitor.sources import pubmed
from tests.conftest import DEFAULT_DOI, real_path
from tests.fakeapi.routes import pubmed as fake_pubmed

ELINK = "pubmed/elink_pubmed_to_pubmed_incl_citedin_pmid14873513.xml"
EFETCH = "pubmed/efetch_pubmed_xml_pmid28731372.xml"
PMID = "33930000"


def cited_in_ids(text: str) -> list[str]:
    """The Ids of the pubmed_pubmed_citedin LinkSetDb, read with a regex, apart from the parser."""
    block = re.search(
        r"<LinkName>pubmed_pubmed_citedin</LinkName>(.*?)</LinkSetDb>", text, re.DOTALL
    )
    return re.findall(r"<Id>(\d+)</Id>", block.group(1))


def test_real_elink_answer_counts_only_the_cited_in_link_set():
    body = real_path(ELINK).read_bytes()
    link_sets = pubmed.parse_elink(body)
    assert list(link_sets) == ["14873513"]
    parsed = pubmed.parse_link_set(link_sets["14873513"])
    assert parsed.citations == len(cited_in_ids(body.decode())) == 6
    assert parsed.metadata == {"pmid": "14873513"}
    assert body.count(b"<Id>") > 100  # the similar-articles link sets are not counted


def test_a_link_set_without_cited_in_is_zero():
    root = ET.fromstring(real_path(ELINK).read_bytes())
    link_set = root.find("LinkSet")
    for db in link_set.findall("LinkSetDb"):
        if db.findtext("LinkName") == "pubmed_pubmed_citedin":
            link_set.remove(db)
    assert pubmed.parse_link_set(link_set).citations == 0


def test_an_error_of_the_whole_answer_raises_with_ncbi_text():
    body = b"<eLinkResult><ERROR>Invalid db name specified: pubmd</ERROR></eLinkResult>"
    with pytest.raises(FetchFailure, match="PubMed: Invalid db name specified: pubmd"):
        pubmed.parse_elink(body)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"<html><body>Down for maintenance", "not valid XML"),
        (b"<eSearchResult><Count>1</Count></eSearchResult>", "expected an eLinkResult document"),
        (b"<eLinkResult><LinkSet><DbFrom>pubmed</DbFrom></LinkSet></eLinkResult>", "no IdList/Id"),
    ],
)
def test_an_unexpected_document_is_malformed(body, message):
    with pytest.raises(MalformedResponse, match=message):
        pubmed.parse_elink(body)


def test_a_citing_id_that_is_not_a_pmid_is_malformed():
    text = real_path(ELINK).read_text().replace("<Id>22356836</Id>", "<Id>PMC123</Id>")
    link_set = pubmed.parse_elink(text.encode())["14873513"]
    with pytest.raises(MalformedResponse, match="'PMC123' is not a PMID"):
        pubmed.parse_link_set(link_set)


def test_real_efetch_record():
    [(pmid, meta)] = pubmed.parse_efetch(real_path(EFETCH).read_bytes()).items()
    assert pmid == "28731372" == meta["pmid"]
    assert meta["title"] == (
        "Exploring the effect of vitamin D3 supplementation on the anti-EBV antibody response "
        "in relapsing-remitting multiple sclerosis"
    )
    assert meta["doi"] == "10.1177/1352458517722646" and meta["pmcid"] == "PMC6108041"
    assert meta["journal"] == "Multiple sclerosis (Houndmills, Basingstoke, England)"
    assert meta["journal_abbreviation"] == "Mult Scler" and meta["issn"] == "1477-0970"
    assert (meta["volume"], meta["issue"], meta["pages"]) == ("24", "10", "1280-1287")
    assert (meta["published"], meta["published_online"], meta["year"]) == (
        "2018-09",
        "2017-07-21",
        2018,
    )
    assert len(meta["authors"]) == 11
    assert (
        meta["authors"][0]["name"] == "Linda Rolf" and meta["authors"][-1]["family"] == "Hupperts"
    )
    assert len(meta["mesh"]) == 11 and meta["mesh"][0] == "Adult"
    assert "Epstein\u2013Barr virus" in meta["keywords"] and len(meta["keywords"]) == 6
    assert meta["abstract"].startswith("Background: Epstein-Barr virus (EBV) infection")
    assert "high-dose vitamin D3 supplements" in meta["abstract"]
    assert meta["publication_types"][:2] == ["Journal Article", "Randomized Controlled Trial"]


# --- through the fake ---


def test_fetch_counts_the_constructed_citing_pmids(fake_api, make_session):
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed))
    assert obs.outcome is Outcome.OK, obs.message
    assert obs.citations == 3
    assert obs.metadata == {"pmid": PMID, "publication_types": ["Journal Article", "Review"]}
    [hit] = fake_api.hits("pubmed", "/elink.fcgi")
    assert (hit.arg("dbfrom"), hit.arg("db"), hit.arg("linkname")) == (
        "pubmed",
        "pubmed",
        "pubmed_pubmed_citedin",
    )
    assert hit.query["id"] == [PMID]
    assert (hit.arg("tool"), hit.arg("email")) == ("citation-monitor", "monitor-tests@example.org")
    assert "api_key" not in hit.query


def test_no_email_parameter_without_a_contact(fake_api, make_session):
    pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed, contact_email=None))
    for hit in fake_api.hits("pubmed"):  # elink, then efetch
        assert hit.arg("tool") == "citation-monitor" and "email" not in hit.query


def test_an_article_nobody_cites_is_zero_not_an_error(fake_api, make_session):
    [obs] = pubmed.fetch([Work("10.9999/uncited", pmid="12345")], make_session(pubmed))
    assert obs.outcome is Outcome.OK and obs.citations == 0


def test_fetch_sends_100_ids_a_request_and_keeps_counts_apart(fake_api, make_session):
    fake_pubmed.set_citing(fake_api, "40000007", ["41000001", "41000002", "41000003"])
    works = [Work(f"10.9999/x.{i}", pmid=str(40000000 + i)) for i in range(149)] + [
        Work(DEFAULT_DOI, pmid=PMID)
    ]
    observations = pubmed.fetch(works, make_session(pubmed))
    assert [len(h.query["id"]) for h in fake_api.hits("pubmed", "/elink.fcgi")] == [100, 50]
    counts = {o.doi: o.citations for o in observations}
    assert counts[DEFAULT_DOI] == 3 and counts["10.9999/x.7"] == 3 and counts["10.9999/x.8"] == 0
    assert {o.outcome for o in observations} == {Outcome.OK}


def test_the_api_key_is_sent_and_redacted_from_stored_urls(fake_api, make_session):
    session = make_session(pubmed, api_key="sekrit-key")
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], session)
    assert fake_api.hits("pubmed")[0].arg("api_key") == "sekrit-key"
    assert "sekrit-key" not in obs.exchange.url and "api_key=REDACTED" in obs.exchange.url


def test_a_refused_key_echoed_in_the_error_body_is_not_in_the_message(fake_api, make_session):
    fake_api.inject(
        "pubmed", status=400, body=b'{"error":"API key invalid","api-key":"sekrit-key"}'
    )
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed, api_key="sekrit-key"))
    assert obs.outcome is Outcome.ERROR and "HTTP 400" in obs.message
    assert "sekrit-key" not in obs.message and "REDACTED" in obs.message
    assert b"sekrit-key" not in obs.exchange.body  # the stored body too


def test_a_throttled_key_echoed_in_429_bodies_is_not_stored(fake_api, make_session):
    body = b'{"error":"API rate limit exceeded","api-key":"sekrit-key","count":"11","limit":"10"}'
    fake_api.inject("pubmed", status=429, times=2, body=body)
    session = make_session(pubmed, api_key="sekrit-key")
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], session)
    assert obs.outcome is Outcome.RATE_LIMITED
    assert len(session.exchanges) == 2
    assert all(b"sekrit-key" not in x.body and "sekrit-key" not in x.url for x in session.exchanges)


def test_an_error_element_of_the_whole_answer_fails_the_batch(fake_api, make_session):
    fake_api.inject(
        "pubmed", body=b"<eLinkResult><ERROR>Empty id list - nothing todo</ERROR></eLinkResult>"
    )
    observations = pubmed.fetch(
        [Work(DEFAULT_DOI, pmid=PMID), Work("10.9/b", pmid="2")], make_session(pubmed)
    )
    assert [o.outcome for o in observations] == [Outcome.ERROR, Outcome.ERROR]
    assert observations[0].message == "PubMed: Empty id list - nothing todo"
    assert observations[0].exchange is not None


def test_an_error_element_of_one_link_set_fails_that_work_only(fake_api, make_session):
    body = (
        "<eLinkResult>"
        + fake_pubmed.link_set(fake_api, PMID)
        + "<LinkSet><DbFrom>pubmed</DbFrom><IdList><Id>99</Id></IdList><ERROR>Invalid uid 99</ERROR></LinkSet>"
        + "</eLinkResult>"
    )
    fake_api.inject("pubmed", body=body.encode())
    ok, bad = pubmed.fetch(
        [Work(DEFAULT_DOI, pmid=PMID), Work("10.9/b", pmid="99")], make_session(pubmed)
    )
    assert ok.outcome is Outcome.OK and ok.citations == 3
    assert bad.outcome is Outcome.ERROR and bad.message == "PubMed: Invalid uid 99"


def test_a_pmid_missing_from_the_answer_is_not_found(fake_api, make_session):
    fake_api.inject(
        "pubmed",
        body=("<eLinkResult>" + fake_pubmed.link_set(fake_api, PMID) + "</eLinkResult>").encode(),
    )
    ok, missing = pubmed.fetch(
        [Work(DEFAULT_DOI, pmid=PMID), Work("10.9/b", pmid="5")], make_session(pubmed)
    )
    assert ok.outcome is Outcome.OK and missing.outcome is Outcome.NOT_FOUND


def test_429_is_rate_limited(fake_api, make_session):
    fake_api.inject(
        "pubmed", status=429, times=2, body=b'{"error":"API rate limit exceeded","count":"4"}'
    )
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.citations is None


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("pubmed", malformed=True)
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed))
    assert obs.outcome is Outcome.ERROR and "not valid XML" in obs.message


# --- citing works (the ledger) ---


def test_real_elink_answer_lists_the_cited_in_pmids_in_order():
    body = real_path(ELINK).read_bytes()
    link_set = pubmed.parse_elink(body)["14873513"]
    pmids = pubmed.cited_in_pmids(link_set)
    assert pmids == cited_in_ids(body.decode())
    assert len(pmids) == 6 and "22356836" in pmids


def test_fetch_citing_reads_the_batch_answer_again_without_a_request(fake_api, make_session):
    session = make_session(pubmed)
    works = [Work("10.9/b", pmid="12345"), Work(DEFAULT_DOI, pmid=PMID)]
    uncited, obs = pubmed.fetch(works, session)
    before = len(fake_api.hits("pubmed"))
    listing = pubmed.fetch_citing(works[1], obs, session)
    assert len(fake_api.hits("pubmed")) == before  # no request of its own
    assert listing.outcome is Outcome.OK and listing.complete is True
    assert [r.pmid for r in listing.records] == ["35000001", "36000003", "37000006"]
    assert len(listing.records) == obs.citations == listing.count_at_fetch
    assert all(r.exchange is obs.exchange and r.source == "pubmed" for r in listing.records)
    nobody = pubmed.fetch_citing(works[0], uncited, session)
    assert nobody.records == () and nobody.complete is True and nobody.count_at_fetch == 0


def test_the_lists_of_a_batch_parse_its_answer_once(fake_api, make_session, monkeypatch):
    session = make_session(pubmed)
    works = [Work("10.9/b", pmid="12345"), Work(DEFAULT_DOI, pmid=PMID)]
    observations = pubmed.fetch(works, session)
    assert observations[0].exchange is observations[1].exchange  # one batch answer
    parses = []
    real = pubmed.parse_elink
    monkeypatch.setattr(pubmed, "parse_elink", lambda body: parses.append(body) or real(body))
    lists = [pubmed.fetch_citing(w, o, session) for w, o in zip(works, observations)]
    assert [len(x.records) for x in lists] == [0, 3]
    assert len(parses) == 1  # not once a work


def test_fetch_citing_of_a_real_answer():
    body = real_path(ELINK).read_bytes()
    exchange = Exchange(
        "pubmed",
        "GET",
        "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/elink.fcgi",
        200,
        {},
        body,
        datetime.now(UTC),
        1,
    )
    obs = Observation(DEFAULT_DOI, "pubmed", Outcome.OK, citations=6, exchange=exchange)
    listing = pubmed.fetch_citing(Work(DEFAULT_DOI, pmid="14873513"), obs, None)
    assert [r.pmid for r in listing.records] == cited_in_ids(body.decode())
    with pytest.raises(MalformedResponse, match="PMID 99 has no LinkSet"):
        pubmed.fetch_citing(Work(DEFAULT_DOI, pmid="99"), obs, None)


def test_a_title_ending_in_an_ellipsis_keeps_it():
    text = real_path(EFETCH).read_text()
    start = text.index("<ArticleTitle>") + len("<ArticleTitle>")
    end = text.index("</ArticleTitle>")
    body = (text[:start] + "Vitamin D and the anti-EBV response..." + text[end:]).encode()
    [meta] = pubmed.parse_efetch(body).values()
    assert meta["title"] == "Vitamin D and the anti-EBV response..."


def test_the_status_reader_reads_what_the_full_reader_reads_of_the_status():
    """A quiet run reads each efetch answer for its STATUS_FIELDS alone: the same values."""
    text = real_path(EFETCH).read_text()
    links = (
        '<CommentsCorrectionsList><CommentsCorrections RefType="RetractionIn">'
        "<RefSource>J X. 2024;1:2. doi: 10.1/x</RefSource><PMID>38000099</PMID></CommentsCorrections>"
        '<CommentsCorrections RefType="CommentIn"><RefSource>Nature</RefSource></CommentsCorrections>'
        "</CommentsCorrectionsList>"
    )
    retracted = (text.replace("</PublicationTypeList>", "<PublicationType>Retracted Publication</PublicationType>"
                              "</PublicationTypeList>", 1)
                 .replace("</MedlineCitation>", links + "</MedlineCitation>", 1))
    for body in (text.encode(), retracted.encode()):
        full = pubmed.parse_efetch(body)
        expected = {pmid: {k: meta[k] for k in pubmed.STATUS_FIELDS if k in meta} for pmid, meta in full.items()}
        assert pubmed.parse_statuses(body) == expected
    assert expected["28731372"]["is_retracted"] is True and len(expected["28731372"]["updated_by"]) == 1
    assert "title" in full["28731372"]  # the full reader still reads the whole record
    with pytest.raises(MalformedResponse, match="no MedlineCitation/Article"):
        pubmed.parse_statuses(text.replace("<Article ", "<Paper ").replace("</Article>", "</Paper>").encode())


def test_a_linkset_for_a_pmid_not_asked_is_an_error_for_the_work_without_one(fake_api, make_session):
    fake_api.inject("pubmed", rewrite=lambda body: body.replace(f"<Id>{PMID}</Id>", "<Id>11111111</Id>", 1))
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert obs.message.startswith("answered for another work: the answer holds PMID 11111111")


def test_a_retraction_pubmed_states_is_read_from_efetch(fake_api, make_session):
    """PubMed marks a retracted article by its publication type and a RetractionIn link."""
    fake_pubmed.set_article(
        fake_api,
        PMID,
        ["Journal Article", "Retracted Publication"],
        [("RetractionIn", "38000099", "Drug Resist Updat. 2024;70:101000. doi: 10.1016/j.drup.2024.101000"),
         ("ErratumIn", "37000098", "Drug Resist Updat. 2023;66:100900"),
         ("CommentIn", "36000097", "Nature. 2022")],
    )
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed))
    assert obs.outcome is Outcome.OK and obs.citations == 3
    assert obs.metadata["is_retracted"] is True
    assert obs.metadata["updated_by"] == [
        {"type": "retraction", "label": "Retraction", "pmid": "38000099",
         "doi": "10.1016/j.drup.2024.101000",
         "reference": "Drug Resist Updat. 2024;70:101000. doi: 10.1016/j.drup.2024.101000"},
        {"type": "erratum", "label": "Erratum", "pmid": "37000098",
         "reference": "Drug Resist Updat. 2023;66:100900"},
    ]
    [efetch] = fake_api.hits("pubmed", "/efetch.fcgi")
    assert (efetch.arg("db"), efetch.arg("id"), efetch.arg("retmode")) == ("pubmed", PMID, "xml")


def test_a_failed_efetch_leaves_the_counts_standing(fake_api, make_session):
    from tests.fakeapi import Fault

    fake_api.inject("pubmed", Fault())  # elink answers
    fake_api.inject("pubmed", Fault(status=503, times=None))  # efetch does not
    [obs] = pubmed.fetch([Work(DEFAULT_DOI, pmid=PMID)], make_session(pubmed, max_retries=0))
    assert obs.outcome is Outcome.OK and obs.citations == 3
    assert "is_retracted" not in obs.metadata and "publication_types" not in obs.metadata
