"""The collector: concurrency, ordering, PMID-needing sources, request economy."""

from __future__ import annotations

import sqlite3

import pytest

from monitor import collect
from monitor.config import load_config
from monitor.fetching import make_client
from monitor.models import Outcome, Work
from tests.conftest import DEFAULT_DOI


@pytest.mark.parametrize("name", ["icite", "pubmed"])
def test_works_without_a_pmid_are_not_found_without_a_request(name, write_config, fake_api):
    config = load_config(write_config(), environ={})
    works = [Work("10.9999/no.pmid"), Work(DEFAULT_DOI, pmid="33930000")]
    with make_client(None, config.http) as client:
        report = collect.fetch_source(config.sources[name], works, client, config)
    first, second = report.observations
    assert first.outcome is Outcome.NOT_FOUND
    assert "none is known for this DOI" in first.message and "[[works]]" in first.message
    assert second.outcome is Outcome.OK
    asked = fake_api.hits(name)  # PubMed asks efetch about what it counted, too
    assert len(asked) == (2 if name == "pubmed" else 1)
    assert all("33930000" in str(r.query) for r in asked)


def test_pmid_sources_use_the_pmid_learned_in_the_same_run(write_config, invoke, fake_api, tmp_path):
    result = invoke("run", "--config", str(write_config(only=("openalex", "icite", "pubmed"))))
    assert result.exit_code == 0, result.output
    assert fake_api.hits("icite")[0].arg("pmids") == "33930000"  # from OpenAlex ids.pmid


def test_a_crashing_source_is_an_error_for_every_work_and_the_others_still_answer(
    write_config, fake_api, monkeypatch
):
    from monitor.sources import crossref

    def crash(works, session):
        raise RuntimeError("bug in the parser")

    monkeypatch.setattr(crossref, "fetch", crash)
    config = load_config(write_config(only=("openalex", "crossref")), environ={})
    summary = collect.run(config)
    results = {r.source: r for r in summary.sources}
    assert results["openalex"].outcome is Outcome.OK
    crossref = results["crossref"]
    assert (crossref.outcome, crossref.asked, crossref.ok) == (Outcome.ERROR, 1, 0)
    assert crossref.message == "internal error: RuntimeError('bug in the parser')"
    [row] = sqlite_rows(config.database, "SELECT * FROM latest_counts WHERE source = 'crossref'")
    assert (row["outcome"], row["citations"]) == ("error", None)
    assert row["message"] == crossref.message
    assert summary.exit_code == 1


def test_a_work_a_source_left_out_is_an_error_never_a_silent_gap(write_config, fake_api, monkeypatch):
    from monitor.sources import crossref

    fetch = crossref.fetch
    monkeypatch.setattr(crossref, "fetch", lambda works, session: fetch(works[:1], session))
    config = load_config(write_config(), environ={})
    works = [Work(DEFAULT_DOI), Work("10.9999/forgotten")]
    with make_client(None, config.http) as client:
        report = collect.fetch_source(config.sources["crossref"], works, client, config)
    answered, forgotten = report.observations
    assert answered.outcome is Outcome.OK
    assert forgotten.doi == "10.9999/forgotten" and forgotten.outcome is Outcome.ERROR
    assert forgotten.message == "internal error: source returned no result"


def test_a_source_needing_a_contact_email_without_one_is_not_configured_without_a_request(
    write_config, fake_api
):
    config = load_config(write_config(contact_email=""), environ={})
    with make_client(None, config.http) as client:
        report = collect.fetch_source(config.sources["unpaywall"], [Work(DEFAULT_DOI)], client, config)
    [obs] = report.observations
    assert obs.outcome is Outcome.NOT_CONFIGURED and "contact_email" in obs.message
    assert not fake_api.hits("unpaywall") and report.exchanges == ()


def sqlite_rows(path, sql):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()
