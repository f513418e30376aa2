"""Batches that survive odd DOIs, at a fake that refuses and misreads what the APIs do.

The DOIs are real ones of each awkward kind (apis.md §0b): an old Wiley SICI DOI with
parentheses, ``<>``, ``:`` and ``;`` (J. Graph Theory 26:3, 1997); the ACS DOI with a
``+``; a JAMA DOI with a ``,`` (legal in Crossref DOIs until 2007, CrossRef/rest-api-doc
issue #167); one with brackets (GBIF registry issue #154); one with a Unicode hyphen
U+2010 (invenio-rdm-records issue #2066). The long lists of SICI-shaped DOIs are
constructed from the first, to fill a URL.
"""

from __future__ import annotations

import copy

import pytest

from monitor.models import Outcome, Work
from monitor.sources import crossref, europepmc, openalex, scopus, unpaywall
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import openalex as fake_openalex

SICI = "10.1002/(sici)1097-0118(199711)26:3<119::aid-jgt1>3.0.co;2-u"
PLUS = "10.1021/es052595+"
COMMA = "10.1001/jama.251.19.2504,2509"
BRACKETS = "10.1649/0010-065x(2001)055[0411:daposa]2.0.co;2"
UNICODE = "10.17072/1995‐4190"
ODD = (SICI, PLUS, COMMA, BRACKETS, UNICODE)


def sici(n: int) -> str:
    """A SICI-shaped DOI as long as the real one (constructed)."""
    return f"10.1002/(sici)1097-0118(1997{n:04d})26:3<119::aid-jgt{n}>3.0.co;2-u"


def serve_openalex(fake_api, dois):
    for i, doi in enumerate(dois):
        fake_openalex.add_listing(fake_api, f"author.id:A{i}", [
            fake_openalex.listed_work(doi, f"Work {i}", 2020, f"W90000{i:04d}", cited_by_count=100 + i)
        ])


def serve_crossref(fake_api, dois):
    template = fake_api.records["crossref"][DEFAULT_DOI]
    for i, doi in enumerate(dois):
        fake_api.records["crossref"][doi] = {**copy.deepcopy(template), "DOI": doi, "is-referenced-by-count": 200 + i}


def test_openalex_asks_dois_holding_filter_syntax_alone_and_the_rest_in_one_batch(fake_api, make_session):
    dois = [DEFAULT_DOI, *ODD]
    serve_openalex(fake_api, ODD)
    observations = openalex.fetch([Work(d) for d in dois], make_session(openalex))
    assert [o.outcome for o in observations] == [Outcome.OK] * len(dois)
    assert [o.citations for o in observations[1:]] == [100 + i for i in range(len(ODD))]
    batches = [h.arg("filter") for h in fake_api.hits("openalex", "/works") if h.path == "/works"]
    assert batches == [f"doi:{DEFAULT_DOI}|{SICI}|{BRACKETS}|{UNICODE}"]
    alone = sorted(h.path for h in fake_api.hits("openalex", "/works/doi:"))
    assert alone == ["/works/doi:10.1001/jama.251.19.2504%2C2509", "/works/doi:10.1021/es052595%2B"]


def test_the_fake_misreads_a_plus_in_a_filter_as_openalex_does(fake_api, make_session):
    """What asking alone avoids: in a filter, ``+`` is AND, and nothing matches."""
    serve_openalex(fake_api, [PLUS])
    exchange = make_session(openalex).get("/works", params={"filter": f"doi:{PLUS}"})
    assert exchange.json()["results"] == []


def test_openalex_batches_stay_within_its_url_length(fake_api, make_session):
    dois = [sici(n) for n in range(100)]  # ~70 characters each, encoded: far over 4,094 in one URL
    serve_openalex(fake_api, dois)
    observations = openalex.fetch([Work(d) for d in dois], make_session(openalex))
    assert all(o.outcome is Outcome.OK for o in observations)
    hits = fake_api.hits("openalex", "/works")
    assert len(hits) > 1 and all(len(fake_api.url + h.target) <= 4094 for h in hits)
    assert [o.citations for o in observations] == [100 + i for i in range(100)]


def test_a_batch_answered_414_is_asked_again_in_halves(fake_api, make_session):
    dois = [f"10.9999/half.{i}" for i in range(4)]
    serve_openalex(fake_api, dois)
    fake_api.inject("openalex", status=414, body=b"Request-URI Too Large")
    observations = openalex.fetch([Work(d) for d in dois], make_session(openalex))
    assert [o.citations for o in observations] == [100, 101, 102, 103]
    sizes = [h.arg("filter").count("|") + 1 for h in fake_api.hits("openalex", "/works")]
    assert sizes == [4, 2, 2]


def test_a_batch_that_times_out_is_halved_down_to_the_work_at_fault(fake_api, make_session):
    """The server gives up on the batch and on the half holding one work: one work fails, not four."""
    dois = [f"10.9999/slow.{i}" for i in range(4)]
    serve_openalex(fake_api, dois)
    for _ in range(3):  # the batch, the half with .0, and .0 alone
        fake_api.inject("openalex", delay=0.6)
    session = make_session(openalex, timeout_seconds=0.3, max_retries=0)
    observations = openalex.fetch([Work(d) for d in dois], session)
    assert [o.outcome for o in observations] == [Outcome.ERROR, Outcome.OK, Outcome.OK, Outcome.OK]
    assert "timed out" in observations[0].message
    assert not session.stopped  # a batch timing out is not a host that is gone


def test_crossref_asks_a_doi_with_a_comma_alone(fake_api, make_session):
    dois = [DEFAULT_DOI, SICI, COMMA, PLUS]
    serve_crossref(fake_api, dois[1:])
    observations = crossref.fetch([Work(d) for d in dois], make_session(crossref))
    assert [o.citations for o in observations] == [35, 200, 201, 202]
    [batch] = [h for h in fake_api.hits("crossref") if h.path == "/works"]
    assert batch.arg("filter") == ",".join(f"doi:{d}" for d in (DEFAULT_DOI, SICI, PLUS))
    assert [h.path for h in fake_api.hits("crossref", "/works/")] == ["/works/10.1001/jama.251.19.2504%2C2509"]


def test_the_fake_refuses_a_comma_in_a_filter_as_crossref_does(fake_api, make_session):
    exchange = make_session(crossref).get("/works", params={"filter": f"doi:{COMMA}"})
    assert exchange.status_code == 400 and "no such filter" in exchange.body.decode()


def test_fifty_sici_dois_keep_crossrefs_request_line_short(fake_api, make_session):
    dois = [sici(n) for n in range(50)]  # 50 old Wiley DOIs measure ~4.7 KB in one request line
    serve_crossref(fake_api, dois)
    observations = crossref.fetch([Work(d) for d in dois], make_session(crossref))
    assert [o.citations for o in observations] == [200 + i for i in range(50)]
    hits = fake_api.hits("crossref", "/works")
    assert len(hits) == 2 and all(len(f"GET {h.target} HTTP/1.1") <= 4092 for h in hits)


def test_europe_pmc_queries_stay_within_1500_characters(fake_api, make_session):
    dois = [sici(n) for n in range(25)]
    template = fake_api.records["europepmc"][DEFAULT_DOI]
    for i, doi in enumerate(dois):
        fake_api.records["europepmc"][doi] = {**copy.deepcopy(template), "doi": doi, "citedByCount": 300 + i}
    observations = europepmc.fetch([Work(d) for d in dois], make_session(europepmc))
    assert [o.citations for o in observations] == [300 + i for i in range(25)]
    queries = [h.arg("query") for h in fake_api.hits("europepmc", "/search")]
    assert len(queries) > 1 and all(len(q) <= 1500 for q in queries)


def test_scopus_quotes_every_doi(fake_api, make_session):
    dois = [SICI, PLUS]
    template = next(iter(fake_api.records["scopus"].values()))
    for i, doi in enumerate(dois):
        fake_api.records["scopus"][doi] = {**copy.deepcopy(template), "prism:doi": doi, "citedby-count": str(400 + i)}
    session = make_session(scopus, api_key="test-scopus-key")
    observations = scopus.fetch([Work(d) for d in dois], session)
    assert [o.citations for o in observations] == [400, 401]
    [hit] = fake_api.hits("scopus")
    assert hit.arg("query") == f'DOI("{SICI}") OR DOI("{PLUS}")'


def test_the_fake_refuses_an_unquoted_doi_as_syntax(fake_api, make_session):
    session = make_session(scopus, api_key="test-scopus-key")
    exchange = session.get("/content/search/scopus", params={"query": f"DOI({SICI})"},
                           headers={"X-ELS-APIKey": "test-scopus-key"})
    assert exchange.status_code == 400


@pytest.mark.parametrize("doi", [SICI, BRACKETS, UNICODE])
def test_a_doi_in_a_path_keeps_its_semicolon_and_parentheses_encoded(doi, fake_api, make_session):
    """The fake, like servers that read ``;`` as a path parameter, cuts a raw ``;`` off."""
    template = fake_api.records["unpaywall"][DEFAULT_DOI]
    fake_api.records["unpaywall"][doi] = {**copy.deepcopy(template), "doi": doi}
    [obs] = unpaywall.fetch([Work(doi)], make_session(unpaywall))
    assert obs.outcome is Outcome.OK
    [hit] = fake_api.hits("unpaywall")
    assert ";" not in hit.target and "(" not in hit.target and ")" not in hit.target


def test_a_batch_is_packed_by_the_length_httpx_will_send():
    import httpx

    from monitor.sources.base import encoded_length

    for text in [*ODD, sici(7), "a b~c_d", "é|,+;<>()[]:/", '10.1000/xyz"q']:
        assert encoded_length(text) == len(str(httpx.QueryParams({"": text}))) - 1, text
