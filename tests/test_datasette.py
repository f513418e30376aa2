"""Datasette serves the snapshot database read-only, with our metadata and canned queries."""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import DEFAULT_DOI, ROOT
from tests.snapshot_db import database_of, snapshot_config

METADATA = ROOT / "datasette" / "metadata.json"
CANNED = ("new_citations_this_month", "sources_that_disagree", "failing_sources")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database(write_config, invoke, fake_api, tmp_path_factory):
    return database_of(snapshot_config(write_config, invoke, fake_api, tmp_path_factory))


@pytest.fixture
def datasette(database):
    """The README's command: `datasette serve state/monitor.db -m datasette/metadata.json`."""
    if importlib.util.find_spec("datasette") is None:
        pytest.skip("datasette is not installed: pip install -e '.[datasette]'")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(database),
        "-m",
        str(METADATA),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/-/versions.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"datasette did not start: {process.stderr.read()!r}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def direct(database, sql: str) -> list[dict]:
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def canned_sql(name: str) -> str:
    return json.loads(METADATA.read_text())["databases"]["monitor"]["queries"][name]["sql"]


def test_canned_queries_answer_through_the_json_api(datasette, database):
    listed = httpx.get(f"{datasette}/monitor.json").json()["queries"]
    assert {q["name"]: q["title"] for q in listed} == {
        "new_citations_this_month": "New citations this month",
        "sources_that_disagree": "Sources that disagree",
        "failing_sources": "Failing sources",
    }
    assert all(q["description"] for q in listed)
    answers = {}
    for name in CANNED:
        reply = httpx.get(f"{datasette}/monitor/{name}.json", params={"_shape": "objects"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["ok"] is True and body["error"] is None
        assert body["rows"] == direct(database, canned_sql(name)), name
        answers[name] = body["rows"]

    # Dimensions answered 500 in the populated run; nothing else failed.
    [failing] = answers["failing_sources"]
    assert failing["source"] == "dimensions" and failing["last_outcome"] == "error"
    assert failing["failure_streak"] == 1 and "HTTP 500" in failing["last_message"]

    counts = {
        r["source"]: r["citations"]
        for r in direct(
            database, "select source, citations from latest_counts where citations is not null"
        )
    }
    [disagree] = answers["sources_that_disagree"]
    assert disagree["doi"] == DEFAULT_DOI
    assert disagree["sources"] == len(counts)
    assert (disagree["lowest"], disagree["highest"]) == (min(counts.values()), max(counts.values()))

    new = answers["new_citations_this_month"]
    assert new, "the run's citing works were all first seen this month"
    assert {r["cited_doi"] for r in new} == {DEFAULT_DOI}


def test_metadata_describes_only_tables_and_views_that_exist(database):
    described = json.loads(METADATA.read_text())["databases"]["monitor"]["tables"]
    names = {
        r["name"]
        for r in direct(database, "select name from sqlite_master where type in ('table', 'view')")
    }
    assert set(described) <= names
    assert {"latest_counts", "count_history", "source_health", "citing_works"} <= set(described)
