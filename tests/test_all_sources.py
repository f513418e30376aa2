"""One run over all eleven sources for the default article, through the fake."""

from __future__ import annotations

import re
import sqlite3

from monitor.sources import SOURCES

KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}
KEYED = {name for name, m in SOURCES.items() if m.SPEC.needs_key}


def latest(tmp_path) -> dict[str, sqlite3.Row]:
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.row_factory = sqlite3.Row
    return {r["source"]: r for r in conn.execute("select * from latest_counts")}


def test_eleven_sources_are_registered():
    assert list(SOURCES) == [
        "openalex", "crossref", "semanticscholar", "opencitations", "europepmc", "icite",
        "pubmed", "dimensions", "unpaywall", "scopus", "altmetric",
    ]
    assert KEYED == {"scopus", "altmetric"}


def test_without_keys_the_keyed_sources_are_not_configured(write_config, invoke, fake_api, tmp_path):
    result = invoke("run", "--config", str(write_config()))
    assert result.exit_code == 0, result.output  # not_configured is not a failure
    rows = latest(tmp_path)
    assert set(rows) == set(SOURCES)  # one observation per source
    assert {s for s, r in rows.items() if r["outcome"] == "not_configured"} == KEYED
    assert {s for s, r in rows.items() if r["outcome"] == "ok"} == set(SOURCES) - KEYED
    for source in KEYED:
        assert rows[source]["citations"] is None
        assert "environment variable" in rows[source]["message"]
        assert not fake_api.hits(source)  # no request made without a key
    assert rows["scopus"]["message"].startswith("Scopus needs an Elsevier API key")


def test_with_keys_every_source_is_ok(write_config, invoke, tmp_path):
    result = invoke("run", "--status", "--config", str(write_config()), env=KEYS)
    assert result.exit_code == 0, result.output
    rows = latest(tmp_path)
    assert {r["outcome"] for r in rows.values()} == {"ok"}
    assert rows["scopus"]["citations"] == 37  # the portal's "37 Scopus citations"
    assert rows["unpaywall"]["citations"] is None and rows["altmetric"]["citations"] is None  # no counts
    for source in SOURCES:
        assert re.search(rf"^{source} +ok ", result.output, re.MULTILINE), source


def test_a_hanging_source_and_a_changed_schema_do_not_stop_the_others(write_config, invoke, fake_api, tmp_path):
    fake_api.inject("dimensions", delay=1.5, times=None)  # hangs past its timeout
    del fake_api.records["europepmc"]["10.1016/j.drup.2021.100752"]["citedByCount"]  # schema changed
    config = write_config(sources={"dimensions": {"timeout_seconds": 0.3}})
    result = invoke("run", "--config", str(config), env=KEYS)
    assert result.exit_code == 1
    rows = latest(tmp_path)
    assert rows["dimensions"]["outcome"] == "error" and "timed out after 0.3s" in rows["dimensions"]["message"]
    assert rows["europepmc"]["outcome"] == "error" and "citedByCount" in rows["europepmc"]["message"]
    assert {s for s, r in rows.items() if r["outcome"] == "ok"} == set(SOURCES) - {"dimensions", "europepmc"}
    assert re.search(r"^dimensions +error +timed out", result.output, re.MULTILINE)
    assert re.search(r"^europepmc +error +.*citedByCount", result.output, re.MULTILINE)


def test_metadata_is_merged_with_the_source_of_each_field(write_config, invoke, tmp_path):
    from monitor import metadata, store

    invoke("run", "--config", str(write_config()), env=KEYS)
    db = store.open_db(tmp_path / "state/monitor.db")
    record, origin = metadata.merge(store.latest_metadata(db, "10.1016/j.drup.2021.100752"))
    db.close()
    assert record["journal"] == "Drug Resistance Updates" and origin["journal"] == "crossref"
    assert record["article_number"] == "100752"
    assert [a["name"] for a in record["authors"]][-1] == "Yan Cheng" and origin["authors"] == "openalex"
    assert origin["oa_status"] == "unpaywall" and origin["keywords"] == "europepmc"
    assert "Tumor microenvironment (TME)" in record["keywords"]
    assert record["mesh"] and record["topics"][0]["field"]
    assert record["is_retracted"] is False
