"""Crossref: the parser on every real recorded response, and fetch through the fake."""

from __future__ import annotations

import json

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import crossref
from tests.conftest import DEFAULT_DOI, real_files, real_json, real_path
from tests.fakeapi.routes import crossref as fake_crossref

WORK_FILES = [p for p in real_files("crossref") if p.name.startswith("work_")]


@pytest.mark.parametrize("path", WORK_FILES, ids=lambda p: p.name)
def test_parses_every_real_work_record(path):
    message = json.loads(path.read_text())["message"]
    parsed = crossref.parse_work(message)
    assert parsed.citations == message["is-referenced-by-count"]
    meta = parsed.metadata
    assert meta["title"] == message["title"][0]
    assert meta["journal"] == message["container-title"][0]
    assert [a["family"] for a in meta["authors"]] == [a["family"] for a in message["author"]]
    assert meta["published"].startswith(str(message["issued"]["date-parts"][0][0]))


def test_correction_notice_is_read_from_updated_by():
    message = real_json("crossref/work_10.1371_journal.pone.0033693_public_pool.json")["message"]
    meta = crossref.parse_work(message).metadata
    assert meta["updated_by"] == [
        {
            "type": "correction",
            "label": "Correction",
            "doi": "10.1371/annotation/c76da2c1-ccb8-4797-94c1-359d3ceceeda",
            "source": "publisher",
            "date": "2012-05-08",
        }
    ]
    assert meta["pages"] == "e33693" and meta["volume"] == "7" and meta["issue"] == "3"


def test_article_number_and_jats_abstract():
    message = real_json("crossref/work_10.1038_srep16696_polite_pool.json")["message"]
    meta = crossref.parse_work(message).metadata
    assert meta["article_number"] == message["article-number"]
    assert "<jats:" not in meta["abstract"]
    assert meta["abstract"].startswith("Oligomers of alpha-synuclein")


def test_list_envelope_items_are_parsed():
    items = real_json("crossref/works_list_query_widget_cursor_star.json")["message"]["items"]
    assert items and all("is-referenced-by-count" in item for item in items)
    for item in items:
        assert crossref.parse_work(item).citations == item["is-referenced-by-count"]


def test_items_selected_without_their_count_are_errors_never_zero():
    items = real_json("crossref/works_list_select_DOI_title.json")["message"]["items"]
    assert items and not any("is-referenced-by-count" in item for item in items)
    for item in items:
        with pytest.raises(MalformedResponse, match="'is-referenced-by-count' is missing"):
            crossref.parse_work(item)


def test_real_404_body_on_the_list_endpoint_is_an_error_quoting_it(fake_api, make_session):
    body = real_path("crossref/error_404_resource_not_found.txt").read_bytes()
    fake_api.inject("crossref", status=404, body=body)
    [obs] = crossref.fetch([Work(DEFAULT_DOI)], make_session(crossref))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert "HTTP 404" in obs.message and "Resource not found." in obs.message


def test_an_unknown_doi_is_not_found_without_a_count(fake_api, make_session):
    known, unknown = crossref.fetch([Work(DEFAULT_DOI), Work("10.9999/nope")], make_session(crossref))
    assert known.outcome is Outcome.OK
    assert unknown.outcome is Outcome.NOT_FOUND and unknown.citations is None


def test_429_then_200_is_ok(fake_api, make_session):
    fake_api.inject("crossref", status=429, headers={"Retry-After": "0"})
    [obs] = crossref.fetch([Work(DEFAULT_DOI)], make_session(crossref))
    assert obs.outcome is Outcome.OK and len(fake_api.hits("crossref")) == 2


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("crossref", malformed=True)
    [obs] = crossref.fetch([Work(DEFAULT_DOI)], make_session(crossref))
    assert obs.outcome is Outcome.ERROR and "not valid JSON" in obs.message


def test_fetch_reads_rate_limit_headers_and_slows_down(fake_api, make_session):
    session = make_session(crossref, contact_email=None)
    [obs] = crossref.fetch([Work(DEFAULT_DOI)], session)
    assert obs.outcome is Outcome.OK and obs.citations == 35
    # public pool answers x-rate-limit-limit: 5 per 1s: we keep at least 0.2 s between requests
    assert session.limiter.interval == pytest.approx(0.2)
    assert fake_api.hits("crossref")[0].arg("mailto") is None


def test_fetch_batches_50_dois_per_request(fake_api, make_session):
    works = [Work(f"10.9999/x.{i}") for i in range(120)]
    observations = crossref.fetch(works, make_session(crossref))
    hits = fake_api.hits("crossref", "/works")
    assert [h.arg("filter").count("doi:") for h in hits] == [50, 50, 20]
    assert [o.doi for o in observations] == [w.doi for w in works]
    assert {o.outcome for o in observations} == {Outcome.NOT_FOUND}


def list_answer(items: list, total: int) -> bytes:
    message = {"total-results": total, "items": items, "items-per-page": len(items)}
    return json.dumps({"status": "ok", "message-type": "work-list", "message": message}).encode()


def test_an_item_without_its_doi_is_an_error_naming_the_field(fake_api, make_session):
    item = {k: v for k, v in fake_api.records["crossref"][DEFAULT_DOI].items() if k != "DOI"}
    fake_api.inject("crossref", body=list_answer([item], 1))
    [obs] = crossref.fetch([Work(DEFAULT_DOI)], make_session(crossref))
    assert obs.outcome is Outcome.ERROR and obs.citations is None
    assert "'message.items[].DOI' is missing" in obs.message


def test_an_answer_cut_short_is_an_error_for_the_works_it_leaves_out(fake_api, make_session):
    item = fake_api.records["crossref"][DEFAULT_DOI]
    fake_api.inject("crossref", body=list_answer([item], 2))
    found, missing = crossref.fetch([Work(DEFAULT_DOI), Work("10.9999/x")], make_session(crossref))
    assert found.outcome is Outcome.OK and found.citations == item["is-referenced-by-count"]
    assert missing.outcome is Outcome.ERROR and "lists 1 of the 2 records" in missing.message


def selected(record: dict) -> dict:
    """A record as a list query with our ``select`` gives it: only the fields named."""
    return {k: v for k, v in record.items() if k in crossref.WORK_FIELDS.split(",")}


@pytest.mark.parametrize("path", WORK_FILES, ids=lambda p: p.name)
def test_the_fields_selected_are_every_field_read(path):
    """``select`` keeps every field the parsers read (not ``language``, which Crossref does
    not take in a select: not read at all); the reference list, most of a record's bytes, goes."""
    message = json.loads(path.read_text())["message"]
    whole, chosen = crossref.parse_work(message), crossref.parse_work(selected(message))
    assert (chosen.citations, chosen.metrics) == (whole.citations, whole.metrics)
    assert chosen.metadata == whole.metadata and "language" not in whole.metadata
    assert crossref.parse_citing(selected(message)) == crossref.parse_citing(message)
    if "reference" in message:
        assert len(json.dumps(selected(message))) * 3 < len(json.dumps(message))


def test_every_field_selected_is_one_the_api_lists_as_selectable():
    assert set(crossref.WORK_FIELDS.split(",")) <= fake_crossref.SWAGGER_SELECTS


def test_a_batch_asks_for_the_fields_read_and_gets_them(fake_api, make_session):
    [obs] = crossref.fetch([Work(DEFAULT_DOI)], make_session(crossref))
    [hit] = fake_api.hits("crossref", "/works")
    assert hit.arg("select") == crossref.WORK_FIELDS
    whole = crossref.parse_work(fake_api.records["crossref"][DEFAULT_DOI])
    assert obs.outcome is Outcome.OK and obs.citations == whole.citations
    assert obs.metadata == whole.metadata
    assert "reference" not in json.loads(obs.exchange.body)["message"]["items"][0]


def test_a_server_refusing_a_field_selected_is_asked_whole_for_the_rest_of_the_run(
    fake_api, make_session, caplog
):
    """Crossref answers a select name it does not take with a 400 ``select-not-available``:
    asked again without ``select``, once refused for the whole run, and said once."""
    fake_api.records[fake_crossref.SELECTABLE]["names"] = fake_crossref.SWAGGER_SELECTS - {"published"}
    others = [f"10.1234/cr{i}" for i in range(60)]
    for doi in others:
        fake_api.records["crossref"][doi] = {**fake_api.records["crossref"][DEFAULT_DOI], "DOI": doi}
    session = make_session(crossref)
    observed = crossref.fetch([Work(DEFAULT_DOI), *(Work(d) for d in others)], session)
    assert [o.outcome for o in observed] == [Outcome.OK] * 61
    hits = fake_api.hits("crossref", "/works")
    refused = [h for h in hits if h.arg("select")]
    assert len(refused) == 1 and len(hits) == 1 + 2  # one refusal, then two batches of whole records
    assert observed[0].metadata["title"] == crossref.parse_work(
        fake_api.records["crossref"][DEFAULT_DOI]).metadata["title"]
    [warned] = [r.getMessage() for r in caplog.records if r.name == "monitor.sources.crossref"]
    assert warned.startswith("Crossref refused the fields we select (") and "select-not-available" in warned
    assert warned.endswith("whole records this run")
