"""Synthetic databases written straight through SQL: many works, several runs, citing
works and alerts, for the browser tests (300 works) and the report benchmark (100,000).

The rows have the shapes the store writes (observations with their metrics and
metadata, the ledger's citers, citations and sightings, alerts with details), so the
report reads them as it reads real ones. Counts are skewed (a few works cited a lot,
most a little), titles vary in length, and every value is derived from the work's
number, so two databases made alike are alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from monitor import store

SOURCES = ("openalex", "crossref", "semanticscholar")
# A config for a synthetic database: it must track something; the report shows every work
# of the database whatever the config lists.
CONFIG = '[[works]]\ndoi = "10.5555/synthetic.0"\n'

START = datetime.fromisoformat("2026-01-05T06:00:00+00:00")
WORDS = ("autophagy", "immunity", "tumour", "resistance", "signalling", "cohort", "randomised", "trial",
         "microbiome", "inflammation", "metabolism", "imaging", "outcomes", "children", "ageing", "genome")


def title(i: int, long: bool = False) -> str:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(4 + i % 9)]
    text = " ".join(words).capitalize() + f" in study {i}"
    if long:
        text += ": " + " ".join(WORDS) * 2 + "-" + "x" * 80  # and one unbreakable word
    return text


def count(i: int, run: int) -> int:
    """A skewed count: work 0 is cited most; each run adds a little to some works."""
    return int(2000 / (i + 1) ** 0.8) + run * (i % 3)


def populate(path: Path, works: int = 300, runs: int = 3, citing: int = 4, long_titles: bool = False,
             hostile: str | None = None) -> list[str]:
    """A database at ``path`` with ``works`` works observed in ``runs`` daily runs; returns the DOIs."""
    db = store.open_db(path)
    dois = [f"10.5555/synthetic.{i}" for i in range(works)]
    with db.atomic():
        db.execute("UPDATE installation SET created_at = ?", [store.iso(START)])
        db.conn.executemany(
            "INSERT INTO works (id, doi, label, added_at) VALUES (?, ?, NULL, ?)",
            [(i + 1, doi, store.iso(START)) for i, doi in enumerate(dois)],
        )
        for run in range(runs):
            add_run(db, dois, run, range(works), long_titles, hostile)
        add_citing(db, dois, citing, runs)
    db.close()
    return dois


def add_run(db: store.sqlite_utils.Database, dois: list[str], run: int, changed: Iterable[int],
            long_titles: bool = False, hostile: str | None = None, unchanged: Iterable[int] = (),
            same_as: int | Callable[[int], int] = 0) -> int:
    """One run (the ``run``-th day) that observed the works ``changed`` (by index) with this
    day's values, and the works ``unchanged`` again with the values of day ``same_as`` (the
    day they last changed; or a function of the work's index that says it): as a quiet
    night stores them."""
    last_changed = same_as if callable(same_as) else (lambda i: same_as)
    when = START + timedelta(days=run)
    summary = {s: {"outcome": "ok", "message": ""} for s in SOURCES}
    run_id = int(db.execute(
        "INSERT INTO runs (started_at, finished_at, status, exit_code, summary) VALUES (?, ?, 'ok', 0, ?)",
        [store.iso(when), store.iso(when + timedelta(minutes=5)), json.dumps(summary)],
    ).lastrowid or 0)
    rows = []
    for i, day in [(i, run) for i in changed] + [(i, last_changed(i)) for i in unchanged]:
        name = title(i, long_titles) if not (hostile and i == 0) else hostile
        meta = {"title": name, "journal": f"Journal of {WORDS[i % len(WORDS)].capitalize()}",
                "year": 2015 + i % 11, "published": f"{2015 + i % 11}-0{1 + i % 9}",
                "authors": [{"name": f"Author {i} {k}"} for k in range(1 + i % 4)]}
        for source in SOURCES:
            n = count(i, day) - (SOURCES.index(source) * (i % 5))
            metrics = {"fwci": round(1 + (i % 40) / 10, 2), "citation_percentile": 1 - 1 / (i + 4),
                       "counts_by_year": {str(2021 + k): max(0, n // 6 - k) for k in range(5)}} if source == "openalex" else {}
            rows.append((run_id, i + 1, source, store.iso(when + timedelta(seconds=SOURCES.index(source))),
                         max(0, n), store.save_payload(db, metrics),
                         store.save_payload(db, meta if source != "semanticscholar" else {})))
    db.conn.executemany(
        "INSERT INTO observations (run_id, work_id, source, observed_at, outcome, citations, metrics_id, "
        "metadata_id) VALUES (?, ?, ?, ?, 'ok', ?, ?, ?)",
        rows,
    )
    return run_id


def add_citing(db: store.sqlite_utils.Database, dois: list[str], per_work: int, runs: int) -> None:
    """``per_work`` citing works for each work, listed by OpenAlex and Semantic Scholar, and a
    new-citations alert on the last run for every tenth work."""
    seen = store.iso(START)
    citer_rows, citation_rows, sighting_rows = [], [], []
    citation_id = 0
    for i in range(len(dois)):
        for k in range(per_work):
            citer_id = i * per_work + k + 1
            citer_rows.append((citer_id, f"10.5555/citing.{i}.{k}", title(citer_id), 2022 + k % 4,
                               f"Citing Journal {k}", json.dumps([{"name": f"Citing Author {k}"}]), seen, seen))
            citation_id += 1
            citation_rows.append((citation_id, i + 1, citer_id, seen, seen, int(k == 0 and i % 7 == 0)))
            for source in ("openalex", "semanticscholar"):
                sighting_rows.append((citation_id, source, seen, seen))
    db.conn.executemany(
        "INSERT INTO citers (id, doi, title, year, venue, authors, first_seen_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", citer_rows)
    db.conn.executemany(
        "INSERT INTO citations (id, work_id, citer_id, first_seen_at, first_seen_run_id, last_seen_at, "
        "is_self_citation) VALUES (?, ?, ?, ?, 1, ?, ?)", citation_rows)
    db.conn.executemany(
        "INSERT INTO citation_sources (citation_id, source, first_seen_at, first_seen_run_id, last_seen_at) "
        "VALUES (?, ?, ?, 1, ?)", sighting_rows)
    last = runs
    alerts = [  # the counts rose by i % 3 in the last run
        (last, i + 1, "new_citations", f"{i % 3} new citations of “{title(i)[:40]}”",
         json.dumps({"count": i % 3, "basis": "counts"}), store.iso(START + timedelta(days=runs - 1, minutes=6)))
        for i in range(0, len(dois), 10) if i % 3
    ]
    db.conn.executemany(
        "INSERT INTO alert_events (run_id, work_id, kind, message, details, raised_at) VALUES (?, ?, ?, ?, ?, ?)",
        alerts)


def add_collections(path: Path, dois: list[str], runs: int = 3, untracked: int = 0, lab: int | None = None) -> None:
    """Two collections over the works of a populated database: ``lab`` (an ORCID person: the
    first ``lab`` works (default: half), one more that joined in the last run as news, with its
    ``new_work`` alert, one that left then, a skipped item) and ``group`` (every third of the
    first 30 works), each with its metrics at every run; and the last ``untracked`` works
    marked no longer tracked (in no collection), since the last run."""
    from monitor import portfolio

    db = store.open_db(path)
    half = len(dois) // 2 if lab is None else lab
    day = [START + timedelta(days=run, minutes=1) for run in range(runs)]
    with db.atomic():
        for name, kind, definition, label in (
            ("lab", "orcid", "orcid: 0000-0002-1825-0097", "Jiang lab & friends"),
            ("group", "works", "works: " + " ".join(dois[:30:3]), None),
        ):
            db.execute("INSERT INTO collections (name, kind, definition, label, display_name, added_at, defined_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", [name, kind, definition, label,
                                                        "Ada Jiang" if kind == "orcid" else None, store.iso(START), store.iso(START)])
        members = [(1, i + 1, 1, 0, None) for i in range(half)] + [(2, i + 1, 1, 0, None) for i in range(0, min(30, half), 3)]
        members += [(1, half + 1, runs, 1, None), (1, half + 2, 1, 0, runs)]  # joined as news; left
        db.conn.executemany(
            "INSERT INTO collection_members (collection_id, work_id, first_seen_at, first_seen_run_id, is_new, "
            "via, left_at, left_run_id) VALUES (?, ?, ?, ?, ?, '[\"orcid\"]', ?, ?)",
            [(c, w, store.iso(day[first - 1]), first, new, store.iso(day[left - 1]) if left else None, left)
             for c, w, first, new, left in members],
        )
        for run in range(1, runs + 1):
            for collection in (1, 2):
                resolution = db.execute(
                    "INSERT INTO collection_resolutions (collection_id, run_id, definition, resolved_at, outcome, "
                    "complete, found, skipped, added, removed, requests) "
                    "SELECT id, ?, definition, ?, 'ok', 1, 0, ?, 0, 0, 2 FROM collections WHERE id = ?",
                    [run, store.iso(day[run - 1]), int(collection == 1), collection]).lastrowid
                if collection == 1:
                    db.execute("INSERT INTO collection_skips (resolution_id, item, reason, title) VALUES "
                               "(?, 'W4242', 'no DOI in OpenAlex', 'A poster without a DOI')", [resolution])
        db.execute(
            "INSERT INTO alert_events (run_id, work_id, kind, message, details, key, raised_at) VALUES "
            "(?, ?, 'new_work', ?, ?, 'collection:lab', ?)",
            [runs, half + 1, f"New work by Jiang lab & friends: “{title(half)[:40]}” (doi:{dois[half]})",
             json.dumps({"collection": "lab", "title": title(half), "via": ["orcid"]}), store.iso(day[-1])])
        db.conn.executemany(
            "UPDATE works SET tracked = 0, untracked_at = ? WHERE id = ?",
            [(store.iso(day[-1]), len(dois) - k) for k in range(untracked)],
        )
    for run in range(1, runs + 1):
        portfolio.record_metrics(db, run, day[run - 1])
    db.close()
