"""Collections → tracked works: the step before collecting (config → collections → collect).

At the start of every run, each ``[[collections]]`` table that is due is resolved by its
resolver (monitor/resolvers/) and its membership stored over time:

- a work listed for the first time joins the collection (``collection_members``, with the
  run and time it was first seen); after the collection's first complete listing (its
  baseline) such a work is news: ``is_new``, which raises a ``new_work`` alert;
- a work no longer listed leaves (``left_at``), but only after a complete listing: a failed
  or cut-short one adds what it found and removes nothing;
- a work listed under another DOI of the same work (an alias) stays the member it was;
- a collection is due at every run, or, with ``refresh_days``, once its last complete
  resolution is that old; a changed definition (another iD, another from_year) or a
  failed resolution makes it due at once; files and inline lists are read at every run.

The tracked works are then ``[[works]]`` plus every current member of every collection,
each once (a work in two collections is tracked once and counted in each). A work in
neither keeps its rows and history and is marked ``works.tracked = 0`` with
``untracked_at``: no source is asked about it any more.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlite_utils

from monitor import store
from monitor.config import NETWORK_KINDS, CollectionConfig, Config, SourceConfig
from monitor.fetching import Session
from monitor.models import CollectionReport, Outcome, Work
from monitor.resolvers import RESOLVERS, files
from monitor.resolvers.base import Context, Found, Resolution
from monitor.sources import SOURCES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tracking:
    """What a run tracks: every work once, and what each collection's refresh did."""

    works: tuple[Work, ...]  # [[works]] first, then each collection's members
    work_ids: dict[str, int]  # doi → works.id, for every stored work
    collections: tuple[CollectionReport, ...] = ()


def refresh(
    db: sqlite_utils.Database,
    config: Config,
    run_id: int,
    client: httpx.Client,
    now: Callable[[], datetime],
) -> Tracking:
    """Resolve the collections that are due, store what changed, and mark what is tracked."""
    ids = sync_collections(db, config.collections, run_id, now())
    context = make_context(config, client, now)
    reports = []
    for collection in config.collections:
        collection_id = ids[collection.name]
        described = RESOLVERS[collection.kind].describe(collection)
        if not is_due(db, collection, collection_id, now()):
            size = len(current_members(db, collection_id))
            reports.append(CollectionReport(collection.name, described, None, size=size))
            continue
        resolution = resolve(collection, context)
        with db.atomic():
            reports.append(save(db, collection, collection_id, run_id, resolution, now()))
    works = tracked(db, config)
    return Tracking(works, mark_tracked(db, works, now()), tuple(reports))


def make_context(config: Config, client: httpx.Client, now: Callable[[], datetime]) -> Context:
    """The run's sessions for resolvers: OpenAlex as ``[sources.openalex]`` configures it
    (its key, rate and base URL, also when disabled as a citation source), ORCID as ``[orcid]``."""
    openalex = config.sources["openalex"]
    orcid = SourceConfig(
        name="orcid",
        enabled=True,
        base_url=config.orcid.base_url,
        requests_per_second=config.orcid.requests_per_second,
        timeout_seconds=config.orcid.timeout_seconds or None,
    )
    spec = SOURCES["openalex"].SPEC
    deadline = time.monotonic() + config.http.source_deadline_minutes * 60  # for all resolving

    def session(source: SourceConfig, secret_params: tuple[str, ...] = ()) -> Session:
        return Session(
            source,
            client,
            config.http,
            contact_email=config.contact_email,
            secret_params=secret_params,
            now=now,
            deadline=deadline,
        )

    return Context(openalex=session(openalex, spec.secret_params), orcid=session(orcid), now=now)


def resolve(collection: CollectionConfig, context: Context | None) -> Resolution:
    """One collection's resolution (``context``: None for one that asks no server); a bug
    in a resolver is its error, not the run's."""
    try:
        return RESOLVERS[collection.kind].resolve(collection, context)  # type: ignore[arg-type]
    except Exception as exc:
        log.exception("collection %s: unexpected failure", collection.name)
        return Resolution((), outcome=Outcome.ERROR, message=f"internal error: {exc!r}", complete=False)


# --- collections ----------------------------------------------------------------------


def sync_collections(
    db: sqlite_utils.Database, collections: Sequence[CollectionConfig], run_id: int, now: datetime
) -> dict[str, int]:
    """A row per configured collection; name → id. A new, re-added or redefined one is
    (re)defined now; one gone from config.toml is marked removed and its members leave."""
    at = store.iso(now)
    rows = {r["name"]: r for r in db.query("SELECT * FROM collections")}
    with db.atomic():
        for c in collections:
            row = rows.get(c.name)
            if row is None:
                db.execute(
                    "INSERT INTO collections (name, kind, definition, label, added_at, defined_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [c.name, c.kind, c.definition, c.label, at, at],
                )
            elif row["definition"] != c.definition or row["removed_at"]:
                db.execute(
                    "UPDATE collections SET kind = ?, definition = ?, label = ?, defined_at = ?, "
                    "removed_at = NULL WHERE id = ?",
                    [c.kind, c.definition, c.label, at, row["id"]],
                )
            elif row["label"] != c.label:
                db.execute("UPDATE collections SET label = ? WHERE id = ?", [c.label, row["id"]])
        names = {c.name for c in collections}
        for name, row in rows.items():
            if name not in names and not row["removed_at"]:
                db.execute("UPDATE collections SET removed_at = ? WHERE id = ?", [at, row["id"]])
                db.execute(
                    "UPDATE collection_members SET left_at = ?, left_run_id = ? "
                    "WHERE collection_id = ? AND left_at IS NULL",
                    [at, run_id, row["id"]],
                )
    return {r["name"]: r["id"] for r in db.query("SELECT id, name FROM collections")}


def last_resolved(db: sqlite_utils.Database, collection_id: int) -> dict[str, Any] | None:
    """The collection's last complete resolution of its current definition, if any."""
    return next(
        db.query(
            "SELECT r.* FROM collection_resolutions r JOIN collections c ON c.id = r.collection_id "
            "WHERE r.collection_id = ? AND r.outcome = 'ok' AND r.complete = 1 "
            "AND r.definition = c.definition AND r.resolved_at >= c.defined_at "
            "ORDER BY r.id DESC LIMIT 1",
            [collection_id],
        ),
        None,
    )


def is_due(
    db: sqlite_utils.Database, collection: CollectionConfig, collection_id: int, now: datetime
) -> bool:
    if collection.kind not in NETWORK_KINDS or not collection.refresh_days:
        return True
    last = last_resolved(db, collection_id)
    if last is None:
        return True
    age = now - datetime.fromisoformat(last["resolved_at"])
    return age >= timedelta(days=collection.refresh_days)


def current_members(db: sqlite_utils.Database, collection_id: int) -> dict[str, int]:
    """doi → works.id of the collection's members now."""
    return {
        r["doi"]: r["work_id"]
        for r in db.query(
            "SELECT w.doi, m.work_id FROM collection_members m JOIN works w ON w.id = m.work_id "
            "WHERE m.collection_id = ? AND m.left_at IS NULL ORDER BY m.id",
            [collection_id],
        )
    }


# --- one resolution -------------------------------------------------------------------


def changes(members: dict[str, int], resolution: Resolution) -> tuple[list[Found], list[str]]:
    """The works a resolution adds to a collection's ``members``, and the DOIs it drops."""
    listed: set[str] = set()
    joining: list[Found] = []
    for found in resolution.found:
        known = next((d for d in (found.doi, *found.aliases) if d in members), None)
        if known is not None:
            listed.add(known)  # listed again, perhaps under another DOI of the same work
        elif found.doi not in listed:
            listed.add(found.doi)
            joining.append(found)
    leaving = [doi for doi in members if doi not in listed] if resolution.complete else []
    return joining, leaving


def save(
    db: sqlite_utils.Database,
    collection: CollectionConfig,
    collection_id: int,
    run_id: int,
    resolution: Resolution,
    now: datetime,
) -> CollectionReport:
    """Store a resolution: its exchanges, the members it adds or drops, what it skipped."""
    at = store.iso(now)
    baseline = last_resolved(db, collection_id) is not None
    members = current_members(db, collection_id)
    response_ids = {id(ex): store.save_exchange(db, run_id, ex) for ex in resolution.exchanges}
    sha256 = store.save_body(db, resolution.content) if resolution.content is not None else None
    joining, leaving = changes(members, resolution)
    cursor = db.execute(
        "INSERT INTO collection_resolutions (collection_id, run_id, definition, resolved_at, "
        "outcome, message, complete, found, skipped, added, removed, requests, file_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            collection_id, run_id, collection.definition, at, resolution.outcome.value,
            resolution.message, int(resolution.complete), len(resolution.found),
            len(resolution.skipped), len(joining), len(leaving), len(resolution.exchanges), sha256,
        ],
    )
    resolution_id = cursor.lastrowid
    if resolution.name:
        db.execute(
            "UPDATE collections SET display_name = ? WHERE id = ?", [resolution.name, collection_id]
        )
    db.conn.executemany(
        "INSERT INTO collection_skips (resolution_id, item, reason, title, pmid) VALUES (?, ?, ?, ?, ?)",
        [(resolution_id, s.item, s.reason, s.title, s.pmid) for s in resolution.skipped],
    )
    work_ids = ensure_works(db, [f.doi for f in joining], now)
    db.conn.executemany(
        "INSERT INTO collection_members (collection_id, work_id, first_seen_at, first_seen_run_id, "
        "is_new, via, title, aliases, response_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                collection_id, work_ids[f.doi], at, run_id, int(baseline), json.dumps(list(f.via)),
                f.title, json.dumps(list(f.aliases)), response_ids.get(id(f.exchange)),
            )
            for f in joining
        ],
    )
    db.conn.executemany(
        "UPDATE collection_members SET left_at = ?, left_run_id = ? "
        "WHERE collection_id = ? AND work_id = ? AND left_at IS NULL",
        [(at, run_id, collection_id, members[doi]) for doi in leaving],
    )
    return CollectionReport(
        collection.name,
        RESOLVERS[collection.kind].describe(collection),
        resolution.outcome,
        resolution.message,
        size=len(members) + len(joining) - len(leaving),
        added=len(joining),
        left=len(leaving),
        skipped=len(resolution.skipped),
    )


def ensure_works(db: sqlite_utils.Database, dois: Iterable[str], now: datetime) -> dict[str, int]:
    """A works row for each DOI (``mark_tracked`` then settles ``tracked``); doi → id."""
    wanted = list(dict.fromkeys(dois))
    db.conn.executemany(
        "INSERT INTO works (doi, added_at) VALUES (?, ?) ON CONFLICT (doi) DO NOTHING",
        [(doi, store.iso(now)) for doi in wanted],
    )
    found = db.execute(
        "SELECT doi, id FROM works WHERE doi IN (SELECT value FROM json_each(?))",
        [json.dumps(wanted)],
    ).fetchall()
    return dict(found)


# --- what is tracked ------------------------------------------------------------------


def tracked(db: sqlite_utils.Database, config: Config) -> tuple[Work, ...]:
    """``[[works]]`` (their labels and PMIDs), then each collection's current members."""
    works = {w.doi: w for w in config.works}
    names = [c.name for c in config.collections]
    for row in db.query(
        "SELECT w.doi, c.name FROM collection_members m JOIN works w ON w.id = m.work_id "
        "JOIN collections c ON c.id = m.collection_id "
        "WHERE m.left_at IS NULL AND c.removed_at IS NULL ORDER BY m.id"
    ):
        if row["name"] in names:
            works.setdefault(row["doi"], Work(row["doi"]))
    return tuple(works.values())


def settled(db: sqlite_utils.Database, config: Config, now: datetime) -> bool:
    """Whether ``refresh`` at ``now`` would leave the tracked works as stored: no collection
    new, redefined or removed, none resolved over HTTP due, the others (a file, a list in
    config.toml) read with the members they have; every ``[[works]]`` entry stored with its
    label and PMID. Writes nothing: a run so settled asks its sources while its database is
    checked (collect), which makes sure that the works did not change all the same."""
    rows = {r["name"]: r for r in db.query("SELECT id, name, definition, removed_at FROM collections")}
    for collection in config.collections:
        row = rows.pop(collection.name, None)
        if row is None or row["definition"] != collection.definition or row["removed_at"]:
            return False
        if collection.kind in NETWORK_KINDS:
            if is_due(db, collection, row["id"], now):
                return False
        elif not _as_last_read(db, collection, row["id"]):
            return False
    if any(not row["removed_at"] for row in rows.values()):
        return False
    stored = {doi: (label, pmid) for doi, label, pmid in db.execute("SELECT doi, label, pmid FROM works")}
    return all(
        work.doi in stored and stored[work.doi][0] == work.label and work.pmid in (None, stored[work.doi][1])
        for work in config.works
    )


def _as_last_read(db: sqlite_utils.Database, collection: CollectionConfig, collection_id: int) -> bool:
    """Whether a collection read at every run (a file, a list in config.toml) would change
    none of its members: its file is byte for byte what its latest resolution read, that one
    complete and ok, or, read again, it adds and drops none."""
    if collection.kind == "file":
        latest = next(db.query(
            "SELECT outcome, complete, file_sha256 FROM collection_resolutions WHERE collection_id = ? "
            "ORDER BY id DESC LIMIT 1", [collection_id]), None)
        try:
            digest = store.body_sha256(files.path_of(collection).read_bytes())
        except OSError:
            return False
        if latest and latest["outcome"] == "ok" and latest["complete"] and latest["file_sha256"] == digest:
            return True  # 1.6 s to parse a file of 100,000 DOIs, a few ms to hash it
    resolution = resolve(collection, None)  # reads a file, or config.toml: no context
    return resolution.outcome is Outcome.OK and not any(changes(current_members(db, collection_id), resolution))


def mark_tracked(db: sqlite_utils.Database, works: Sequence[Work], now: datetime) -> dict[str, int]:
    """Store the tracked works (labels, PMIDs) and mark every other work untracked, with
    its history kept; doi → works.id for every stored work."""
    ids = store.sync_works(db, works, now)
    wanted = {w.doi for w in works}
    rows = db.execute("SELECT id, doi, tracked FROM works").fetchall()
    with db.atomic():
        db.conn.executemany(
            "UPDATE works SET tracked = 0, untracked_at = ? WHERE id = ?",
            [(store.iso(now), wid) for wid, doi, on in rows if on and doi not in wanted],
        )
        db.conn.executemany(
            "UPDATE works SET tracked = 1, untracked_at = NULL WHERE id = ?",
            [(wid,) for wid, doi, on in rows if not on and doi in wanted],
        )
    return ids
