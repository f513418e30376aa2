"""The snapshot store: SQLite through sqlite-utils.

Tables: ``works``, ``runs``, ``observations`` (one row per work asked, source and run),
``payloads`` (the metrics and metadata observations refer to, each kept once by its
SHA-256), ``responses`` (every HTTP exchange) and ``raw_bodies`` (response bodies,
zlib-compressed and addressed by their SHA-256, so an unchanged response costs no new
space). Views are what reports and people query (``observation_details`` gives each
observation with its metrics and metadata); see docs/schema.md.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from monitor import database
from monitor.migrations import migrations, payload_sha256
from monitor.models import Exchange, Observation, Outcome, SourceReport, Work, parse_json
from monitor.views import VIEWS  # noqa: F401 - store.VIEWS and store.ensure_views, as before

IN_A_QUERY = 500  # the values of one query's IN (...) (SQLite allows 32,766)


def open_db(path: Path, *, check: bool = True) -> sqlite_utils.Database:
    """The database at ``path`` for writing (created, migrated): ``database.open_writable``."""
    return database.open_writable(path, migrations, check=check)


def open_checking(path: Path) -> tuple[sqlite_utils.Database, database.Check]:
    """The database at ``path`` for writing, checked beside the caller: ``database.open_checking``."""
    return database.open_checking(path, migrations)


def open_reader(path: Path) -> sqlite_utils.Database:
    """The database at ``path`` only to read it: ``database.open_readable``."""
    return database.open_readable(path, migrations)


def check_ours(path: Path) -> list[str]:
    """The migrations the database at ``path`` still needs: ``database.check_ours``."""
    return database.check_ours(path, migrations)


@lru_cache(maxsize=256)  # a chunk's rows share a few moments: the ledger asks for each ~8 times a record
def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def rows(
    db: sqlite_utils.Database, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> Iterator[dict[str, Any]]:
    """``db.query`` without its parsing of the statement: for the ledger's hot paths, which
    ask small questions hundreds of thousands of times on a cold run."""
    cursor = db.conn.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(columns, row, strict=True))


def in_parts(values: Sequence[Any]) -> Iterator[tuple[Sequence[Any], str]]:
    """``values`` in parts of at most ``IN_A_QUERY``, each with its ``?, ?, …`` for an ``IN (…)``."""
    for start in range(0, len(values), IN_A_QUERY):
        part = values[start : start + IN_A_QUERY]
        yield part, ", ".join("?" * len(part))


# --- writing -------------------------------------------------------------------


def sync_works(db: sqlite_utils.Database, works: Sequence[Work], now: datetime) -> dict[str, int]:
    """Make sure every configured work has a row; return doi → work id.

    A pmid from config wins over one learned from a source. A row already as configured is
    not written (at every run, most are).
    """
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO works (doi, label, pmid, pmid_source, added_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (doi) DO UPDATE SET label = excluded.label, "
            "pmid = coalesce(excluded.pmid, works.pmid), "
            "pmid_source = CASE WHEN excluded.pmid IS NOT NULL THEN 'config' ELSE works.pmid_source END "
            "WHERE works.label IS NOT excluded.label OR (excluded.pmid IS NOT NULL "
            "AND (works.pmid IS NOT excluded.pmid OR works.pmid_source IS NOT 'config'))",
            [(work.doi, work.label, work.pmid, "config" if work.pmid else None, iso(now)) for work in works],
        )
    ours = {work.doi: work.doi for work in works}  # keyed by the DOIs held already, not copies
    return {ours.get(doi, doi): work_id for work_id, doi in db.execute("SELECT id, doi FROM works")}


def tracked_works(db: sqlite_utils.Database, works: Iterable[Work]) -> list[Work]:
    """The works as stored (the pmid from config or learned from a source), in their
    order: each the same object where nothing differs (at 100,000 works, copies of the
    works and their DOIs held 13 MB all run)."""
    stored = {doi: (label, pmid) for doi, label, pmid in db.execute("SELECT doi, label, pmid FROM works")}
    return [
        work if (work.label, work.pmid) == found else Work(work.doi, *found)
        for work in works
        if (found := stored.get(work.doi)) is not None
    ]


def learned_pmids(db: sqlite_utils.Database, works: Iterable[Work]) -> dict[str, Work]:
    """DOI → the work with the PMID stored since (a source gave it), for those of ``works``
    that lacked one and have one now. Reads only the stored PMIDs: at 100,000 works, mid-run,
    a copy of every work was 30 MB."""
    lacking = {w.doi: w for w in works if not w.pmid}
    if not lacking:
        return {}
    rows = db.execute("SELECT doi, pmid FROM works WHERE pmid IS NOT NULL")
    return {work.doi: Work(work.doi, work.label, pmid) for doi, pmid in rows if (work := lacking.get(doi))}


def start_run(db: sqlite_utils.Database, now: datetime) -> int:
    cursor = db.execute(
        "INSERT INTO runs (started_at, status) VALUES (?, 'running')", [iso(now)]
    )
    return int(cursor.lastrowid or 0)


def has_running_runs(path: Path) -> bool:
    """Whether the database at ``path`` has a run marked 'running' (a quick look, no write)."""
    with database.peeking(path) as conn:
        try:
            return conn.execute("SELECT 1 FROM runs WHERE status = 'running' LIMIT 1").fetchone() is not None
        except sqlite3.Error:  # no runs table yet, or damage: the run's own open says which
            return False


def close_abandoned_runs(db: sqlite_utils.Database) -> list[int]:
    """Mark 'interrupted' the runs still 'running': call only under the run lock, which no
    running run would have let us take, so their process is gone (killed, or the machine
    stopped). Their end is the last thing they stored. Returns their ids."""
    ids = [row["id"] for row in db.query("SELECT id FROM runs WHERE status = 'running'")]
    with db.atomic():
        for run_id in ids:
            db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = coalesce("
                "(SELECT max(observed_at) FROM observations WHERE run_id = runs.id), started_at) "
                "WHERE id = ?",
                [run_id],
            )
    return ids


def finish_run(
    db: sqlite_utils.Database, run_id: int, now: datetime, status: str, exit_code: int, summary: dict[str, Any]
) -> None:
    db.execute(
        "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE id = ?",
        [iso(now), status, exit_code, json.dumps(summary, sort_keys=True), run_id],
    )


def save_source(
    db: sqlite_utils.Database,
    run_id: int,
    work_ids: dict[str, int],
    report: SourceReport,
    now: datetime,
    *,
    signals_moves: bool = False,
) -> dict[int, int]:
    """Store one source's exchanges and observations for a run, all or nothing.

    ``signals_moves``: the source is a batched counting one, whose count of a work moving
    sets ``works.counts_moved_at`` (the per-work sources ask again then: monitor/plan.py).
    Returns id(exchange) → responses.id, for rows that point at their response.
    """
    with db.atomic():
        response_ids = {id(ex): save_exchange(db, run_id, ex) for ex in report.exchanges}
        for obs in report.observations:
            if obs.exchange is not None and id(obs.exchange) not in response_ids:
                response_ids[id(obs.exchange)] = save_exchange(db, run_id, obs.exchange)
        if signals_moves:  # read before this chunk's own observations are in
            note_moves(db, run_id, work_ids, report, now)
        save_observations(db, run_id, work_ids, report.observations, now, response_ids)
        for obs in report.observations:
            learn_pmid(db, work_ids[obs.doi], obs)
    return response_ids


def note_moves(
    db: sqlite_utils.Database, run_id: int, work_ids: Mapping[str, int], report: SourceReport, now: datetime
) -> None:
    """Set ``works.counts_moved_at`` for each work whose count differs from the source's
    previous one (its latest ok count of an earlier run), read for the chunk in a few queries."""
    counted = [obs for obs in report.observations if obs.citations is not None]
    previous: dict[int, int] = {}
    for part, marks in in_parts(sorted({work_ids[obs.doi] for obs in counted})):
        rows = db.conn.execute(  # SQLite gives a bare column from the row max() picked
            "SELECT work_id, citations, max(run_id) FROM observations WHERE source = ? AND run_id < ? "
            f"AND outcome = 'ok' AND citations IS NOT NULL AND work_id IN ({marks}) GROUP BY work_id",
            [report.source, run_id, *part],
        )
        previous.update((work_id, citations) for work_id, citations, _ in rows)
    for obs in counted:
        work_id = work_ids[obs.doi]
        if previous.get(work_id, obs.citations) != obs.citations:
            at = iso(obs.exchange.fetched_at if obs.exchange else now)
            db.conn.execute("UPDATE works SET counts_moved_at = ? WHERE id = ?", [at, work_id])


def body_sha256(body: bytes) -> str:
    """The address of a raw body (``raw_bodies.sha256``): its SHA-256, in hex."""
    return hashlib.sha256(body).hexdigest()


def save_body(db: sqlite_utils.Database, body: bytes) -> str:
    """Keep a body once, by its SHA-256 (a pruned copy is restored); return the hash."""
    digest = body_sha256(body)
    if not _kept(db, digest):  # kept already (a quiet night's answers mostly are): nothing to compress
        _keep(db, digest, len(body), zlib.compress(body, 6))
    return digest


def _kept(db: sqlite_utils.Database, digest: str) -> bool:
    return db.execute("SELECT 1 FROM raw_bodies WHERE sha256 = ? AND body IS NOT NULL", [digest]).fetchone() is not None


def _keep(db: sqlite_utils.Database, digest: str, size: int, compressed: bytes) -> None:
    db.execute(
        "INSERT INTO raw_bodies (sha256, size, compression, body) VALUES (?, ?, 'zlib', ?) "
        "ON CONFLICT (sha256) DO UPDATE SET body = excluded.body, "
        "compression = excluded.compression, pruned_at = NULL WHERE raw_bodies.body IS NULL",
        [digest, size, compressed],
    )


def save_exchange(db: sqlite_utils.Database, run_id: int, exchange: Exchange) -> int:
    packed = exchange.packed()  # compressed already: a run's session packs each answer it records
    if packed is None:
        digest = save_body(db, exchange.body)
    elif not _kept(db, digest := packed[0]):
        _keep(db, digest, packed[1], packed[2])
    cursor = db.execute(
        "INSERT INTO responses (run_id, source, method, url, status_code, headers, fetched_at, "
        "elapsed_ms, body_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            exchange.source,
            exchange.method,
            exchange.url,
            exchange.status_code,
            json.dumps(exchange.headers, sort_keys=True),
            iso(exchange.fetched_at),
            exchange.elapsed_ms,
            digest,
        ],
    )
    return int(cursor.lastrowid or 0)


def save_observations(
    db: sqlite_utils.Database,
    run_id: int,
    work_ids: Mapping[str, int],
    observations: Sequence[Observation],
    now: datetime,
    response_ids: Mapping[int, int],
) -> None:
    """A chunk's observations, their metrics and metadata kept once each (``save_payloads``);
    a brief answer's metadata completed from the last whole record (``carry_metadata``)."""
    metrics = save_payloads(db, [obs.metrics for obs in observations])
    carried = carry_metadata(db, run_id, [work_ids[obs.doi] for obs in observations], observations)
    metadata = save_payloads(db, [{} if i in carried else obs.metadata for i, obs in enumerate(observations)])
    db.conn.executemany(
        "INSERT INTO observations (run_id, work_id, source, observed_at, outcome, message, "
        "citations, metrics_id, metadata_id, response_id, metadata_from) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                work_ids[obs.doi],
                obs.source,
                iso(obs.exchange.fetched_at if obs.exchange else now),
                obs.outcome.value,
                obs.message,
                obs.citations,
                metrics_id,
                carried[i].metadata_id if i in carried else metadata_id,
                response_ids.get(id(obs.exchange)) if obs.exchange else None,
                carried[i].read_from if i in carried else None,
            )
            for i, (obs, metrics_id, metadata_id) in enumerate(zip(observations, metrics, metadata, strict=True))
        ],
    )


@dataclass(frozen=True, slots=True)
class Carried:
    """A brief answer's metadata (``payloads.id``): the last whole record's when the fields
    the answer gives agree with it, else the two merged; ``read_from`` is the observation
    whose answer the rest was read from."""

    metadata_id: int | None
    read_from: int


def carry_metadata(
    db: sqlite_utils.Database, run_id: int, work_ids: Sequence[int], observations: Sequence[Observation]
) -> dict[int, Carried]:
    """For each ok brief observation (by its index), its metadata, kept: the fields its
    answer gives (those ``Observation.brief`` names, and no other) over the rest of the
    source's latest ok observation of the work from an earlier run. A brief answer with no
    earlier one (the plan asks briefly only after an ok answer, and no observation is ever
    deleted) is kept as it came."""
    briefs = {i: obs for i, obs in enumerate(observations) if obs.brief and obs.outcome is Outcome.OK}
    earlier: dict[tuple[int, str], tuple[int | None, int, str | None]] = {}
    for source in {obs.source for obs in briefs.values()}:
        wanted = sorted({work_ids[i] for i, obs in briefs.items() if obs.source == source})
        for part, marks in in_parts(wanted):
            rows = db.conn.execute(  # each an index seek back to the work's latest ok answer
                "SELECT o.work_id, o.metadata_id, coalesce(o.metadata_from, o.id), p.body "
                "FROM observations o LEFT JOIN payloads p ON p.id = o.metadata_id WHERE o.id IN "
                "(SELECT (SELECT q.id FROM observations q WHERE q.work_id = j.value AND q.source = ? "
                "AND q.run_id < ? AND q.outcome = 'ok' ORDER BY q.run_id DESC LIMIT 1) FROM json_each(?) j)",
                [source, run_id, json.dumps(list(part))],
            )
            earlier.update(((work_id, source), (mid, root, body)) for work_id, mid, root, body in rows)
    carried: dict[int, Carried] = {}
    merged: dict[int, dict[str, Any]] = {}  # the brief answers that disagree, kept below
    for i, obs in briefs.items():
        if (work_ids[i], obs.source) not in earlier:
            continue
        metadata_id, root, body = earlier[(work_ids[i], obs.source)]
        before: dict[str, Any] = orjson.loads(body) if body else {}
        given = {name: obs.metadata[name] for name in obs.brief if name in obs.metadata}
        carried[i] = Carried(metadata_id, root)
        if any(before.get(name) != given.get(name) for name in obs.brief):
            merged[i] = {**{k: v for k, v in before.items() if k not in obs.brief}, **given}
    for i, metadata_id in zip(merged, save_payloads(db, list(merged.values())), strict=True):
        carried[i] = Carried(metadata_id, carried[i].read_from)
    return carried


def save_payload(db: sqlite_utils.Database, payload: dict[str, Any]) -> int | None:
    """Keep a metrics or metadata object once, by the SHA-256 of its JSON; its id (None
    for an empty one, which readers see as ``{}``)."""
    return save_payloads(db, [payload])[0]


def save_payloads(db: sqlite_utils.Database, payloads: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """``save_payload`` for many: those kept already are found a few hundred to a query."""
    texts = [json.dumps(payload, sort_keys=True) if payload else None for payload in payloads]
    digests = [None if text is None else payload_sha256(text) for text in texts]
    wanted = {digest: text for digest, text in zip(digests, texts) if digest is not None}
    ids: dict[str, int] = {}
    for part, marks in in_parts(list(wanted)):
        ids.update(db.conn.execute(f"SELECT sha256, id FROM payloads WHERE sha256 IN ({marks})", part).fetchall())
    for digest, text in wanted.items():
        if digest not in ids:
            cursor = db.conn.execute("INSERT INTO payloads (sha256, body) VALUES (?, ?)", [digest, text])
            ids[digest] = int(cursor.lastrowid or 0)
    return [None if digest is None else ids[digest] for digest in digests]


def given_pmid(obs: Observation) -> str | None:
    """The PMID an observation resolved for its work, if any."""
    pmid = obs.metadata.get("pmid")
    return pmid if obs.outcome.value == "ok" and isinstance(pmid, str) and pmid.isdigit() else None


def learn_pmid(db: sqlite_utils.Database, work_id: int, obs: Observation) -> None:
    """Keep a PMID a source resolved for the work, unless one is already known."""
    if pmid := given_pmid(obs):
        db.execute(
            "UPDATE works SET pmid = ?, pmid_source = ? WHERE id = ? AND pmid IS NULL",
            [pmid, obs.source, work_id],
        )


# --- reading -------------------------------------------------------------------


def raw_body(db: sqlite_utils.Database, sha256: str) -> bytes:
    row = next(db.query("SELECT compression, body FROM raw_bodies WHERE sha256 = ?", [sha256]), None)
    if row is None or row["body"] is None:
        raise KeyError(sha256)
    return zlib.decompress(row["body"]) if row["compression"] == "zlib" else bytes(row["body"])


def observation_history(
    db: sqlite_utils.Database, doi: str, as_of: str | None = None
) -> list[dict[str, Any]]:
    """One work's observations up to ``as_of`` (ISO time, inclusive), oldest first.

    ``pruned_at`` is set only where the raw body had been pruned by then.
    """
    rows = db.query(
        "SELECT w.doi, o.*, r.body_sha256, r.url AS response_url, "
        "CASE WHEN ? IS NULL OR b.pruned_at <= ? THEN b.pruned_at END AS pruned_at "  # not yet, as of then
        "FROM observation_details o JOIN works w ON w.id = o.work_id "
        "LEFT JOIN responses r ON r.id = o.response_id LEFT JOIN raw_bodies b ON b.sha256 = r.body_sha256 "
        "WHERE w.doi = ? AND (? IS NULL OR o.observed_at <= ?) ORDER BY o.observed_at, o.id",
        [as_of, as_of, doi, as_of, as_of],
    )
    return [
        {**row, "metrics": json.loads(row["metrics"]), "metadata": json.loads(row["metadata"])}
        for row in rows
    ]


def latest_run(db: sqlite_utils.Database, as_of: str | None = None) -> dict[str, Any] | None:
    row = next(
        db.query(
            "SELECT * FROM runs WHERE (? IS NULL OR started_at <= ?) ORDER BY id DESC LIMIT 1",
            [as_of, as_of],
        ),
        None,
    )
    if row and row["summary"]:
        row["summary"] = json.loads(row["summary"])
    return row


def previous_run(db: sqlite_utils.Database, run_id: int) -> dict[str, Any] | None:
    """The run before ``run_id``, if any."""
    return next(db.query("SELECT * FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1", [run_id]), None)


def latest_metadata(
    db: sqlite_utils.Database, doi: str, as_of: str | None = None
) -> dict[str, dict[str, Any]]:
    """source → the metadata of its latest ok observation of a work."""
    return {source: json.loads(metadata) for source, metadata in _latest(db, doi, as_of, "metadata")}


def work_authors(db: sqlite_utils.Database, doi: str) -> list[dict[str, Any]]:
    """The tracked work's authors, from whichever source describes them best. (SQLite reads
    them out of each source's metadata: the writer asks with every citing list it stores.)"""
    return believed_authors(db, doi)[1]


def believed_authors(db: sqlite_utils.Database, doi: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(the source believed first about the work's authors that states them, its authors)."""
    from monitor.metadata import first_stated

    latest = _latest(db, doi, None, "json_quote(json_extract(metadata, '$.authors'))")
    stated = first_stated("authors", {source: {"authors": json.loads(authors)} for source, authors in latest})
    return (stated[0], list(stated[1])) if stated else (None, [])


def _latest(db: sqlite_utils.Database, doi: str, as_of: str | None, column: str) -> list[tuple[str, Any]]:
    """(source, ``column`` of its latest ok observation of the work, by run as in
    ``latest_counts``), ``column`` an expression over ``observation_details``: each an index
    seek back from the source's last run, however long the history."""
    return db.conn.execute(
        f"SELECT source, {column} FROM observation_details WHERE id IN ("
        "SELECT (SELECT o.id FROM observations o WHERE o.work_id = w.id AND o.source = s.source "
        "AND o.outcome = 'ok' AND (:as_of IS NULL OR o.observed_at <= :as_of) ORDER BY o.run_id DESC LIMIT 1) "
        "FROM works w JOIN (SELECT DISTINCT source FROM observations "
        "WHERE work_id = (SELECT id FROM works WHERE doi = :doi)) s WHERE w.doi = :doi)",
        {"doi": doi, "as_of": as_of},
    ).fetchall()


class AuthorsOf:
    """``work_authors`` for one writer, which asks for a work's authors with each of its
    citing lists, often from several sources in turn: each work's ``believed_authors`` read
    once, then kept up to date with the observations the writer stores (``saw``). The last
    ``keep`` works are kept, each as the JSON text of its authors (a quarter of the memory
    of the lists: 8 MB of the writer's at 100,000 works), read anew for each caller."""

    def __init__(self, db: sqlite_utils.Database, keep: int = 4096):
        self.db, self.keep = db, keep
        self.known: dict[str, tuple[str | None, str]] = {}  # doi → believed_authors, its list as JSON

    def __call__(self, doi: str) -> list[dict[str, Any]]:
        if doi not in self.known:
            if len(self.known) >= self.keep:
                del self.known[next(iter(self.known))]  # the oldest read
            source, authors = believed_authors(self.db, doi)
            self.known[doi] = (source, json.dumps(authors))
        return parse_json(self.known[doi][1])  # type: ignore[no-any-return]

    def saw(self, observations: Iterable[Observation]) -> None:
        """Observations just stored: an ok answer's authors, as stored (through JSON), are
        believed if its source is believed before the one that was (or is that one); a
        failure changes nothing; where the one believed now states none, or the answer was
        brief (its metadata completed from an earlier record as stored: ``carry_metadata``),
        the work's authors are read again when next asked for."""
        from monitor.metadata import believed_before, states

        for obs in observations:
            kept = self.known.get(obs.doi)
            if kept is None or obs.outcome is not Outcome.OK:
                continue
            if obs.brief:
                del self.known[obs.doi]
                continue
            believed = kept[0]
            text = json.dumps(obs.metadata.get("authors"))  # as save_payloads keeps it
            if not states(json.loads(text)):
                if obs.source == believed:
                    del self.known[obs.doi]
            elif believed in (None, obs.source) or believed_before("authors", obs.source, believed):
                self.known[obs.doi] = (obs.source, text)


def works_rows(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM works ORDER BY id"))


def source_health(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    return {row["source"]: row for row in db.query("SELECT * FROM source_health")}


def provenance(db: sqlite_utils.Database, observation_id: int) -> dict[str, Any] | None:
    """An observation with the request it came from (URL, status, time, body hash)."""
    return next(
        db.query(
            "SELECT o.*, w.doi, r.url, r.status_code, r.fetched_at, r.body_sha256 "
            "FROM observations o JOIN works w ON w.id = o.work_id "
            "LEFT JOIN responses r ON r.id = o.response_id WHERE o.id = ?",
            [observation_id],
        ),
        None,
    )


def run_alerts(db: sqlite_utils.Database, run_id: int) -> list[dict[str, Any]]:
    """The alerts one run raised, for the report."""
    return list(db.query("SELECT * FROM alerts WHERE run_id = ? ORDER BY id", [run_id]))
