"""Membership over time: who joins, who leaves (only after a complete listing), aliases,
baselines, removed and redefined collections; and the portfolio functions reading it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor import membership, portfolio, store
from monitor.config import CollectionConfig
from monitor.models import Outcome, Work
from monitor.resolvers.base import Found, Resolution, Skipped

T0 = datetime(2026, 11, 2, 6, tzinfo=UTC)
LAB = CollectionConfig("lab", "orcid", "0000-0002-1825-0097", refresh_days=7)


@pytest.fixture
def db(tmp_path):
    database = store.open_db(tmp_path / "monitor.db")
    yield database
    database.close()


def resolve(db, resolution, day=0, collection=LAB, collections=None):
    """One run in which ``collection`` is resolved as ``resolution``; the run's id."""
    now = T0 + timedelta(days=day)
    run_id = store.start_run(db, now)
    ids = membership.sync_collections(db, collections or [collection], run_id, now)
    with db.atomic():
        membership.save(db, collection, ids[collection.name], run_id, resolution, now)
    return run_id


def members(db, name="lab"):
    return {
        r["doi"]: r["is_new"]
        for r in db.query("SELECT * FROM collection_works WHERE collection = ? AND left_at IS NULL", [name])
    }


def listing(*dois, complete=True, **kw):
    return Resolution(tuple(Found(d, via=("orcid",)) for d in dois), complete=complete, **kw)


def test_the_first_complete_listing_is_the_baseline_and_later_arrivals_are_new(db):
    resolve(db, listing("10.1/a", "10.1/b"))
    resolve(db, listing("10.1/a", "10.1/b", "10.1/c"), day=1)
    assert members(db) == {"10.1/a": 0, "10.1/b": 0, "10.1/c": 1}


def test_an_incomplete_first_listing_sets_no_baseline(db):
    resolve(db, listing("10.1/a", complete=False, outcome=Outcome.ERROR))
    resolve(db, listing("10.1/a", "10.1/b"), day=1)  # the first complete one: still the baseline
    resolve(db, listing("10.1/a", "10.1/b", "10.1/c"), day=2)
    assert members(db) == {"10.1/a": 0, "10.1/b": 0, "10.1/c": 1}


def test_only_a_complete_listing_can_make_a_work_leave(db):
    resolve(db, listing("10.1/a", "10.1/b"))
    resolve(db, listing("10.1/a", complete=False, outcome=Outcome.RATE_LIMITED), day=1)
    assert set(members(db)) == {"10.1/a", "10.1/b"}
    third = resolve(db, listing("10.1/a"), day=2)
    assert set(members(db)) == {"10.1/a"}
    [left] = db.query("SELECT left_run_id FROM collection_members WHERE left_at IS NOT NULL")
    assert left["left_run_id"] == third


def test_a_work_listed_under_another_doi_of_the_same_work_stays_the_member_it_was(db):
    resolve(db, listing("10.1/preprint"))
    again = Resolution((Found("10.1/article", aliases=("10.1/preprint",), via=("orcid",)),))
    resolve(db, again, day=1)
    assert members(db) == {"10.1/preprint": 0}


def test_a_removed_collection_lets_its_works_go_and_a_redefined_one_is_due_at_once(db):
    resolve(db, listing("10.1/a"))
    collection_id = next(db.query("SELECT id FROM collections"))["id"]
    assert not membership.is_due(db, LAB, collection_id, T0 + timedelta(days=6))
    assert membership.is_due(db, LAB, collection_id, T0 + timedelta(days=7))
    moved = CollectionConfig("lab", "orcid", "0000-0002-9079-593X", refresh_days=7)
    membership.sync_collections(db, [moved], 1, T0 + timedelta(days=1))
    assert membership.is_due(db, moved, collection_id, T0 + timedelta(days=1))
    membership.sync_collections(db, [], 1, T0 + timedelta(days=2))
    assert members(db) == {}
    [row] = db.query("SELECT removed_at FROM collections")
    assert row["removed_at"].startswith("2026-11-04")


def test_skipped_items_are_stored_with_their_resolution(db):
    resolve(db, Resolution((), (Skipped("ORCID put-code 7", "no DOI or arXiv id; PMID 123 only", "T", "123"),)))
    [skip] = db.query("SELECT item, reason, title, pmid FROM collection_skips")
    assert skip == {"item": "ORCID put-code 7", "reason": "no DOI or arXiv id; PMID 123 only",
                    "title": "T", "pmid": "123"}
    [lab] = portfolio.summaries(db)
    assert (lab.name, lab.size, len(lab.skipped)) == ("lab", 0, 1)


def test_tracking_is_works_plus_members_and_the_rest_is_marked_untracked(db, tmp_path):
    from monitor.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[[works]]\ndoi = "10.1000/w"\nlabel = "Mine"\n[[collections]]\nname = "lab"\n'
                    'orcid = "0000-0002-1825-0097"\n')
    config = load_config(path, environ={})
    store.sync_works(db, [Work("10.1/old")], T0)
    resolve(db, listing("10.1/a", "10.1000/w"))
    works = membership.tracked(db, config)
    assert [(w.doi, w.label) for w in works] == [("10.1000/w", "Mine"), ("10.1/a", None)]
    membership.mark_tracked(db, works, T0)
    assert [r["doi"] for r in portfolio.untracked(db)] == ["10.1/old"]
    membership.mark_tracked(db, [*works, Work("10.1/old")], T0)  # back again
    assert portfolio.untracked(db) == []


def test_members_at_a_run_come_with_their_figures_highest_first(db):
    first = resolve(db, listing("10.1/a", "10.1/b"))
    store.finish_run(db, first, T0 + timedelta(minutes=1), "ok", 0, {"openalex": {}})
    ids = {r["doi"]: r["id"] for r in db.query("SELECT id, doi FROM works")}
    for doi, count in (("10.1/a", 3), ("10.1/b", 9)):
        db.execute(
            "INSERT INTO observations (run_id, work_id, source, observed_at, outcome, citations) "
            "VALUES (?, ?, 'openalex', ?, 'ok', ?)", [first, ids[doi], store.iso(T0), count])
    found = portfolio.members(db, "lab", first)
    assert [(m.doi, m.figures.citations) for m in found] == [("10.1/b", 9), ("10.1/a", 3)]
    assert portfolio.record_metrics(db, first, T0)["lab"].citations == 12
    [row] = portfolio.metrics_history(db, "lab")
    assert (row["run_id"], row["works"], row["h_index"], row["details"]["indexed"]) == (first, 2, 2, 2)
    # a later run where b left: the first run's members are still a and b
    second = resolve(db, listing("10.1/a"), day=1)
    assert [m.doi for m in portfolio.members(db, "lab", second)] == ["10.1/a"]
    assert {m.doi for m in portfolio.members(db, "lab", first)} == {"10.1/a", "10.1/b"}


def test_a_run_is_settled_when_refreshing_would_leave_its_works_as_stored(db, tmp_path, monkeypatch):
    """``settled``: a run may ask its sources before it stores anything (collect) when
    refreshing its collections and ``[[works]]`` would change none of its works."""
    from dataclasses import replace
    from types import SimpleNamespace


    listed = tmp_path / "works.csv"
    listed.write_text("doi\n10.1000/a1\n10.1000/a2\n")
    file = CollectionConfig("file", "file", identifier="works.csv", path=listed)
    both = [LAB, file]
    mine = Work("10.1000/w", "Mine")
    resolve(db, listing("10.1000/o1"), collections=both)  # ORCID: due again on day 7
    resolve(db, membership.resolve(file, None), collection=file, collections=both)
    store.sync_works(db, [mine], T0)
    config = SimpleNamespace(works=[mine], collections=both)  # what settled reads of a Config

    def but(**changed):
        return SimpleNamespace(**{**vars(config), **changed})

    tomorrow = T0 + timedelta(days=1)
    assert membership.settled(db, config, tomorrow)
    assert not membership.settled(db, config, T0 + timedelta(days=7))  # the ORCID record is due
    assert not membership.settled(db, but(works=[Work(mine.doi, "Other")]), tomorrow)
    assert not membership.settled(db, but(works=[Work(mine.doi, "Mine", "123")]), tomorrow)
    assert not membership.settled(db, but(works=[mine, Work("10.1000/new")]), tomorrow)
    assert not membership.settled(db, but(collections=[LAB]), tomorrow)  # the file's went
    assert not membership.settled(db, but(collections=[replace(LAB, identifier="0000-0001-5109-3700")]), tomorrow)
    from monitor.resolvers import files

    reads = []
    read = files.read
    monkeypatch.setattr(files, "read", lambda *args: reads.append(args[0]) or read(*args))
    assert membership.settled(db, config, tomorrow) and reads == []  # the file as last read: not parsed
    listed.write_text("doi\n10.1000/a1\n")  # a work gone from the file
    assert not membership.settled(db, config, tomorrow)
    listed.write_text("doi\n10.1000/a2\n10.1000/a1\n")  # the same works, another order
    assert membership.settled(db, config, tomorrow) and len(reads) == 2
    listed.unlink()
    assert not membership.settled(db, config, tomorrow)
