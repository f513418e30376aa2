"""report.json and works/<doi>.json: every file the report writes validates against the JSON
Schemas in docs/, and every key is a stable snake_case name, never a display label."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests import synthetic_db
from tests.conftest import DEFAULT_DOI, ROOT

DOCS = ROOT / "docs"
KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def validator(name: str) -> Draft202012Validator:
    schemas = {n: json.loads((DOCS / n).read_text()) for n in ("report.schema.json", "work.schema.json")}
    registry = Registry().with_resources(
        [(n, Resource.from_contents(s)) for n, s in schemas.items()]
        + [(s["$id"], Resource.from_contents(s)) for s in schemas.values()]
    )
    Draft202012Validator.check_schema(schemas[name])
    return Draft202012Validator(schemas[name], registry=registry)


def keys(value: Any, skip: tuple[str, ...] = ()) -> set[str]:
    """Every object key in ``value``, not looking inside the keys named in ``skip``."""
    if isinstance(value, dict):
        return set(value) | {k for key, v in value.items() if key not in skip for k in keys(v, skip)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v, skip)}
    return set()


def check_site(site: Path) -> int:
    """Validate report.json and every works/*.json of a site; return how many works."""
    report = json.loads((site / "report.json").read_text())
    errors = list(validator("report.schema.json").iter_errors(report))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert {k for k in keys(report) if not SNAKE.match(k)} == set()
    work = validator("work.schema.json")
    for path in sorted((site / "works").glob("*.json")):
        data = json.loads(path.read_text())
        errors = list(work.iter_errors(data))
        assert not errors, (path.name, [f"{list(e.path)}: {e.message}" for e in errors[:5]])
        assert {k for k in keys(data, skip=("record",)) if not SNAKE.match(k)} == set(), path.name
    assert len(list((site / "works").glob("*.json"))) == len(report["works"]) + len(report["untracked"])
    return len(report["works"])


def test_a_site_of_every_source_validates(write_config, invoke, fake_api, tmp_path):
    config = write_config(works=[DEFAULT_DOI, "10.1038/s41586-020-2649-2"])
    for _ in range(2):
        invoke("run", "--config", str(config), env=KEYS)
    assert check_site(tmp_path / "state/report") == 2
    report = json.loads((tmp_path / "state/report/report.json").read_text())
    work = report["works"][0]
    assert set(work["headline"]) >= {"value", "basis", "without_self_citations"}  # the public contract
    detail = json.loads((tmp_path / "state/report" / work["detail"]).read_text())
    assert {m["key"] for m in detail["metrics"]} >= {"fwci", "citation_percentile", "relative_citation_ratio"}
    assert "Venues" not in json.dumps(report) and "FWCI" not in keys(detail)


def test_an_empty_report_validates(tmp_path, invoke):
    (tmp_path / "config.toml").write_text(synthetic_db.CONFIG)  # a work in config, none in the database
    assert invoke("report", "--config", str(tmp_path / "config.toml")).exit_code == 0
    assert check_site(tmp_path / "state/report") == 0


def test_a_synthetic_portfolio_validates(tmp_path):
    """Twelve works, two of them no longer tracked, in two collections: one with its metrics,
    one whose metrics were never computed."""
    import sqlite3

    from monitor.config import load_config
    from monitor.report import write_report
    dois = synthetic_db.populate(tmp_path / "state/monitor.db", works=12, long_titles=True,
                                 hostile="A <b>bold</b>\x07 title")
    synthetic_db.add_collections(tmp_path / "state/monitor.db", dois, untracked=2)
    with sqlite3.connect(tmp_path / "state/monitor.db") as conn:
        conn.execute("DELETE FROM collection_snapshots WHERE collection_id = 2")
    (tmp_path / "config.toml").write_text(synthetic_db.CONFIG)
    write_report(load_config(tmp_path / "config.toml"))
    assert check_site(tmp_path / "state/report") == 12 - 2
    report = json.loads((tmp_path / "state/report/report.json").read_text())
    assert [(c["name"], c["metrics"] is None) for c in report["collections"]] == [("group", True), ("lab", False)]
    assert len(report["untracked"]) == report["totals"]["untracked"] == 2
    assert "No metrics yet" in (tmp_path / "state/report/collections/group.html").read_text()


def test_the_schema_rejects_display_labels():
    bad = {"schema_version": 2, "generated_at": None, "as_of": None, "version": "x", "last_run": None,
           "next_run": None, "totals": {"works": 0, "indexed": 0, "new": 0, "with_alerts": 0}, "works": [],
           "Venues": {}}
    with pytest.raises(Exception, match="Additional properties"):
        validator("report.schema.json").validate(bad)
