"""OpenCitations: the parsers on every real count and citation recording, fetch and fetch_citing
through the fake.

The metadata recordings (legacy COCI v1 ``/metadata``, the Meta API exemplar) answer
endpoints the monitor does not call.
"""

from __future__ import annotations

import copy

import pytest

from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import FetchFailure
from monitor.models import Outcome, Work
from monitor.sources import opencitations
from tests.conftest import DEFAULT_DOI, real_files, real_json, run_and_read_ledger
from tests.fakeapi import Fault
from tests.fakeapi.routes import opencitations as fake_oc

COUNT_FILES = [p.name for p in real_files("opencitations", "docs_exemplar_index_v2_*-count.json")]
CITATION_FILES = [
    "coci_v1_legacy_citation_by_oci.json",
    "coci_v1_legacy_citations_10.1108_jd-12-2013-0166.json",
    "docs_exemplar_index_v2_citation.json",
]


def test_the_count_recordings_are_the_two_index_v2_exemplars():
    names = {p.name for p in real_files("opencitations")}
    if names:
        assert COUNT_FILES == [
            "docs_exemplar_index_v2_citation-count.json",
            "docs_exemplar_index_v2_reference-count.json",
        ]


def test_every_real_recording_but_the_metadata_ones_is_read_here():
    names = {p.name for p in real_files("opencitations")}
    if names:
        assert names - set(COUNT_FILES) - set(CITATION_FILES) == {
            "coci_v1_legacy_metadata_10.1108_jd-12-2013-0166.json",
            "docs_exemplar_meta_v1_metadata.json",
        }


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


def test_a_zero_for_a_doi_opencitations_does_not_know_is_not_found(fake_api, make_session):
    """The index counts 0 for any DOI it never saw: its own Meta API tells the two apart."""
    [obs] = opencitations.fetch([Work("10.9999/does-not-exist")], make_session(opencitations))
    assert obs.outcome is Outcome.NOT_FOUND and obs.citations is None
    assert "OpenCitations Meta has no record of this DOI" in obs.message
    [meta] = fake_api.hits("opencitations", "/meta/v1/metadata/")
    assert meta.path == "/meta/v1/metadata/doi:10.9999/does-not-exist"
    assert obs.exchange.url.endswith("/meta/v1/metadata/doi:10.9999/does-not-exist")


def test_a_zero_for_a_doi_meta_knows_is_a_count(fake_api, make_session):
    fake_oc.know(fake_api, "10.9999/uncited")
    [obs] = opencitations.fetch([Work("10.9999/uncited")], make_session(opencitations))
    assert obs.outcome is Outcome.OK and obs.citations == 0
    assert obs.exchange.url.endswith("/citation-count/doi:10.9999/uncited")


def test_a_zero_whose_check_fails_is_not_counted(fake_api, make_session):
    fake_oc.know(fake_api, "10.9999/uncited")
    session = make_session(opencitations, max_retries=0)
    fake_api.inject("opencitations", Fault())  # the count goes through
    fake_api.inject("opencitations", Fault(status=500))  # the Meta lookup fails
    [obs] = opencitations.fetch([Work("10.9999/uncited")], session)
    assert obs.outcome is Outcome.NOT_FOUND and obs.citations is None
    assert "its metadata lookup failed (HTTP 500" in obs.message


def test_a_meta_record_of_another_doi_is_no_record_of_this_one():
    record = real_json("opencitations/docs_exemplar_meta_v1_metadata.json")
    assert opencitations.meta_knows(record, "10.1007/978-1-4020-9632-7")
    assert not opencitations.meta_knows(record, "10.9999/another")
    assert not opencitations.meta_knows([], "10.1007/978-1-4020-9632-7")


def test_the_meta_api_is_found_beside_the_index():
    assert opencitations.meta_url("https://api.opencitations.net/index/v2") == (
        "https://api.opencitations.net/meta/v1"
    )
    assert opencitations.meta_url("http://127.0.0.1:9/opencitations") == (
        "http://127.0.0.1:9/opencitations/meta/v1"
    )


def test_one_request_per_work_in_order(fake_api, make_session):
    works = [Work("10.9999/a"), Work(DEFAULT_DOI), Work("10.9999/b")]
    for work in works:
        fake_oc.know(fake_api, work.doi)
    observations = opencitations.fetch(works, make_session(opencitations))
    assert [o.citations for o in observations] == [0, 33, 0]
    assert [h.path for h in fake_api.hits("opencitations", "/citation-count/")] == [
        f"/citation-count/doi:{w.doi}" for w in works
    ]


def test_a_list_of_another_works_citations_is_an_error(fake_api, make_session):
    session = make_session(opencitations)
    counted = observed(session)
    rows = fake_api.records[fake_oc.CITING][DEFAULT_DOI]
    fake_api.inject("opencitations", rewrite=lambda _: [
        {**row, "cited": "omid:br/06180334099 doi:10.1108/jd-12-2013-0166"} for row in rows
    ])
    with pytest.raises(WrongWork, match="answered for another work: a citation of 10.1108/jd-"):
        opencitations.fetch_citing(Work(DEFAULT_DOI), counted, session)


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


# --- citing works: the parser on real citation lists ---

# The shared citing works OpenCitations lists: A, B, C (author_sc "yes") and D', the
# published version of the preprint D.
CITING_DOIS = [
    "10.1038/s41580-022-00001-a",
    "10.1016/j.ccell.2022.00002",
    "10.1016/j.phrs.2023.00003",
    "10.1038/s41467-024-00005",
]


def test_real_index_v2_citation_exemplar():
    [record] = opencitations.parse_citations(
        real_json("opencitations/docs_exemplar_index_v2_citation.json")
    )
    # citing: "omid:br/06101801781 doi:10.7717/peerj-cs.421 pmid:33817056"
    assert (record.doi, record.pmid) == ("10.7717/peerj-cs.421", "33817056")
    assert (record.published, record.year) == ("2021-03-10", 2021)
    assert (record.author_sc, record.journal_sc) == (False, False)
    assert record.source == "opencitations" and record.title is None


def test_real_legacy_coci_list_of_bare_dois():
    rows = real_json("opencitations/coci_v1_legacy_citations_10.1108_jd-12-2013-0166.json")
    records = opencitations.parse_citations(rows)
    assert len(records) == len(rows) == 20
    assert [r.doi for r in records] == [row["citing"] for row in rows]
    assert [r.published for r in records] == [row["creation"] for row in rows]
    first, second = records[:2]
    assert (first.doi, first.published, first.year) == ("10.1145/3197026.3197050", "2018", 2018)
    assert (second.published, second.year) == ("2017-08", 2017)
    assert {r.author_sc for r in records} == {False} and {r.journal_sc for r in records} == {False}
    assert all(r.pmid is None for r in records)


def test_real_legacy_single_citation():
    [record] = opencitations.parse_citations(
        real_json("opencitations/coci_v1_legacy_citation_by_oci.json")
    )
    assert (record.doi, record.published) == ("10.1108/jd-12-2013-0166", "2015-03-09")


def test_a_citation_in_several_indexes_takes_the_first_value():
    row = real_json("opencitations/docs_exemplar_index_v2_citation.json")[0]
    row.update(
        oci="coci => 06101801781-06180334099; poci => 06101801781-06180334099",
        citing="coci => omid:br/06101801781 doi:10.7717/peerj-cs.421; poci => pmid:33817056",
        creation="coci => 2021-03-10; poci => 2021-03",
        author_sc="coci => yes; poci => no",
        journal_sc="coci => no; poci => no",
    )
    [record] = opencitations.parse_citations([row])
    assert (record.doi, record.pmid, record.published) == (
        "10.7717/peerj-cs.421",
        None,
        "2021-03-10",
    )
    assert (record.author_sc, record.journal_sc) == (True, False)


def test_the_first_doi_among_several_is_the_citing_works():
    ids = opencitations.parse_pids(
        "omid:br/06101802023 doi:10.7717/peerj-cs.163 pmid:33816816 doi:10.7287/peerj.preprints.26727v1"
    )
    assert ids == {"omid": "br/06101802023", "doi": "10.7717/peerj-cs.163", "pmid": "33816816"}
    assert (
        opencitations.parse_pids("openalex:W4249829199 omid:br/0612058700")["openalex"]
        == "W4249829199"
    )


def test_a_citation_repeated_by_oci_is_listed_once_and_one_known_only_by_omid_is_left_out():
    row = real_json("opencitations/docs_exemplar_index_v2_citation.json")[0]
    bare = dict(row, oci="0612-0618", citing="omid:br/0612")
    records = opencitations.parse_citations([row, copy.deepcopy(row), bare])
    assert [r.doi for r in records] == ["10.7717/peerj-cs.421"]


def test_empty_values_are_unknown():
    row = real_json("opencitations/docs_exemplar_index_v2_citation.json")[0]
    row.update(creation="", author_sc="", journal_sc="", timespan="")
    [record] = opencitations.parse_citations([row])
    assert (record.published, record.year, record.author_sc, record.journal_sc) == (None,) * 4


@pytest.mark.parametrize(
    "change, error",
    [
        ({"citing": None}, "field '[0].citing' should be a string"),
        ({"creation": "March 2021"}, "field '[0].creation' should be a date"),
        ({"author_sc": "maybe"}, "field '[0].author_sc' should be yes or no"),
        ({"journal_sc": True}, "field '[0].journal_sc' should be a string"),
    ],
)
def test_a_changed_citation_row_is_an_error_naming_the_field(change, error):
    row = real_json("opencitations/docs_exemplar_index_v2_citation.json")[0]
    row.update(change)
    with pytest.raises(MalformedResponse, match=error.replace("[", r"\[")):
        opencitations.parse_citations([row])


def test_a_list_that_is_not_a_list_is_an_error():
    with pytest.raises(MalformedResponse, match="expected a list of citations, got dict"):
        opencitations.parse_citations({"citations": []})
    row = real_json("opencitations/docs_exemplar_index_v2_citation.json")[0]
    del row["citing"]
    with pytest.raises(MalformedResponse, match=r"field '\[0\]\.citing' is missing"):
        opencitations.parse_citations([row])


# --- citing works through the fake ---


def observed(session, doi=DEFAULT_DOI):
    [obs] = opencitations.fetch([Work(doi)], session)
    assert obs.outcome is Outcome.OK
    return obs


def test_fetch_citing_the_default_article(fake_api, make_session):
    session = make_session(opencitations)
    obs = observed(session)
    listing = opencitations.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.OK and listing.complete is True
    assert (listing.doi, listing.source, listing.count_at_fetch) == (
        DEFAULT_DOI,
        "opencitations",
        33,
    )
    assert [r.doi for r in listing.records] == CITING_DOIS
    assert [r.pmid for r in listing.records] == ["35000001", "35000002", "36000003", "38000005"]
    assert [r.year for r in listing.records] == [2022, 2022, 2023, 2024]
    assert [r.author_sc for r in listing.records] == [False, False, True, False]
    assert {r.journal_sc for r in listing.records} == {False}
    [hit] = fake_api.hits("opencitations", "/citations/")
    assert (hit.method, hit.path) == ("GET", f"/citations/doi:{DEFAULT_DOI}")
    assert all(r.exchange is session.exchanges[-1] for r in listing.records)  # provenance


def test_the_access_token_goes_in_the_header_for_the_list_too(fake_api, make_session):
    session = make_session(opencitations, api_key="oc-token")
    opencitations.fetch_citing(Work(DEFAULT_DOI), observed(session), session)
    [hit] = fake_api.hits("opencitations", "/citations/")
    assert hit.headers["authorization"] == "oc-token"
    assert all("oc-token" not in x.url for x in session.exchanges)


def test_an_empty_list_is_complete_only_for_an_uncited_work(fake_api, make_session):
    session = make_session(opencitations)
    fake_oc.know(fake_api, "10.9999/uncited")
    uncited = observed(session, "10.9999/uncited")  # counts 0, lists nothing
    listing = opencitations.fetch_citing(Work("10.9999/uncited"), uncited, session)
    assert listing.records == () and listing.complete is True
    fake_api.records[fake_oc.CITING][DEFAULT_DOI] = []
    listing = opencitations.fetch_citing(Work(DEFAULT_DOI), observed(session), session)
    assert listing.outcome is Outcome.OK and listing.records == () and listing.complete is False


def test_a_list_as_long_as_the_server_limit_may_be_cut(fake_api, make_session, monkeypatch):
    monkeypatch.setattr(opencitations, "ROW_LIMIT", 4)
    session = make_session(opencitations)
    listing = opencitations.fetch_citing(Work(DEFAULT_DOI), observed(session), session)
    assert len(listing.records) == 4 and listing.complete is False


@pytest.mark.parametrize(
    "fault, outcome, text",
    [
        (Fault(status=500, body=b"Internal Server Error", times=None), Outcome.ERROR, "HTTP 500"),
        (Fault(status=404, body=b"Not found"), Outcome.ERROR, "HTTP 404"),
        (
            Fault(status=429, headers={"Retry-After": "0"}, times=None),
            Outcome.RATE_LIMITED,
            "HTTP 429",
        ),
    ],
)
def test_a_failed_request_fails_the_list(fake_api, make_session, fault, outcome, text):
    session = make_session(opencitations)
    obs = observed(session)
    fake_api.inject("opencitations", fault)
    with pytest.raises(FetchFailure) as failed:
        opencitations.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert failed.value.outcome is outcome and text in failed.value.message


def test_a_malformed_list_fails(fake_api, make_session):
    session = make_session(opencitations)
    obs = observed(session)
    fake_api.inject("opencitations", malformed=True)
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        opencitations.fetch_citing(Work(DEFAULT_DOI), obs, session)


# --- citing works in a run: the collector stores the list, or its failure ---


def test_a_run_stores_the_list_with_the_self_citation_flag(write_config):
    config = write_config(only=("opencitations",))
    [fetch], rows = run_and_read_ledger(config, "opencitations")
    assert (fetch["outcome"], fetch["complete"], fetch["items"]) == ("ok", 1, 4)
    by_doi = {row["doi"]: row for row in rows}
    assert set(by_doi) == set(CITING_DOIS)
    # OpenCitations says so, though no other source gave the tracked work's authors here
    assert by_doi["10.1016/j.phrs.2023.00003"]["is_self_citation"] == 1
    assert by_doi["10.1016/j.phrs.2023.00003"]["sightings"]["opencitations"]["author_sc"] == 1
    assert by_doi["10.1038/s41580-022-00001-a"]["is_self_citation"] == 0


def test_a_run_whose_list_request_fails_stores_a_failed_list(write_config, fake_api):
    config = write_config(only=("opencitations",))
    fake_api.inject("opencitations", Fault())  # the count passes
    fake_api.inject("opencitations", status=500, body=b"Internal Server Error", times=None)
    [fetch], rows = run_and_read_ledger(config, "opencitations")
    assert (fetch["outcome"], fetch["complete"], fetch["items"]) == ("error", 0, 0)
    assert "HTTP 500" in fetch["message"]
    assert rows == []
