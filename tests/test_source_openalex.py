"""OpenAlex: the parsers on every real recorded response, and fetch and fetch_citing through
the fake."""

from __future__ import annotations

import dataclasses
import json

import pytest

from monitor import collect, ledger
from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure
from monitor.models import Observation, Outcome, Work
from monitor.sources import openalex
from tests.conftest import DEFAULT_DOI, real_files, real_json, real_path
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.server import CONSTRUCTED

WORK_FILES = [
    p for p in real_files("openalex") if p.name.startswith("work_") and "select" not in p.name
]


@pytest.mark.parametrize("path", WORK_FILES, ids=lambda p: p.name)
def test_parses_every_real_work_record(path):
    record = json.loads(path.read_text())
    parsed = openalex.parse_work(record)
    assert parsed.citations == record["cited_by_count"]
    assert parsed.metrics["fwci"] == record["fwci"]
    assert (
        parsed.metrics["citation_percentile"] == record["citation_normalized_percentile"]["value"]
    )
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


@pytest.mark.parametrize("path", WORK_FILES, ids=lambda p: p.name)
def test_pmcid_is_stored_as_other_sources_store_it(path):
    """OpenAlex writes ids.pmcid as a PMC URL ending in bare digits; we store 'PMC<digits>'."""
    record = json.loads(path.read_text())
    url = record["ids"].get("pmcid")
    parsed = openalex.parse_work(record)
    if url is None:
        assert "pmcid" not in parsed.metadata
        return
    digits = url.rstrip("/").rsplit("/", 1)[1].removeprefix("PMC")
    assert parsed.metadata["pmcid"] == f"PMC{digits}"
    assert openalex.parse_citing(record).pmcid == f"PMC{digits}"


def test_state_of_oa_record_pmcid():
    meta = openalex.parse_work(real_json("openalex/work_W2741809807_state_of_oa_full.json")).metadata
    assert meta["pmcid"] == "PMC5815332"  # ids.pmcid ".../pmc/articles/5815332" in the recording


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/5815332", "PMC5815332"),
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5815332/", "PMC5815332"),
        ("10134429", "PMC10134429"),
        ("pmc6108041", "PMC6108041"),
        ("PMC", None),
        ("not-an-id", None),
        (None, None),
    ],
)
def test_one_pmcid_form_for_every_source(value, expected):
    from monitor.sources.base import pmcid_or_none

    assert pmcid_or_none(value) == expected


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


def _sorted_rebuild(index):
    positions = {pos: word for word, places in index.items() if isinstance(places, list) for pos in places}
    return " ".join(positions[p] for p in sorted(positions)) or None


@pytest.mark.parametrize("index", [
    {"b": [1], "a": [0, 3], "c": [2]},
    {"a": [0], "c": [3]},  # a gap
    {"a": [0, 1], "b": [1]},  # a position twice
    {"a": [0], "b": [1, 2], "c": 5, "d": "01", "e": [], "f": {"3": 1}},  # places that are not lists
    {"a": [0], "b": [1.0]},
], ids=["in-order", "gap", "twice", "not-lists", "float"])
def test_an_odd_inverted_index_is_rebuilt_in_the_order_of_its_positions(index):
    assert openalex.abstract_from_index(index) == _sorted_rebuild(index)


def test_every_recorded_abstract_is_rebuilt_as_its_positions_order_it():
    indexes = [r["abstract_inverted_index"] for path in real_files("openalex") + sorted((CONSTRUCTED / "openalex").glob("*.json"))
               for r in _records(json.loads(path.read_text())) if isinstance(r.get("abstract_inverted_index"), dict)]
    if not indexes:
        pytest.skip("no recorded abstract: ../shared/fixtures/real is absent")
    assert all(openalex.abstract_from_index(i) == _sorted_rebuild(i) for i in indexes)


def _records(payload):
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        return [r for r in payload["results"] if isinstance(r, dict)]
    return [payload] if isinstance(payload, dict) else []


def test_fetch_batches_100_dois_per_request(fake_api, make_session):
    works = [Work(DEFAULT_DOI)] + [Work(f"10.9999/x.{i}") for i in range(149)]
    observations = openalex.fetch(works, make_session(openalex))
    assert len(fake_api.hits("openalex", "/works")) == 2
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert observations[0].outcome is Outcome.OK and observations[0].citations == 41
    assert {o.outcome for o in observations[1:]} == {Outcome.NOT_FOUND}


def test_a_full_page_is_asked_whatever_the_batch(fake_api, make_session):
    openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex))
    assert fake_api.hits("openalex", "/works")[0].arg("per_page") == "100"


def test_a_page_cut_short_is_an_error_for_the_works_it_leaves_out(fake_api, make_session):
    """Two OpenAlex works may share a DOI: a full page can then leave a tracked work out."""
    record = fake_api.records["openalex"][DEFAULT_DOI]
    body = {"meta": {"count": 101, "per_page": 100}, "results": [record]}
    fake_api.inject("openalex", body=json.dumps(body).encode())
    found, missing = openalex.fetch([Work(DEFAULT_DOI), Work("10.9999/x")], make_session(openalex))
    assert found.outcome is Outcome.OK and found.citations == record["cited_by_count"]
    assert missing.outcome is Outcome.ERROR and missing.citations is None
    assert "lists 1 of the 101 records" in missing.message


def test_a_result_without_its_doi_is_an_error_naming_the_field(fake_api, make_session):
    record = {k: v for k, v in fake_api.records["openalex"][DEFAULT_DOI].items() if k != "doi"}
    body = {"meta": {"count": 1, "per_page": 100}, "results": [record]}
    fake_api.inject("openalex", body=json.dumps(body).encode())
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert "field 'results[].doi' is missing" in obs.message


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


SLOW_DOWN = b'{"error": "Rate limit exceeded; slow down"}'  # OpenAlex's errors page


def test_403_rate_limit_is_retried_like_a_429(fake_api, make_session):
    fake_api.inject("openalex", status=403, body=SLOW_DOWN)
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex, api_key="k"))
    assert obs.outcome is Outcome.OK and obs.citations == 41
    assert len(fake_api.hits("openalex")) == 2


def test_403_rate_limit_that_persists_is_rate_limited(fake_api, make_session):
    fake_api.inject("openalex", status=403, body=SLOW_DOWN, times=None)
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex, api_key="k"))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.citations is None
    assert obs.message.startswith("HTTP 403 from ") and obs.message.endswith(" after 2 attempts")
    assert len(fake_api.hits("openalex")) == 2  # max_retries = 1


# --- citing works (the ledger): the parser on the real work objects ---

LIST_PAGE = "openalex/works_list_filter_title_search_count2.json"


@pytest.mark.parametrize("path", WORK_FILES, ids=lambda p: p.name)
def test_every_real_work_record_parses_as_a_citing_work(path):
    record = json.loads(path.read_text())
    citing = openalex.parse_citing(record)
    assert citing.doi == doi_or_none(record["doi"])
    assert citing.openalex_id == record["id"].rsplit("/", 1)[1]
    assert (citing.title, citing.year, citing.published, citing.type) == (
        record["title"],
        record["publication_year"],
        record["publication_date"],
        record["type"],
    )
    assert citing.venue == record["primary_location"]["source"]["display_name"]
    assert [a["name"] for a in citing.authors] == [
        a["author"]["display_name"] for a in record["authorships"]
    ]
    assert citing.is_retracted is record["is_retracted"]
    assert set(citing.fields) == {t["field"]["display_name"] for t in record["topics"]}


def test_real_list_page_results_as_citing_works():
    article, preprint = (openalex.parse_citing(r) for r in real_json(LIST_PAGE)["results"])
    assert (article.doi, article.pmid, article.openalex_id) == (
        "10.1038/s42256-024-00832-8",
        "38799228",
        "W4396723768",
    )
    assert (article.venue, article.type, article.published, article.year) == (
        "Nature Machine Intelligence",
        "article",
        "2024-05-08",
        2024,
    )
    assert len(article.authors) == 6
    assert article.authors[2] == {
        "name": "Oliver Schilter",
        "orcid": "0000-0003-0310-0851",
        "openalex_id": "A5075449407",
    }
    assert article.authors[0] == {"name": "Andres M. Bran", "openalex_id": "A5031480183"}
    assert article.countries == ("CH", "US")
    assert article.institutions == (
        "École Polytechnique Fédérale de Lausanne",
        "University of Rochester",
        "IBM Research - Zurich",
    )
    assert article.fields == ("Materials Science", "Computer Science")
    assert article.is_retracted is False
    assert (preprint.doi, preprint.pmid, preprint.type) == (
        "10.48550/arxiv.2304.05376",
        None,
        "preprint",
    )
    assert preprint.venue == "arXiv (Cornell University)"
    assert preprint.countries == () and preprint.institutions == ()
    assert ledger.is_preprint(preprint) and not ledger.is_preprint(article)


def test_a_citing_work_without_an_id_is_an_error_naming_the_field():
    record = {k: v for k, v in real_json(LIST_PAGE)["results"][0].items() if k != "id"}
    with pytest.raises(MalformedResponse, match=r"'results\[3\].id' is missing"):
        openalex.parse_citing(record, where="results[3].")


# --- citing works through the fake ---

CITING_DOIS = [  # A, B, C, D' (the published version of the preprint D), E
    "10.1038/s41580-022-00001-a",
    "10.1016/j.ccell.2022.00002",
    "10.1016/j.phrs.2023.00003",
    "10.1038/s41467-024-00005",
    "10.3390/cancers15000006",
]


@pytest.fixture
def counted(fake_api, make_session):
    """A keyed session and the ok count observation of the default article (its request dropped)."""
    session = make_session(openalex, api_key="sekrit-key")
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], session)
    assert obs.metadata["openalex_id"] == "W3139000000"
    fake_api.requests.clear()
    return session, obs


def test_fetch_citing_lists_the_constructed_works(fake_api, counted):
    session, obs = counted
    listing = openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.OK and listing.complete is True
    assert listing.count_at_fetch == 41 and listing.source == "openalex"
    assert [r.doi for r in listing.records] == CITING_DOIS
    assert [r.pmid for r in listing.records] == [
        "35000001",
        "35000002",
        "36000003",
        "38000005",
        "37000006",
    ]
    a, b, c, d, e = listing.records
    assert (a.title, a.year, a.venue, a.type) == (
        "Autophagy and immune evasion in solid tumours",
        2022,
        "Nature Reviews Molecular Cell Biology",
        "review",
    )
    assert [x["name"] for x in a.authors] == ["Maria Rossi", "Jian Li"]
    assert a.countries == ("IT", "CN") and a.institutions == (
        "University of Milan",
        "Central South University",
    )
    assert d.authors[0]["orcid"] == "0000-0002-1825-0097" and d.year == 2024
    assert e.fields == ("Medicine",) and e.venue == "Cancers"
    tracked = obs.metadata["authors"]
    assert ledger.is_self_citation(c.authors, tracked)  # Yan Cheng, by OpenAlex author id
    assert not any(ledger.is_self_citation(r.authors, tracked) for r in (a, b, d, e))
    [first] = fake_api.hits("openalex", "/works")  # a short page with all 5 counted: the last
    assert (first.arg("filter"), first.arg("per_page"), first.arg("cursor")) == (
        "cites:W3139000000",
        "100",
        "*",
    )
    assert first.arg("api_key") == "sekrit-key"
    assert all("sekrit-key" not in x.url for x in session.exchanges)
    assert a.exchange is session.exchanges[-1]


def test_fetch_citing_follows_the_cursor(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(openalex, "PER_PAGE", 2)
    listing = openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    hits = fake_api.hits("openalex", "/works")
    assert len(hits) == 3  # 2 + 2 + 1: a short page bringing the last of the 5 counted
    assert len({h.arg("cursor") for h in hits}) == 3 and hits[0].arg("cursor") == "*"
    assert [r.doi for r in listing.records] == CITING_DOIS and listing.complete is True
    assert listing.records[0].exchange is not listing.records[2].exchange


def test_a_full_page_bringing_the_last_counted_still_asks_for_the_empty_page(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(openalex, "PER_PAGE", 5)  # all 5 on a full first page: more may follow
    listing = openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    hits = fake_api.hits("openalex", "/works")
    assert len(hits) == 2 and hits[1].arg("cursor") not in (None, "*")  # the empty last page
    assert [r.doi for r in listing.records] == CITING_DOIS and listing.complete is True


def test_a_short_page_short_of_its_count_follows_the_cursor(fake_api, counted):
    """A short page that leaves works counted but not listed is not the last: the cursor is
    followed to the page whose next_cursor is null."""
    session, obs = counted
    path = CONSTRUCTED / "openalex" / "citing_10.1016_j.drup.2021.100752.json"
    page = json.loads(path.read_text())
    page["meta"].update(count=6, next_cursor=fake_openalex._cursor(5))
    fake_api.inject("openalex", body=json.dumps(page).encode())
    listing = openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    hits = fake_api.hits("openalex", "/works")
    assert len(hits) == 2 and hits[1].arg("cursor") == fake_openalex._cursor(5)
    assert [r.doi for r in listing.records] == CITING_DOIS and listing.complete is True


def test_a_capped_list_is_not_complete(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(openalex, "PER_PAGE", 2)
    session.max_pages = 2
    listing = openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert len(fake_api.hits("openalex")) == 2
    assert listing.outcome is Outcome.OK and listing.complete is False
    assert [r.doi for r in listing.records] == CITING_DOIS[:4]


def test_a_failed_page_fails_the_list(fake_api, counted, monkeypatch):
    session, obs = counted
    monkeypatch.setattr(openalex, "PER_PAGE", 2)
    get = session.get

    def second_page_fails(path, params=None, **kw):
        if params and params.get("cursor") != "*":
            fake_api.inject("openalex", status=500, times=None)
        return get(path, params=params, **kw)

    session.get = second_page_fails
    with pytest.raises(FetchFailure, match="HTTP 500"):
        openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    listing = collect._fetch_list(openalex, Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.ERROR and listing.records == () and not listing.complete


def test_403_rate_limit_on_a_page_fails_the_list_as_rate_limited(fake_api, counted):
    session, obs = counted
    fake_api.inject("openalex", status=403, body=SLOW_DOWN, times=None)
    listing = collect._fetch_list(openalex, Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.RATE_LIMITED and listing.records == ()


def test_a_page_without_next_cursor_is_an_error_not_a_complete_list(fake_api, counted):
    session, obs = counted
    fake_api.inject("openalex", body=real_path(LIST_PAGE).read_bytes())  # basic paging's meta
    listing = collect._fetch_list(openalex, Work(DEFAULT_DOI), obs, session)
    assert listing.outcome is Outcome.ERROR
    assert listing.message == "unexpected response: field 'meta.next_cursor' is missing"


def test_an_empty_page_with_a_cursor_stops_the_list_incomplete(fake_api, counted):
    session, obs = counted
    body = {"meta": {"count": 5, "per_page": 100, "next_cursor": "IlsxNjA5Il0="}, "results": []}
    fake_api.inject("openalex", body=json.dumps(body).encode())
    listing = openalex.fetch_citing(Work(DEFAULT_DOI), obs, session)
    assert len(fake_api.hits("openalex")) == 1
    assert listing.records == () and listing.complete is False


def test_a_work_nobody_cites_has_a_complete_empty_list(fake_api, counted):
    session, obs = counted
    obs = dataclasses.replace(obs, citations=0, metadata={"openalex_id": "W1"})
    listing = openalex.fetch_citing(Work("10.9/b"), obs, session)
    assert listing.records == () and listing.complete is True
    assert fake_api.hits("openalex")[0].arg("filter") == "cites:W1"


def test_a_count_without_an_openalex_id_cannot_list(counted):
    session, obs = counted
    with pytest.raises(MalformedResponse, match="no OpenAlex id"):
        openalex.fetch_citing(Work(DEFAULT_DOI), dataclasses.replace(obs, metadata={}), session)


def test_a_batch_answer_holding_a_work_not_asked_for_counts_none_by_guesswork(fake_api, make_session):
    """A record for another DOI in the answer: the work it displaced is an error, not
    not_found, and the stranger's count goes nowhere."""
    def swap(page):
        page["results"][0] = {**page["results"][0], "doi": "https://doi.org/10.9999/other"}
        return page

    fake_api.inject("openalex", rewrite=swap)
    [obs] = openalex.fetch([Work(DEFAULT_DOI)], make_session(openalex))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert obs.message == (
        "answered for another work: the answer holds 10.9999/other, not asked for; "
        "whether this work is indexed is unknown"
    )


# --- the lists of several works in one query: cites:W1|W2 ---


def citing_work(work_id: str, doi: str) -> dict:
    return fake_openalex.listed_work(doi, f"Citing {work_id}", 2025, work_id)


@pytest.fixture
def two_cited(fake_api):
    """W1 is cited by A and B, W2 by B and C: B cites both."""
    a, b, c = (citing_work(f"W70{i}", f"10.5555/citing.{i}") for i in range(3))
    fake_api.records[fake_openalex.CITING]["W1"] = [a, b]
    fake_api.records[fake_openalex.CITING]["W2"] = [b, c]
    pairs = [
        (Work("10.5555/one"), Observation("10.5555/one", "openalex", Outcome.OK, citations=2, metadata={"openalex_id": "W1"})),
        (Work("10.5555/two"), Observation("10.5555/two", "openalex", Outcome.OK, citations=2, metadata={"openalex_id": "W2"})),
    ]
    return pairs


def batch_lists(pairs, session):
    """``fetch_citing_batch``'s lists, its units (a query's lists) run together."""
    return [listing for unit in openalex.fetch_citing_batch(pairs, session) for listing in unit]


def test_one_query_lists_the_works_citing_several_works_each_under_what_it_cites(fake_api, make_session, two_cited):
    lists = batch_lists(two_cited, make_session(openalex))
    assert [listing.doi for listing in lists] == ["10.5555/one", "10.5555/two"]
    assert [[r.doi for r in listing.records] for listing in lists] == [
        ["10.5555/citing.0", "10.5555/citing.1"], ["10.5555/citing.1", "10.5555/citing.2"]]
    assert all(listing.complete and listing.outcome is Outcome.OK for listing in lists)
    first = fake_api.hits("openalex", "/works")[0]
    assert first.arg("filter") == "cites:W1|W2" and "referenced_works" in first.arg("select")


def test_a_result_citing_none_of_the_works_asked_fails_every_list_of_the_query(fake_api, make_session, two_cited):
    def stranger(page):
        page["results"][0]["referenced_works"] = ["https://openalex.org/W999"]
        return page

    fake_api.inject("openalex", rewrite=stranger)
    lists = batch_lists(two_cited, make_session(openalex))
    assert [listing.outcome for listing in lists] == [Outcome.ERROR, Outcome.ERROR]
    assert all("answered for another work" in listing.message and not listing.records for listing in lists)


def test_a_list_is_complete_only_when_the_whole_querys_paging_is(fake_api, make_session, two_cited, monkeypatch):
    monkeypatch.setattr(openalex, "PER_PAGE", 1)
    session = make_session(openalex)
    session.max_pages = 1  # a cap of one page a work: two pages for the query, of four
    lists = batch_lists(two_cited, session)
    assert len(fake_api.hits("openalex")) == 2
    assert [listing.complete for listing in lists] == [False, False]
    assert [len(listing.records) for listing in lists] == [2, 1]  # A, B | B: two works seen


def test_a_query_asks_for_works_counted_at_most_records_per_query_in_all(fake_api, make_session, monkeypatch):
    """A query holds its works' lists until its last page, eight queries at once: at
    100,000 works, 50 well-cited works a query held 3,600 records and 11 MB of answers
    each. So its works' counts (OpenAlex's own) add up to at most ``RECORDS_PER_QUERY``;
    a work counted more is asked alone; lists and their order are as before."""
    monkeypatch.setattr(openalex, "RECORDS_PER_QUERY", 10)
    counts = {"W1": 6, "W2": 3, "W3": 4, "W4": 25, "W5": 0, "W6": 1}
    pairs = [
        (Work(f"10.5555/{w}"), Observation(f"10.5555/{w}", "openalex", Outcome.OK, citations=n,
                                           metadata={"openalex_id": w}))
        for w, n in counts.items()
    ]
    session = make_session(openalex)
    session.source = dataclasses.replace(session.source, max_concurrency=1)  # the queries in order
    lists = batch_lists(pairs, session)
    assert [h.arg("filter") for h in fake_api.hits("openalex", "/works")] == [
        "cites:W1|W2", "cites:W3", "cites:W4", "cites:W5|W6"]
    assert [listing.doi for listing in lists] == [f"10.5555/{w}" for w in counts]
    assert all(listing.complete for listing in lists)


def test_lists_left_when_the_budget_is_spent_are_not_fetched(fake_api, make_session, two_cited):
    session = make_session(openalex)
    session.budget = 0
    assert batch_lists(two_cited, session) == []
    assert not fake_api.hits("openalex")
