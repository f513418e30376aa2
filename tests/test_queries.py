"""`query`, `export`, `history` and `backup`: the database read from outside, never changed."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from monitor import queries
from tests.conftest import DEFAULT_DOI
from tests.snapshot_db import EARLIER, database_of, snapshot_config


@pytest.fixture
def config(write_config, invoke, fake_api, tmp_path_factory):
    return snapshot_config(write_config, invoke, fake_api, tmp_path_factory)


def rows(config, sql: str, params=()) -> list[dict]:
    conn = sqlite3.connect(database_of(config))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


# --- query ----------------------------------------------------------------------------


def test_query_prints_a_table_with_a_row_count(config, invoke):
    expected = rows(config, "select source, citations from latest_counts order by source")
    result = invoke(
        "query",
        "select source, citations from latest_counts order by source",
        "--config",
        str(config),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["source", "citations"]
    assert set(lines[1]) == {"-", " "}
    assert lines[-1] == f"({len(expected)} rows)"
    openalex = next(r for r in expected if r["source"] == "openalex")
    assert any(line.split() == ["openalex", str(openalex["citations"])] for line in lines)
    # a failed source shows an empty cell, never a 0
    assert any(line.split() == ["dimensions"] for line in lines)


def test_query_csv_and_json_carry_the_same_rows(config, invoke):
    sql = "select doi, source, outcome, citations from latest_counts order by source"
    expected = rows(config, sql)
    as_csv = invoke("query", sql, "--csv", "--config", str(config))
    assert as_csv.exit_code == 0, as_csv.output
    parsed = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [r["source"] for r in parsed] == [r["source"] for r in expected]
    assert [r["citations"] for r in parsed] == [
        "" if r["citations"] is None else str(r["citations"]) for r in expected
    ]
    as_json = invoke("query", sql, "--json", "--config", str(config))
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == expected


def test_an_sql_error_is_one_line_and_exit_1(config, invoke):
    result = invoke("query", "select nope from latest_counts", "--config", str(config))
    assert result.exit_code == 1
    assert result.output == "Error: SQL error: no such column: nope\n"


@pytest.mark.parametrize(
    "sql",
    [
        "delete from observations",
        "update works set label = 'x'",
        "drop view latest_counts",
        "create table extra (x int)",
    ],
)
def test_writes_are_refused(config, invoke, sql):
    before = rows(config, "select count(*) as n from observations")
    result = invoke("query", sql, "--config", str(config))
    assert result.exit_code == 1
    assert "read-only" in result.output and len(result.output.splitlines()) == 1
    assert rows(config, "select count(*) as n from observations") == before
    assert rows(config, "select count(*) as n from sqlite_master where name = 'latest_counts'") == [
        {"n": 1}
    ]


@pytest.mark.parametrize("sql", ["attach database '{path}' as other", "vacuum into '{path}'"])
def test_no_file_can_be_written_through_a_query(config, invoke, tmp_path, sql):
    target = tmp_path / "elsewhere.db"
    result = invoke("query", sql.format(path=target), "--config", str(config))
    assert result.exit_code == 1
    assert "read-only" in result.output
    assert not target.exists()


def test_query_needs_an_existing_database(write_config, invoke):
    config = write_config()
    result = invoke("query", "select 1", "--config", str(config))
    assert result.exit_code == 2  # a path that holds no database
    assert "no database at" in result.output and "citation-monitor run" in result.output
    assert not database_of(config).exists()  # reading never creates it


def test_csv_and_json_together_is_a_usage_error(config, invoke):
    result = invoke("query", "select 1", "--csv", "--json", "--config", str(config))
    assert result.exit_code == 2
    assert "choose one of --csv and --json" in result.output


def test_format_table_cuts_long_cells_and_shows_blobs_by_size():
    result = queries.Result(["a", "b"], [("x" * 100, b"\x00\x01"), (None, 3)])
    text = queries.format_table(result, max_width=10)
    assert "xxxxxxxxx…" in text and "<2 bytes>" in text
    assert text.endswith("(2 rows)")


# --- export ---------------------------------------------------------------------------


def test_export_json_is_every_observation_with_nested_metrics(config, invoke):
    result = invoke("export", "--format", "json", "--config", str(config))
    assert result.exit_code == 0, result.output
    exported = json.loads(result.output)
    stored = rows(config, "select id, source, citations, metrics from observation_details order by id")
    assert sorted(r["observation_id"] for r in exported) == [r["id"] for r in stored]
    openalex = [r for r in exported if r["source"] == "openalex" and r["metrics"]]
    assert openalex and isinstance(openalex[-1]["metrics"], dict)
    assert "fwci" in openalex[-1]["metrics"]
    assert all(r["doi"] == DEFAULT_DOI for r in exported)
    failed = next(r for r in exported if r["source"] == "dimensions")
    assert failed["outcome"] == "error" and failed["citations"] is None
    assert failed["response_status"] == 500
    # where a brief answer's other metadata was read (store.carry_metadata): none here
    assert all("metadata_from" in r and r["metadata_from"] is None for r in exported)


def test_export_a_view_as_csv_to_a_file(config, invoke, tmp_path):
    output = tmp_path / "out" / "history.csv"
    result = invoke(
        "export",
        "--format",
        "csv",
        "--view",
        "count_history",
        "--output",
        str(output),
        "--config",
        str(config),
    )
    assert result.exit_code == 0, result.output
    expected = rows(config, "select * from count_history")
    assert f"{len(expected)} rows written to {output}" in result.output
    with open(output, newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert list(exported[0]) == [
        "doi",
        "source",
        "day",
        "citations",
        "observed_at",
        "observation_id",
    ]
    assert [(r["source"], r["day"], r["citations"]) for r in exported] == [
        (r["source"], r["day"], "" if r["citations"] is None else str(r["citations"]))
        for r in expected
    ]
    assert not list(output.parent.glob(".*.tmp"))


def test_export_of_an_unknown_view_names_the_views(config, invoke):
    result = invoke("export", "--format", "csv", "--view", "observations", "--config", str(config))
    assert result.exit_code == 1
    assert result.output.startswith("Error: no view 'observations'; the views are: ")
    assert "count_history" in result.output and "latest_counts" in result.output


def test_export_format_is_checked(config, invoke):
    result = invoke("export", "--format", "xml", "--config", str(config))
    assert result.exit_code == 2
    assert "'xml' is not one of 'csv', 'json'" in result.output


# --- history --------------------------------------------------------------------------


def test_history_takes_any_doi_form_and_draws_each_source(config, invoke, fake_api):
    result = invoke(
        "history", "https://doi.org/10.1016/J.DRUP.2021.100752", "--config", str(config)
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == DEFAULT_DOI
    now = fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    earlier = EARLIER["openalex"]
    [openalex] = [line for line in lines if line.startswith("openalex ")]
    assert f"▁█  {earlier} → {now} ({now - earlier:+d})" in openalex
    days = [
        r["day"]
        for r in rows(
            config, "select day from count_history where source = 'openalex' order by day"
        )
    ]
    assert [line.split()[0] for line in lines[lines.index(openalex) + 1 :][:2]] == days
    assert any(line.split()[:4] == ["dimensions", "no", "count", "yet"] for line in lines)
    assert "(last outcome: error)" in result.output


def test_history_of_an_untracked_doi(config, invoke):
    result = invoke("history", "10.9999/not.tracked", "--config", str(config))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: 10.9999/not.tracked is not a tracked work in this database; tracked: {DEFAULT_DOI}\n"
    )


def test_history_of_something_that_is_not_a_doi(config, invoke):
    result = invoke("history", "not-a-doi", "--config", str(config))
    assert result.exit_code == 1
    assert "'not-a-doi' is not a DOI" in result.output


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        ([5, 5, 5], "▁▁▁"),
        ([0, 7], "▁█"),
        ([1, 2, 3, 4, 5, 6, 7, 8], "▁▂▃▄▅▆▇█"),
    ],
)
def test_sparkline(values, expected):
    assert queries.sparkline(values) == expected


def test_a_long_series_is_drawn_in_the_width_given():
    line = queries.sparkline(list(range(100)), width=10)
    assert len(line) == 10 and line[0] == "▁" and line[-1] == "█"


# --- backup ---------------------------------------------------------------------------


def test_backup_is_a_complete_consistent_copy(config, invoke, tmp_path):
    target = tmp_path / "backups" / "monitor.db"
    result = invoke("backup", str(target), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Backup: {target} (")
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("pragma integrity_check").fetchone() == ("ok",)
        for table in ("observations", "responses", "raw_bodies", "citations", "runs"):
            [(n,)] = copy.execute(f"select count(*) from {table}").fetchall()
            assert n == rows(config, f"select count(*) as n from {table}")[0]["n"], table
        assert copy.execute("select count(*) from latest_counts").fetchone()[0] > 0
    finally:
        copy.close()


def test_backup_refuses_to_overwrite_unless_forced(config, invoke, tmp_path):
    target = tmp_path / "monitor-backup.db"
    target.write_text("precious")
    result = invoke("backup", str(target), "--config", str(config))
    assert result.exit_code == 1
    assert result.output == f"Error: {target} already exists: pass --force to overwrite it\n"
    assert target.read_text() == "precious"
    forced = invoke("backup", str(target), "--force", "--config", str(config))
    assert forced.exit_code == 0, forced.output
    assert target.read_bytes().startswith(b"SQLite format 3\x00")


def test_backup_never_overwrites_the_database_itself(config, invoke):
    database = database_of(config)
    result = invoke("backup", str(database), "--force", "--config", str(config))
    assert result.exit_code == 1
    assert "is the database itself" in result.output


def test_backup_while_another_connection_writes(config, tmp_path):
    """The copy is the last committed state: a writer mid-transaction neither blocks nor leaks."""
    database = database_of(config)
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("begin immediate")
        writer.execute("update works set label = 'uncommitted'")
        writer.execute(
            "insert into runs (started_at, status) values ('2030-01-01T00:00:00+00:00', 'running')"
        )
        queries.backup(database, tmp_path / "copy.db")
        writer.execute("commit")
    finally:
        writer.close()
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("select label from works").fetchall() == [(None,)]
        assert copy.execute("select count(*) from runs").fetchone()[0] == 2
    finally:
        copy.close()
    assert rows(config, "select count(*) as n from runs") == [{"n": 3}]
