"""``citation-monitor check``: one lookup per source, through the fake, nothing stored."""

from __future__ import annotations

from monitor.sources import SOURCES
from tests.conftest import DEFAULT_DOI

KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}


def lines_of(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines()[1:] if line.split()[0] in SOURCES}


def test_every_source_passes_against_a_polite_server(write_config, invoke, fake_api, tmp_path):
    config = write_config()
    result = invoke("check", "--config", str(config), env=KEYS)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Checking 11 sources with {DEFAULT_DOI}…"
    lines = lines_of(result.output)
    assert set(lines) == set(SOURCES)
    assert all(" ok " in line and "reachable" in line and "fields ok" in line for line in lines.values())
    assert "key accepted" in lines["scopus"] and "key not needed" in lines["crossref"]
    assert "key none (optional)" in lines["openalex"]
    assert "limits x-ratelimit-limit=100000, x-ratelimit-remaining=99990" in lines["openalex"]
    assert "x-api-pool=polite" in lines["crossref"]
    assert not (tmp_path / "state").exists()  # nothing stored, no database made
    for name in SOURCES:  # one lookup each (PubMed's is an elink and an efetch)
        assert 1 <= len(fake_api.hits(name)) <= (2 if name == "pubmed" else 1), name


def test_the_pmid_sources_use_the_pmid_a_source_checked_before_found(write_config, invoke, fake_api):
    result = invoke("check", "--config", str(write_config(only=("europepmc", "icite"))))
    assert result.exit_code == 0, result.output
    [hit] = fake_api.hits("icite")
    assert hit.arg("pmids") == "33930000"  # from Europe PMC's record


def test_a_refused_key_fails(write_config, invoke, fake_api):
    config = write_config(only=("crossref", "altmetric"))
    result = invoke("check", "--config", str(config), env={"ALTMETRIC_API_KEY": "wrong"})
    assert result.exit_code == 1
    lines = lines_of(result.output)
    assert "FAILED" in lines["altmetric"] and "key refused" in lines["altmetric"]
    assert "$ALTMETRIC_API_KEY" in lines["altmetric"] and "wrong" not in result.output
    assert " ok " in lines["crossref"]
    assert "Error: 1 of 2 sources failed: altmetric" in result.output


def test_a_field_that_went_missing_is_named(write_config, invoke, fake_api):
    del fake_api.records["europepmc"][DEFAULT_DOI]["citedByCount"]
    result = invoke("check", "--config", str(write_config(only=("europepmc",))))
    assert result.exit_code == 1
    line = lines_of(result.output)["europepmc"]
    assert "reachable" in line and "field 'citedByCount' is missing" in line


def test_a_server_that_hangs_up_is_not_reachable(write_config, invoke, fake_api):
    fake_api.inject("crossref", drop=True, times=None)
    config = write_config(only=("crossref",), http={"max_retries": 0})
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    line = lines_of(result.output)["crossref"]
    assert "FAILED" in line and "not reachable" in line and "cannot connect" in line


def test_a_source_without_its_key_is_listed_not_failed(write_config, invoke, fake_api):
    result = invoke("check", "--config", str(write_config(only=("crossref", "scopus"))))
    assert result.exit_code == 0, result.output
    line = lines_of(result.output)["scopus"]
    assert "skipped" in line and "Scopus needs an Elsevier API key" in line
    assert not fake_api.hits("scopus")


def test_a_config_of_collections_only_checks_with_the_first_work_a_run_tracked(
    write_config, invoke, fake_api, tmp_path
):
    collection = f'[[collections]]\nname = "mine"\nworks = ["{DEFAULT_DOI}"]\n'
    config = write_config(works=[], only=("crossref",), extra=collection)
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 2, result.output  # nothing resolved yet
    assert "no work to check with yet" in result.output
    assert invoke("run", "--config", str(config)).exit_code == 0
    before = (tmp_path / "state/monitor.db").read_bytes()
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert f"with {DEFAULT_DOI}" in result.output
    assert (tmp_path / "state/monitor.db").read_bytes() == before  # read, never written
