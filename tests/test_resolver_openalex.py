"""OpenAlex author and institution collections: real recordings, cursor paging, refusals."""

from __future__ import annotations

import json

import pytest

from monitor.config import CollectionConfig
from monitor.errors import MalformedResponse
from monitor.models import Outcome
from monitor.resolvers import openalex_author, openalex_listing, ror
from monitor.resolvers.base import Found, Skipped
from tests.conftest import real_json
from tests.fakeapi.routes import openalex as fake_openalex
from tests.test_resolver_orcid import context  # noqa: F401  (the fixture)

AUTHOR = "A5017898742"
ROR = "02nr0ka47"


@pytest.mark.parametrize("page", ["per_page50", "per_page5"])
def test_the_real_works_by_author_pages_parse(page):
    payload = real_json(f"openalex/academic-explorer_works_authorships.author.id_{AUTHOR}_{page}.json")
    items = [openalex_listing.parse_work(r) for r in payload["results"]]
    found = [i for i in items if isinstance(i, Found)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(found) + len(skipped) == len(payload["results"])
    assert all(s.reason == "no DOI in OpenAlex" and s.item.startswith("W") for s in skipped)
    if page == "per_page50":  # all 9: three have a DOI, an arXiv DataCite DOI among them
        assert [f.doi for f in found] == [
            "10.1145/2795233", "10.48550/arxiv.2108.04680", "10.2312/cgvc.20211309"]
        assert [f.year for f in found] == [2015, 2021, 2021]


def test_a_basic_page_without_a_cursor_is_not_taken_for_the_whole_listing(fake_api, context):  # noqa: F811
    body = json.dumps(real_json(f"openalex/academic-explorer_works_authorships.author.id_{AUTHOR}_per_page5.json"))
    fake_api.inject("openalex", body=body.encode())
    listed = openalex_listing.list_works(context.openalex, f"author.id:{AUTHOR}")
    assert listed.outcome is Outcome.ERROR and not listed.complete
    assert listed.message == "OpenAlex: unexpected response: field 'meta.next_cursor' is missing"


@pytest.mark.parametrize(
    "recording", ["academic-explorer_author_A5023888391.json", "academic-explorer_author_A5017898742.json"]
)
def test_the_real_author_records_are_checked_to_be_the_author_asked(fake_api, context, recording):  # noqa: F811
    author = real_json(f"openalex/{recording}")
    author_id = author["id"].rsplit("/", 1)[1]
    fake_api.records[fake_openalex.ENTITIES][f"/authors/{author_id}".lower()] = author
    assert openalex_listing.get_entity(context.openalex, f"/authors/{author_id}") == author
    fake_api.records[fake_openalex.ENTITIES]["/authors/a1"] = author  # an answer about another
    with pytest.raises(MalformedResponse, match=f"the answer is about {author_id}, not a1"):
        openalex_listing.get_entity(context.openalex, "/authors/A1")


def test_an_author_collection_pages_through_every_work_from_a_year(fake_api, context):  # noqa: F811
    fake_openalex.add_author(fake_api, AUTHOR, "Ada Example")
    works = [fake_openalex.listed_work(f"10.5555/a.{i}", f"T{i}", 2015 + i % 10, f"W{i}") for i in range(250)]
    fake_openalex.add_listing(fake_api, f"author.id:{AUTHOR}", works)
    collection = CollectionConfig("ada", "openalex_author", AUTHOR, from_year=2020)
    resolution = openalex_author.resolve(collection, context)
    # years 2020-2024 are half of the 250 (i % 10 >= 5)
    assert resolution.complete and len(resolution.found) == 125 and resolution.name == "Ada Example"
    pages = fake_api.hits("openalex", "/works")
    assert [p.arg("filter") for p in pages] == [f"author.id:{AUTHOR},from_publication_date:2020-01-01"] * 2
    assert len(resolution.exchanges) == 1 + 2  # the author, a full page, a short one with the last
    assert pages[0].arg("select") == "id,doi,title,display_name,publication_year,ids"


def test_an_author_openalex_does_not_know_is_not_found_and_not_listed(fake_api, context):  # noqa: F811
    resolution = openalex_author.resolve(CollectionConfig("x", "openalex_author", "A1"), context)
    assert resolution.outcome is Outcome.NOT_FOUND
    assert resolution.message == "OpenAlex has no authors/A1; check openalex_author in config.toml"
    assert fake_api.hits("openalex", "/works") == []


def test_an_institution_collection_by_ror(fake_api, context):  # noqa: F811
    fake_openalex.add_institution(fake_api, ROR, "Example University")
    fake_openalex.add_listing(fake_api, f"institutions.ror:{ROR}", [
        fake_openalex.listed_work("10.5555/i.1", "One", 2024, "W1"),
        fake_openalex.listed_work(None, "No DOI", 2024, "W2"),
    ])
    resolution = ror.resolve(CollectionConfig("uni", "ror", ROR), context)
    assert [f.doi for f in resolution.found] == ["10.5555/i.1"]
    assert [s.item for s in resolution.skipped] == ["W2"]
    assert fake_api.hits("openalex", "/institutions")[0].path == f"/institutions/ror:{ROR}"


def test_a_listing_too_long_is_refused_after_its_first_page(fake_api, context):  # noqa: F811
    fake_openalex.add_listing(fake_api, "institutions.ror:x", [
        fake_openalex.listed_work(f"10.5555/b.{i}", "T", 2020, f"W{i}") for i in range(120)])
    listed = openalex_listing.list_works(context.openalex, "institutions.ror:x", max_works=100)
    assert listed.outcome is Outcome.ERROR and listed.found == () and not listed.complete
    assert "lists 120 works for institutions.ror:x, more than the 100" in listed.message
    assert len(fake_api.hits("openalex", "/works")) == 1


def test_a_listing_that_ends_short_of_its_count_is_incomplete(fake_api, context):  # noqa: F811
    page = {"meta": {"count": 300, "next_cursor": None}, "results": [
        fake_openalex.listed_work("10.5555/c.1", "T", 2020, "W1")]}
    fake_api.inject("openalex", body=json.dumps(page).encode())
    listed = openalex_listing.list_works(context.openalex, "author.id:A9")
    assert not listed.complete and [f.doi for f in listed.found] == ["10.5555/c.1"]
    assert listed.message == "OpenAlex: the listing ended after 1 of the 300 works it counted"


def test_a_refused_key_is_not_configured_with_the_hint(fake_api, context):  # noqa: F811
    fake_openalex.add_author(fake_api, AUTHOR, "Ada")
    fake_api.inject("openalex", status=401, body=b'{"error": "API key required"}', times=None)
    resolution = openalex_author.resolve(CollectionConfig("ada", "openalex_author", AUTHOR), context)
    assert resolution.outcome is Outcome.NOT_CONFIGURED
    assert "OpenAlex needs a free API key" in resolution.message
