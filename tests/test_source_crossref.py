"""Crossref: the parser on every real recorded response, and fetch through the fake."""

from __future__ import annotations

import json

import pytest

from monitor.models import Outcome, Work
from monitor.sources import crossref
from tests.conftest import DEFAULT_DOI, real_files, real_json, real_path

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


@pytest.mark.parametrize(
    "name", ["works_list_query_widget_cursor_star.json", "works_list_select_DOI_title.json"]
)
def test_list_envelopes(name):
    items = real_json(f"crossref/{name}")["message"]["items"]
    assert items
    for item in items:
        if "is-referenced-by-count" in item:
            assert crossref.parse_work(item).citations == item["is-referenced-by-count"]


def test_real_404_body_from_singleton_is_plain_text():
    assert real_path("crossref/error_404_resource_not_found.txt").read_text().strip() == "Resource not found."


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
    assert len(fake_api.hits("crossref", "/works")) == 3
    assert len(observations) == 120


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
