"""The collector: concurrency, ordering, PMID-needing sources, request economy."""

from __future__ import annotations

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
    assert len(fake_api.hits(name)) == 1


def test_pmid_sources_use_the_pmid_learned_in_the_same_run(write_config, invoke, fake_api, tmp_path):
    result = invoke("run", "--config", str(write_config(only=("openalex", "icite", "pubmed"))))
    assert result.exit_code == 0, result.output
    assert fake_api.hits("icite")[0].arg("pmids") == "33930000"  # from OpenAlex ids.pmid
