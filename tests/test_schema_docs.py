"""docs/schema.md cannot drift: every table, view and column is described, every example runs."""

from __future__ import annotations

import re
import sqlite3

import pytest

from monitor import queries, store
from tests.conftest import ROOT
from tests.snapshot_db import database_of, snapshot_config

DOC = (ROOT / "docs" / "schema.md").read_text()
SQL_BLOCKS = re.findall(r"```sql\n(.*?)```", DOC, re.DOTALL)


def sections() -> dict[str, str]:
    """`### `name`` heading → the text up to the next heading."""
    parts = re.split(r"^### `(\w+)`\n", DOC, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def documented_columns(text: str) -> set[str]:
    return set(re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)) or set(
        re.findall(r"`(\w+)`", text)
    )


@pytest.fixture
def database(write_config, invoke, fake_api, tmp_path_factory):
    return database_of(snapshot_config(write_config, invoke, fake_api, tmp_path_factory))


def schema(path) -> dict[str, tuple[str, list[str]]]:
    conn = sqlite3.connect(path)
    try:
        names = conn.execute(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {
            name: (kind, [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')])
            for name, kind in names
        }
    finally:
        conn.close()


def test_the_doc_has_an_example_query_for_every_view():
    for view in store.VIEWS:
        assert any(re.search(rf"\bFROM {view}\b", block) for block in SQL_BLOCKS), view


def test_every_table_view_and_column_is_documented_and_nothing_else(database):
    actual = schema(database)
    documented = sections()
    assert set(documented) == set(actual), "docs/schema.md sections differ from the schema"
    for name, (kind, columns) in actual.items():
        text = documented[name]
        assert text.lstrip().startswith(f"{kind.capitalize()}:"), f"{name}: say it is a {kind}"
        assert documented_columns(text) >= set(columns), f"{name}: undocumented columns"
        if kind == "table" or "| column |" in text:
            assert documented_columns(text) == set(columns), f"{name}: stale columns in the doc"


def test_every_example_query_runs_on_a_populated_database(database):
    assert len(SQL_BLOCKS) >= 15
    conn = queries.connect(database)  # read-only, as a reader would open it
    failures, empty = [], 0
    try:
        for sql in SQL_BLOCKS:
            try:
                result = queries.run_query(conn, sql)
            except queries.QueryError as exc:
                failures.append(f"{exc}\n{sql}")
                continue
            assert result.columns, sql
            empty += not result.rows
    finally:
        conn.close()
    assert not failures, "\n\n".join(failures)
    assert empty <= len(SQL_BLOCKS) // 4, "most examples should show rows on a populated database"
