"""Scopus Search API: DOIs OR-ed 25 to a request, key in a header, citedby-count as a string.

No recorded Scopus response is in ../shared/fixtures/real (lagotto's recordings embed an
API key in their URLs): the record under test is the constructed one, built on lagotto's
shape (tests/fakeapi/constructed/scopus/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import scopus
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import scopus as fake_scopus

KEY = "test-scopus-key"
CONSTRUCTED = Path(__file__).parent / "fakeapi/constructed/scopus/10.1016_j.drup.2021.100752.json"
EMPTY = {
    "search-results": {
        "opensearch:totalResults": "0",
        "opensearch:startIndex": "0",
        "opensearch:itemsPerPage": "0",
        "entry": [{"@force-array": "true", "error": "Result set was empty"}],
    }
}


def entry() -> dict:
    return json.loads(CONSTRUCTED.read_text())


def test_parse_entry_reads_count_and_identifiers():
    parsed = scopus.parse_entry(entry())
    assert parsed.citations == 37  # the portal's "37 Scopus citations"
    assert parsed.metrics == {}
    assert parsed.metadata == {
        "scopus_id": "85104960000",
        "eid": "2-s2.0-85104960000",
        "title": "Emerging role of autophagy in anti-tumor immunity: Implications for the "
        "modulation of immunotherapy resistance",
        "journal": "Drug Resistance Updates",
        "published": "2021-05-01",
        "year": 2021,
        "scopus_citedby_url": "https://www.scopus.com/inward/citedby.uri?partnerID=HzOxMe3b"
        "&scp=85104960000&origin=inward",
    }


def test_entries_of_an_empty_result_set_are_none():
    assert scopus.entries(EMPTY) == []
    assert scopus.entries({"search-results": {"opensearch:totalResults": "0", "entry": []}}) == []


def test_entries_keep_documents_only():
    page = {"search-results": {"opensearch:totalResults": "1", "entry": [entry()]}}
    assert [e["eid"] for e in scopus.entries(page)] == ["2-s2.0-85104960000"]


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"results": []}, "'search-results' is missing"),
        ({"search-results": {"entry": {"eid": "x"}}}, "'search-results.entry' should be a list"),
        ({"search-results": {"entry": ["x"]}}, "should hold objects"),
        (
            {"search-results": {"entry": [{"error": "Invalid query"}]}},
            "Scopus reported an error: Invalid query",
        ),
    ],
)
def test_unexpected_envelopes_are_errors(payload, message):
    with pytest.raises(MalformedResponse, match=message):
        scopus.entries(payload)


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "'citedby-count' is missing"),
        ("thirty", "'citedby-count' should be a count"),
        ("-3", "'citedby-count' should be a count"),
    ],
)
def test_bad_counts_are_errors_naming_the_field(value, message):
    record = entry()
    if value is None:
        del record["citedby-count"]
    else:
        record["citedby-count"] = value
    with pytest.raises(MalformedResponse, match=message):
        scopus.parse_entry(record)


def test_fetch_ok_sends_the_key_in_a_header_only(fake_api, make_session):
    [obs] = scopus.fetch([Work(DEFAULT_DOI)], make_session(scopus, api_key=KEY))
    assert obs.outcome is Outcome.OK
    assert obs.citations == 37
    assert obs.metadata["eid"] == "2-s2.0-85104960000"
    [hit] = fake_api.hits("scopus", "/content/search/scopus")
    assert hit.headers["x-els-apikey"] == KEY
    assert hit.headers["accept"] == "application/json"
    assert hit.arg("query") == f'DOI("{DEFAULT_DOI}")'
    assert KEY not in obs.exchange.url and "apiKey" not in obs.exchange.url


def test_dois_are_batched_25_to_a_request(fake_api, make_session):
    others = [f"10.9999/unknown.{i}" for i in range(29)]
    works = [Work(d) for d in [*others[:10], DEFAULT_DOI, *others[10:]]]
    observations = scopus.fetch(works, make_session(scopus, api_key=KEY))
    hits = fake_api.hits("scopus", "/content/search/scopus")
    assert len(hits) == 2
    assert hits[0].arg("query") == " OR ".join(f'DOI("{w.doi}")' for w in works[:25])
    assert hits[1].arg("query") == " OR ".join(f'DOI("{w.doi}")' for w in works[25:])
    assert all(h.arg("count") == "25" for h in hits)
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert [o.outcome for o in observations].count(Outcome.OK) == 1
    assert observations[10].citations == 37
    assert {o.outcome for o in observations[:10] + observations[11:]} == {Outcome.NOT_FOUND}


def test_entries_are_matched_by_doi_not_by_position(fake_api, make_session):
    second = dict(
        entry(),
        **{
            "prism:doi": "10.1016/J.DRUP.2021.100999",
            "citedby-count": "4",
            "eid": "2-s2.0-85104969999",
        },
    )
    fake_api.records["scopus"]["10.1016/j.drup.2021.100999"] = second
    works = [Work("10.1016/j.drup.2021.100999"), Work("10.9999/none"), Work(DEFAULT_DOI)]
    observations = scopus.fetch(works, make_session(scopus, api_key=KEY))
    assert [o.citations for o in observations] == [4, None, 37]
    assert [o.outcome for o in observations] == [Outcome.OK, Outcome.NOT_FOUND, Outcome.OK]


def test_a_page_cut_short_is_an_error_for_the_works_it_leaves_out(fake_api, make_session):
    """Scopus holds duplicate records: 25 entries may not reach every DOI asked for."""
    page = {"search-results": {"opensearch:totalResults": "26", "entry": [entry()]}}
    fake_api.inject("scopus", body=json.dumps(page).encode())
    works = [Work(DEFAULT_DOI), Work("10.9999/pushed-out")]
    found, missing = scopus.fetch(works, make_session(scopus, api_key=KEY))
    assert found.outcome is Outcome.OK and found.citations == 37
    assert missing.outcome is Outcome.ERROR and missing.citations is None
    assert "lists 1 of the 26 records" in missing.message


def test_empty_result_set_is_not_found(fake_api, make_session):
    [obs] = scopus.fetch([Work("10.9999/does-not-exist")], make_session(scopus, api_key=KEY))
    assert obs.outcome is Outcome.NOT_FOUND and obs.citations is None
    body = json.loads(obs.exchange.body)
    assert body["search-results"]["entry"][0]["error"] == "Result set was empty"


def test_a_bad_entry_fails_its_own_work_only(fake_api, make_session):
    broken = dict(entry(), **{"prism:doi": "10.1016/j.drup.2021.100999"})
    del broken["citedby-count"]
    fake_api.records["scopus"]["10.1016/j.drup.2021.100999"] = broken
    works = [Work("10.1016/j.drup.2021.100999"), Work(DEFAULT_DOI)]
    bad, good = scopus.fetch(works, make_session(scopus, api_key=KEY))
    assert bad.outcome is Outcome.ERROR and "'citedby-count' is missing" in bad.message
    assert good.outcome is Outcome.OK and good.citations == 37


def test_refused_key_is_an_error_saying_so(fake_api, make_session):
    secret = "not-entitled-key"
    [obs] = scopus.fetch([Work(DEFAULT_DOI)], make_session(scopus, api_key=secret))
    assert obs.outcome is Outcome.ERROR
    assert obs.message.startswith("Scopus refused the API key in $SCOPUS_API_KEY (HTTP 401)")
    assert "https://dev.elsevier.com/" in obs.message and "\n" not in obs.message
    assert secret not in obs.message


def test_403_entitlement_is_an_error_too(fake_api, make_session):
    fake_api.inject("scopus", status=403, body=json.dumps(fake_scopus.REFUSED).encode())
    [obs] = scopus.fetch([Work(DEFAULT_DOI)], make_session(scopus, api_key=KEY))
    assert obs.outcome is Outcome.ERROR and "(HTTP 403)" in obs.message


def test_without_a_key_the_refusal_is_not_configured(fake_api, make_session):
    [obs] = scopus.fetch([Work(DEFAULT_DOI)], make_session(scopus))
    assert "x-els-apikey" not in fake_api.hits("scopus")[0].headers
    assert obs.outcome is Outcome.NOT_CONFIGURED
    assert obs.message == scopus.SPEC.key_hint


def test_429_then_200_is_ok(fake_api, make_session):
    fake_api.inject("scopus", status=429, headers={"Retry-After": "0"})
    [obs] = scopus.fetch([Work(DEFAULT_DOI)], make_session(scopus, api_key=KEY))
    assert obs.outcome is Outcome.OK and obs.citations == 37
    assert len(fake_api.hits("scopus")) == 2


def test_weekly_quota_spent_stops_asking(fake_api, make_session):
    """Elsevier's 429 for a spent quota: Remaining 0, Reset in epoch milliseconds (days ahead).

    One request, no retry and no sleep until the reset, then no more requests this run.
    """
    import time

    headers = {
        "X-RateLimit-Limit": "20000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int((time.time() + 5 * 86400) * 1000)),
    }
    fake_api.inject("scopus", status=429, headers=headers, times=None)
    works = [Work(f"10.9999/w.{i}") for i in range(30)]
    started = time.monotonic()
    observations = scopus.fetch(works, make_session(scopus, api_key=KEY))
    assert time.monotonic() - started < 2
    assert len(fake_api.hits("scopus")) == 1
    assert {o.outcome for o in observations[:25]} == {Outcome.QUOTA_EXHAUSTED}
    assert {o.outcome for o in observations[25:]} == {Outcome.QUOTA_EXHAUSTED}
    assert all(o.citations is None for o in observations)


def test_malformed_body_fails_the_batch(fake_api, make_session):
    fake_api.inject("scopus", malformed=True)
    observations = scopus.fetch(
        [Work(DEFAULT_DOI), Work("10.9999/x")], make_session(scopus, api_key=KEY)
    )
    assert {o.outcome for o in observations} == {Outcome.ERROR}
    assert all("not valid JSON" in o.message for o in observations)


def test_changed_count_is_seen(fake_api, make_session):
    fake_scopus.set_count(fake_api, DEFAULT_DOI, 38)
    [obs] = scopus.fetch([Work(DEFAULT_DOI)], make_session(scopus, api_key=KEY))
    assert obs.citations == 38


def test_spec():
    spec = scopus.SPEC
    assert spec.needs_key and spec.api_key_env == "SCOPUS_API_KEY"
    assert "https://dev.elsevier.com/" in spec.key_hint
    assert spec.secret_params == ()  # the key travels in a header
    assert spec.batch_size == 25 and spec.requests_per_second == 2.0
