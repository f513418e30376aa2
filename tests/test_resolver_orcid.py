"""ORCID collections: the parser on every real recording, grouping as ORCID groups, and
the resolver (ORCID united with OpenAlex) against the fake."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from monitor.config import CollectionConfig
from monitor.models import Outcome
from monitor.resolvers import orcid
from tests.conftest import REAL, real_files, real_json, real_path
from tests.fakeapi import Fault
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.routes.orcid import group, record, simple_record, summary

ORCID_ID = "0000-0002-1825-0097"  # ORCID's own example iD (valid check digit)
WORKS_BODIES = [p for p in real_files("orcid", "*.json") if "_works." in p.name or "record" in p.name]


def works_of(payload):
    """A /works answer, or the works part of a /record answer (same shape)."""
    return payload["activities-summary"]["works"] if "activities-summary" in payload else payload


# --- the parser on real recordings ---------------------------------------------------


@pytest.mark.parametrize("path", WORKS_BODIES, ids=lambda p: p.name)
def test_every_real_works_body_parses_into_one_item_per_group(path):
    payload = works_of(json.loads(path.read_text()))
    found, skipped = orcid.parse_works(payload)
    assert len(found) + len(skipped) == len(payload["group"])
    assert all(f.doi.startswith("10.") and f.doi == f.doi.lower() for f in found)
    assert all(f.via == ("orcid",) for f in found)
    assert len({f.doi for f in found}) == len(found)


def test_a_record_with_part_of_issns_and_duplicate_summaries():
    payload = real_json("orcid/pub.orcid.org_v3.0_0000-0003-1444-9135_works.body.json")
    found, skipped = orcid.parse_works(payload)
    # 111 groups: 97 carry a DOI; the last 14 (posters, proposals, a figure) carry no id at all
    assert (len(found), len(skipped)) == (97, 14)
    assert {s.reason for s in skipped} == {"no DOI or other id"}
    assert "ORCID put-code" in skipped[0].item and skipped[0].title
    by_doi = {f.doi: f for f in found}
    # group 7 holds two summaries of one work (two sources): one work, its ISSN part-of ignored
    assert by_doi["10.1111/1365-2745.12293"].aliases == ()
    assert not any("0022-0477" in d for f in found for d in (f.doi, *f.aliases))
    assert by_doi["10.1111/ele.12279"].year == 2014


def test_a_record_with_pmid_only_items_says_why_each_was_skipped():
    payload = real_json("orcid/pub.orcid.org_v3.0_0000-0001-8607-8025_works.body.json")
    found, skipped = orcid.parse_works(payload)
    assert (len(found), len(skipped)) == (54, 20)
    reasons = [s.reason for s in skipped]
    assert reasons.count("no DOI or arXiv id; only other-id") == 13
    assert reasons.count("no DOI or arXiv id; only pmc") == 1
    pmid_only = [s for s in skipped if s.pmid]
    assert sorted(s.pmid for s in pmid_only) == sorted(
        ["24366261", "12930801", "12684472", "12424272", "10632622", "21227179"]
    )
    assert pmid_only[0].reason == f"no DOI or arXiv id; PMID {pmid_only[0].pmid} only"
    # a work known by DOI and PMID keeps its PMID (to match OpenAlex's record of it)
    assert {f.doi: f.pmid for f in found}["10.1523/jneurosci.2511-15.2016"] == "27030758"


def test_version_of_ids_group_versions_and_the_version_of_record_is_tracked():
    record_ = real_json("orcid/commonmeta-schema_record_0000-0002-0068-716X.json")
    found, _ = orcid.parse_works(works_of(record_))
    by_doi = {f.doi: f for f in found}
    # Zenodo versions: one summary says it is a version of 10.5281/zenodo.6366694, which the
    # group also lists as its own: the concept DOI is tracked, the versions are aliases
    zenodo = by_doi["10.5281/zenodo.6366694"]
    assert "10.5281/zenodo.21251644" in zenodo.aliases and len(zenodo.aliases) == 6
    # a version-of DOI the group does not hold as its own is an alias, not the work
    assert by_doi["10.5281/zenodo.20957444"].aliases == ("10.5281/zenodo.20957443",)
    assert "10.5281/zenodo.20957443" not in by_doi


def test_the_empty_record_is_empty():
    payload = real_json("orcid/pub.orcid.org_v3.0_0000-0003-1620-1408_works.body.json")
    assert orcid.parse_works(payload) == ([], [])


def cassette(name: str):
    yaml = pytest.importorskip("yaml", reason="PyYAML (a test dependency, via Datasette) reads the cassettes")

    class Loader(yaml.SafeLoader):
        pass

    # Ruby VCR writes bodies as !binary (base64); R vcr as plain strings
    Loader.add_constructor("!binary", lambda loader, node: base64.b64decode(loader.construct_scalar(node)))
    return yaml.load(real_path(f"orcid/{name}").read_text(), Loader=Loader)["http_interactions"]


@pytest.mark.parametrize(
    "name, groups",
    [
        ("rorcid_works.yaml", {"0000-0003-1620-1408": 0, "0000-0003-1444-9135": 111}),
        ("rorcid_identifiers.yaml", {"0000-0001-8607-8025": 74}),
        ("volpino_sandbox_works_get_data.yaml", {"0000-0001-6528-2027": 23}),
    ],
)
def test_the_works_bodies_in_the_yaml_cassettes_parse(name, groups):
    seen = {}
    for interaction in cassette(name):
        uri = interaction["request"]["uri"]
        if not uri.endswith("/works"):
            continue
        body = interaction["response"]["body"]["string"]
        if isinstance(body, bytes):
            body = gzip.decompress(body)
        payload = json.loads(body)
        found, skipped = orcid.parse_works(payload)
        seen[uri.split("/")[-2]] = len(found) + len(skipped)
        assert orcid.check_record(payload, uri.split("/")[-2], _exchange(uri)) == ""
    assert seen == groups


@pytest.mark.parametrize("name", ["rorcid_works_error.yaml", "rorcid_orcid_id_bad_orcid.yaml"])
def test_orcid_error_bodies_read_as_one_line(name):
    [interaction] = cassette(name)
    status = int(interaction["response"]["status"]["status_code"])
    exchange = _exchange(interaction["request"]["uri"], status, interaction["response"]["body"]["string"])
    assert orcid.error_text(exchange) == "HTTP 404: The resource was not found."


def _exchange(url: str, status: int = 200, body: str | bytes = b"{}"):
    from datetime import UTC, datetime

    from monitor.models import Exchange

    data = body.encode() if isinstance(body, str) else body
    return Exchange("orcid", "GET", url, status, {}, data, datetime(2026, 11, 1, tzinfo=UTC), 5)


# --- grouping, constructed --------------------------------------------------------------


def test_a_preprint_grouped_with_its_article_is_tracked_by_the_article():
    preprint = summary(ORCID_ID, 1, "Preprint", [("doi", "10.1101/2020.01.01.1", "self"),
                                                  ("doi", "10.1000/ARTICLE.1", "version-of")], display_index=1)
    article = summary(ORCID_ID, 2, "Article", [("doi", "10.1000/article.1", "self"),
                                                ("issn", "1234-5678", "part-of")])
    arxiv_only = summary(ORCID_ID, 3, "On arXiv", [("arxiv", "arXiv:2202.01037v3", "self")])
    found, skipped = orcid.parse_works(record(ORCID_ID, [group(preprint, article), group(arxiv_only)]))
    assert [(f.doi, f.aliases, f.title) for f in found] == [
        # ORCID shows the preprint first (higher display-index), but the article is the version of record
        ("10.1000/article.1", ("10.1101/2020.01.01.1",), "Preprint"),
        ("10.48550/arxiv.2202.01037", (), "On arXiv"),
    ]
    assert skipped == []


def test_an_answer_about_another_record_is_refused():
    payload = simple_record("0000-0002-9079-593X", [("10.1000/a.1", "A")])
    with pytest.raises(Exception, match="about record 0000-0002-9079-593X, not 0000-0002-1825-0097"):
        orcid.check_record(payload, ORCID_ID, _exchange(f"https://pub.orcid.org/v3.0/{ORCID_ID}/works"))


# --- the resolver, ORCID united with OpenAlex, against the fake -------------------------


@pytest.fixture
def context(write_config):
    """The run's resolver sessions, as membership makes them, pointed at the fake."""
    from monitor import membership
    from monitor.config import load_config
    from monitor.fetching import make_client, utcnow

    config = load_config(write_config(), environ={})
    with make_client(config.contact_email, config.http) as client:
        yield membership.make_context(config, client, utcnow)


def collection(iD: str = ORCID_ID) -> CollectionConfig:
    return CollectionConfig(name="person", kind="orcid", identifier=iD)


def test_orcid_and_openalex_united_give_exactly_the_works_of_the_person(fake_api, context):
    fake_api.records["orcid"][ORCID_ID] = record(ORCID_ID, [
        group(summary(ORCID_ID, 1, "A", [("doi", "10.1000/a.1", "self")])),
        group(summary(ORCID_ID, 2, "B", [("doi", "https://doi.org/10.1000/B.2", "self")])),
        group(summary(ORCID_ID, 3, "C", [("pmid", "31000003", "self")])),
        group(summary(ORCID_ID, 4, "D, a poster", [])),
    ])
    fake_openalex.add_listing(fake_api, f"author.orcid:{ORCID_ID}", [
        fake_openalex.listed_work("10.1000/b.2", "B", 2024, "W2"),  # also on ORCID: one work
        fake_openalex.listed_work("10.1000/c.3", "C", 2023, "W3", ids={
            "openalex": "https://openalex.org/W3", "pmid": "https://pubmed.ncbi.nlm.nih.gov/31000003"}),
        fake_openalex.listed_work("10.1000/e.5", "E", 2022, "W5"),
        fake_openalex.listed_work(None, "F, no DOI", 2021, "W6"),
    ])
    resolution = orcid.resolve(collection(), context)
    assert resolution.outcome is Outcome.OK and resolution.complete
    assert {f.doi: f.via for f in resolution.found} == {
        "10.1000/a.1": ("orcid",),
        "10.1000/b.2": ("orcid", "openalex"),
        "10.1000/c.3": ("openalex", "orcid"),  # ORCID knew it by PMID only
        "10.1000/e.5": ("openalex",),
    }
    assert [(s.item, s.reason) for s in resolution.skipped] == [
        ("ORCID put-code 4", "no DOI or other id"),
        ("W6", "no DOI in OpenAlex"),
    ]
    assert [e.source for e in resolution.exchanges] == ["orcid", "openalex"]  # one short page: the last
    [asked] = fake_api.hits("openalex", "/works")[:1]
    assert asked.arg("filter") == f"author.orcid:{ORCID_ID}" and asked.arg("per_page") == "100"


def test_a_person_with_400_works_is_paged_100_at_a_time(fake_api, context):
    dois = [f"10.5555/p.{i}" for i in range(400)]
    fake_api.records["orcid"][ORCID_ID] = simple_record(ORCID_ID, [(d, f"T{i}") for i, d in enumerate(dois)])
    # OpenAlex knows 300 of them (written in upper case), and 100 more ORCID does not list
    listed = [d.upper() for d in dois[100:]] + [f"10.5555/q.{i}" for i in range(100)]
    fake_openalex.add_listing(fake_api, f"author.orcid:{ORCID_ID}", [
        fake_openalex.listed_work(d, "T", 2020, f"W{i}") for i, d in enumerate(listed)
    ])
    resolution = orcid.resolve(collection(), context)
    assert resolution.complete and len(resolution.found) == 500
    pages = fake_api.hits("openalex", "/works")
    assert len(pages) == 4 + 1  # four full pages, then the empty one with no next cursor
    assert pages[0].arg("cursor") == "*" and pages[1].arg("cursor") != "*"


def test_an_orcid_that_does_not_exist_is_not_found_and_openalex_is_not_asked(fake_api, context):
    resolution = orcid.resolve(collection(), context)
    assert resolution.outcome is Outcome.NOT_FOUND and not resolution.complete
    assert resolution.message == (
        f"ORCID has no record {ORCID_ID} (HTTP 404: The resource was not found.); "
        "check the iD in config.toml"
    )
    assert fake_api.hits("openalex") == [] and len(resolution.exchanges) == 1


def test_a_failed_openalex_page_keeps_what_was_found_and_is_incomplete(fake_api, context):
    fake_api.records["orcid"][ORCID_ID] = simple_record(ORCID_ID, [("10.1000/a.1", "A")])
    fake_openalex.add_listing(fake_api, f"author.orcid:{ORCID_ID}", [
        fake_openalex.listed_work(f"10.1000/x.{i}", "X", 2020, f"W{i}") for i in range(150)
    ])
    fake_api.inject("openalex", Fault(status=500, times=None))  # every retry of every page
    resolution = orcid.resolve(collection(), context)
    assert resolution.outcome is Outcome.ERROR and not resolution.complete
    assert [f.doi for f in resolution.found] == ["10.1000/a.1"]
    assert resolution.message.startswith("OpenAlex: HTTP 500 from 127.0.0.1")


def test_every_real_orcid_recording_is_read_by_a_test():
    names = {p.name for p in (REAL / "orcid").glob("*")} if (REAL / "orcid").is_dir() else set()
    if not names:
        pytest.skip("../shared/fixtures/real/orcid is absent")
    read = {p.name for p in WORKS_BODIES} | {
        "rorcid_works.yaml", "rorcid_identifiers.yaml", "volpino_sandbox_works_get_data.yaml",
        "rorcid_works_error.yaml", "rorcid_orcid_id_bad_orcid.yaml",
        "pub.orcid.org_v3.0_Asfaf_person_404.body.json",  # the fake's 404 (constructed/orcid/build.py)
    }
    assert names <= read
