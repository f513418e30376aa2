"""The writer process (monitor/writer.py): a run that stores in a process of its own keeps
exactly what one storing in its own thread keeps, and fails the same way."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import database, store, writer
from monitor.errors import DiskFullError
from monitor.models import Observation, Outcome, SourceReport, Work
from tests.conftest import DEFAULT_DOI, ROOT, clean_env
from tests.fakeapi.routes import openalex as fake_openalex

WORKS = [DEFAULT_DOI, "10.9999/unknown.1"]

KEPT = {  # what a run keeps, without ids and moments (nor ledger_events: the sources' order of arrival)
    "observations": "select w.doi, o.source, o.outcome, o.message, o.citations, m.sha256, d.sha256, r.url "
                    "from observations o join works w on w.id = o.work_id left join payloads m on m.id = o.metrics_id "
                    "left join payloads d on d.id = o.metadata_id left join responses r on r.id = o.response_id",
    "responses": "select source, method, url, status_code from responses",
    "raw_bodies": "select sha256 from raw_bodies",
    "citers": "select doi, pmid, title, year from citers",
    "citation_sources": "select w.doi, c2.doi, cs.source, cs.gone_at is null from citation_sources cs "
                         "join citations c on c.id = cs.citation_id join works w on w.id = c.work_id "
                         "join citers c2 on c2.id = c.citer_id",
    "citing_fetches": "select w.doi, f.source, f.outcome, f.complete, f.items, f.count_at_fetch "
                      "from citing_fetches f join works w on w.id = f.work_id",
    "citations": "select w.doi, c2.doi, c.is_self_citation, c.is_influential, c.contexts, c.intents "
                 "from citations c join works w on w.id = c.work_id join citers c2 on c2.id = c.citer_id",
    "works": "select doi, pmid, counts_moved_at is null from works",
}


def kept(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        return {table: sorted(map(tuple, conn.execute(sql)), key=repr) for table, sql in KEPT.items()}
    finally:
        conn.close()


def test_a_writer_process_keeps_exactly_what_the_runs_thread_keeps(
    write_config, invoke, fake_api, tmp_path, monkeypatch
):
    config = write_config(works=WORKS)
    db = tmp_path / "state/monitor.db"
    stored, count = {}, fake_api.records["openalex"][DEFAULT_DOI]["cited_by_count"]
    for choice in ("thread", "process"):
        for leftover in db.parent.glob("monitor.db*"):
            leftover.unlink()
        monkeypatch.setenv(writer.CHOICE_ENV, choice)
        assert invoke("run", "--config", str(config)).exit_code == 0
        fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)  # a second run: moves, the ledger's second look
        assert invoke("run", "--config", str(config)).exit_code == 0
        fake_openalex.set_count(fake_api, DEFAULT_DOI, count)
        stored[choice] = kept(db)
    assert stored["process"]["observations"] and stored["process"]["citation_sources"]
    assert stored["process"] == stored["thread"]


@pytest.mark.parametrize("choice", ["thread", "process"])
def test_a_database_error_while_storing_is_the_runs_one_line_error(write_config, invoke, tmp_path, monkeypatch, choice):
    config = write_config(works=WORKS, only=("openalex", "crossref"))
    assert invoke("run", "--config", str(config)).exit_code == 0
    db = tmp_path / "state/monitor.db"
    conn = sqlite3.connect(db)
    conn.execute("create trigger refuse before insert on observations begin select raise(fail, 'refused here'); end")
    conn.close()
    monkeypatch.setenv(writer.CHOICE_ENV, choice)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"Error: {db}: database error: refused here"
    conn = sqlite3.connect(db)
    assert conn.execute("select status from runs order by id").fetchall() == [("ok",), ("interrupted",)]
    conn.close()


def test_an_sqlite_error_keeps_its_code_across_the_pipe():
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode, full.sqlite_errorname = sqlite3.SQLITE_FULL, "SQLITE_FULL"
    kind, value = writer._failure(full)
    again = writer._sqlite_error(*value)
    assert kind == "sqlite" and type(again) is sqlite3.OperationalError
    assert isinstance(database.error(again, Path("monitor.db")), DiskFullError)


def test_an_unknown_writer_choice_is_one_line(write_config, invoke, monkeypatch):
    config = write_config(only=("crossref",))
    monkeypatch.setenv(writer.CHOICE_ENV, "fork")
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: CITATION_MONITOR_WRITER='fork' is not a writer: set it to thread, process or auto, or unset it"
    )


def test_a_script_of_ones_own_that_runs_a_large_run_runs_it_once(write_config, tmp_path):
    """The writer process does not import the caller's main module again (multiprocessing's
    "spawn" would: a script without a __main__ guard would start its run over and over)."""
    config = write_config(only=("openalex", "crossref"))
    script = tmp_path / "nightly.py"
    script.write_text(
        "from pathlib import Path\n"
        "from monitor import collect\n"
        "from monitor.config import load_config\n"
        f"print('run', collect.run(load_config(Path({str(config)!r}))).run_id)\n"
    )
    env = {**clean_env(), "CITATION_MONITOR_WRITER": "process", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "run 1\n"
    assert kept(tmp_path / "state/monitor.db")["observations"]


def test_each_chunk_goes_to_the_writer_process_with_its_own_works_ids_only(tmp_path):
    """The writer process is given no map of every tracked work (at 100,000 works, memory
    that grows with them): a chunk brings the ids of its works, and is stored by them."""
    path = tmp_path / "monitor.db"
    db = store.open_db(path)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    ids = store.sync_works(db, [Work(f"10.5555/w.{i}") for i in range(3)], now)
    run_id = store.start_run(db, now)
    sent = []
    process = writer.InProcess(path, run_id, ids)
    send = process._send
    process._send = lambda request: (sent.append(request), send(request))[1]
    try:
        chunk = SourceReport("crossref", (Observation("10.5555/w.1", "crossref", Outcome.OK, citations=7),), ())
        process.save(chunk, now)
        process.settle()
    finally:
        process.close()
    assert sent[0][:3] == ("save", chunk, now) and sent[0][3] == {"10.5555/w.1": ids["10.5555/w.1"]}
    stored = [(r["work_id"], r["citations"]) for r in db.query("SELECT work_id, citations FROM observations")]
    assert stored == [(ids["10.5555/w.1"], 7)]


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_the_runs_process_gives_back_what_each_chunk_freed_whichever_writer_stores_it(tmp_path, monkeypatch, kind):
    """Both writers give the C library's free memory back in the run's process as chunks go
    by (``memory.Every``: at most every few seconds): the answers a chunk held are freed
    there, whether it is stored in the run's thread or handed to a writer process."""
    from monitor import memory

    calls = []
    monkeypatch.setattr(memory, "give_back", lambda: calls.append(kind))
    path = tmp_path / "monitor.db"
    db = store.open_db(path)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    ids = store.sync_works(db, [Work("10.5555/w.1"), Work("10.5555/w.2")], now)
    run_id = store.start_run(db, now)
    storing = writer.InThread(db, run_id, ids) if kind == "thread" else writer.InProcess(path, run_id, ids)

    def chunk(doi: str) -> SourceReport:
        return SourceReport("crossref", (Observation(doi, "crossref", Outcome.OK, citations=7),), ())

    clock = [0.0]  # the writer's period on a clock of the test's, not the machine's
    storing.give_back = memory.Every(memory.EVERY_SECONDS, clock=lambda: clock[0])
    try:
        storing.save(chunk("10.5555/w.1"), now)
        assert calls == []  # not yet: a period has not passed since the writer began
        clock[0] = memory.EVERY_SECONDS
        storing.save(chunk("10.5555/w.2"), now)
        assert calls == [kind]
        storing.settle()
    finally:
        storing.close()


def test_a_chunk_crosses_to_the_writer_in_pieces_never_whole_and_arrives_intact():
    """A chunk is pickled straight onto the socket, a frame of pickle's at a time, and
    unpickled as it arrives: at 100,000 works one part of OpenAlex's lists pickled to 33 MB,
    held whole as bytes on both sides at once. Large bodies cross as they are; requests
    after it start where it ended."""
    from multiprocessing import Pipe

    from monitor.models import Exchange

    ours, theirs = Pipe()
    sizes = []
    send_bytes = ours.send_bytes
    ours.send_bytes = lambda data: (sizes.append(len(data)), send_bytes(data))[1]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    body = bytes(range(256)) * 4000  # a 1 MB answer
    exchange = Exchange("crossref", "GET", "https://api.crossref.org/works", 200, {"a": "b"}, body, now, 5)
    observations = tuple(
        Observation(f"10.5555/w.{i}", "crossref", Outcome.OK, citations=i, metadata={"title": f"Work {i} " * 20},
                    exchange=exchange)
        for i in range(20_000)
    )
    chunk = ("save", SourceReport("crossref", observations, (exchange,)), now, {"10.5555/w.1": 1})
    received = []
    reader = threading.Thread(target=lambda: received.extend([writer._receive(theirs), writer._receive(theirs)]))
    reader.start()
    writer._send(ours, chunk)
    writer._send(ours, ("settle",))
    reader.join(30)
    assert received == [chunk, ("settle",)]
    assert received[0][1].observations[0].exchange is received[0][1].exchanges[0]  # shared, as sent
    whole = len(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)) + len(pickle.dumps(("settle",), protocol=pickle.HIGHEST_PROTOCOL))
    assert sum(sizes) == whole and max(sizes) == len(body)  # every byte of both; only the body in one piece
    assert sorted(sizes)[-2] <= 70_000 < whole - len(body)  # pickle's frames (64 KB) otherwise


def test_the_writer_process_imports_no_source():
    """The writer process is told whether a chunk's counts signal moves: it never imports
    the sources (httpx and the rest, 9 MB of a process that lives as long as the run)."""
    code = "import sys, monitor.writer; print(sorted(m for m in sys.modules if m in ('httpx', 'monitor.sources')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
