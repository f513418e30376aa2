"""The refresh policy (monitor/plan.py): which works each source is asked about in a run.

Rules on a real database with observations made at chosen moments, then real runs at
the fake whose "now" moves on: a quiet run asks a per-work source nothing, a moved
count or an old answer asks it again, and a work not asked keeps its last observation."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor import collect, plan, store
from monitor.config import load_config
from monitor.models import Observation, Outcome, SourceReport, Work
from tests.conftest import DEFAULT_DOI, db_rows, wait_for
from tests.fakeapi.routes import openalex as fake_openalex

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
WORKS = [Work(f"10.1234/w{i}") for i in range(1, 6)]


def observe(db, run_at: datetime, source: str, outcomes: dict[str, Outcome]) -> None:
    run_id = store.start_run(db, run_at)
    ids = store.sync_works(db, WORKS, run_at)
    observations = tuple(
        Observation(doi, source, outcome, citations=1 if outcome is Outcome.OK and source != "unpaywall" else None)
        for doi, outcome in outcomes.items()
    )
    store.save_source(db, run_id, ids, SourceReport(source, observations, ()), run_at)


@pytest.fixture
def config(write_config):
    return load_config(write_config(
        works=[w.doi for w in WORKS],
        sources={"unpaywall": {"refresh_days": 7}, "altmetric": {"refresh_days": 7}},
    ), environ={})


def test_a_work_is_due_when_never_asked_failed_moved_or_old_and_the_oldest_goes_first(config, tmp_path):
    db = store.open_db(config.database)
    w1, w2, w3, w4, w5 = (w.doi for w in WORKS)
    observe(db, NOW - timedelta(days=10), "unpaywall", {w2: Outcome.OK})
    observe(db, NOW - timedelta(days=2), "unpaywall", {w3: Outcome.OK, w4: Outcome.NOT_FOUND})
    observe(db, NOW - timedelta(days=1), "unpaywall", {w5: Outcome.ERROR})
    db.execute("UPDATE works SET counts_moved_at = ? WHERE doi = ?", [store.iso(NOW - timedelta(hours=30)), w4])
    db.conn.commit()

    part = plan.make(db, config, WORKS, NOW)["unpaywall"]
    assert [w.doi for w in part.works] == [w1, w2, w4, w5]  # never, then 10 days, 2 days, 1 day
    assert dict(part.reasons) == {"never": 1, "stale": 1, "moved": 1, "retry": 1}
    assert (part.due, part.waiting, part.tracked) == (4, 0, 5)  # w3: answered 2 days ago, unmoved
    assert part.policy == "every 7 days, or when a count moved"
    assert len(plan.make(db, config, WORKS, NOW)["openalex"].works) == 5  # batched: every run


def test_the_budget_takes_the_most_overdue_and_says_when_it_cannot_keep_up(config, tmp_path):
    db = store.open_db(config.database)
    unpaywall = config.sources["unpaywall"]
    budgeted = plan.plan_source(db, config, replace(unpaywall, max_requests=2), WORKS, NOW)
    assert [w.doi for w in budgeted.works] == [WORKS[0].doi, WORKS[1].doi]
    assert budgeted.waiting == 3 and budgeted.refresh_takes_days == 3
    assert budgeted.keeps_up  # 2 a day, for 5 works within 7 days: yes
    line = plan.plan_source(
        db, config, replace(unpaywall, max_requests=1, refresh_days=2.0), WORKS, NOW
    ).describe()
    assert line.endswith("every work is asked every 5 days, not 2: raise max_requests or refresh_days")


def test_the_sources_that_may_take_longest_are_planned_first(config, tmp_path):
    """A run starts each source as it is planned (collect), so the slowest is planned first:
    by its requests in the last run that ended, at its rate, or, never run, by a request per
    batch of the works (within its budget)."""
    db = store.open_db(config.database)
    sources = [replace(config.sources[name], requests_per_second=rate, max_requests=budget)
               for name, rate, budget in (("openalex", 10.0, 100), ("unpaywall", 5.0, 100), ("crossref", 2.0, 100))]
    names = lambda: [s.name for s in plan.longest_first(db, sources, 1000)]
    assert names() == ["unpaywall", "crossref", "openalex"]  # 100/5, 10/2 and 10/10 seconds
    planned = []
    plan.make(db, replace(config, sources={s.name: s for s in sources}), WORKS, NOW, planned.append)  # 1, 0.5, 0.1 s
    assert [p.source for p in planned] == ["unpaywall", "crossref", "openalex"]
    run_id = store.start_run(db, NOW)
    summary = {"unpaywall": {"requests": 3}, "crossref": {"requests": 40}, "openalex": {"requests": 20}}
    store.finish_run(db, run_id, NOW, "ok", 0, summary)
    assert names() == ["crossref", "openalex", "unpaywall"]  # 40/2, 20/10 and 3/5 seconds
    db.execute("UPDATE runs SET summary = '{not json'")
    assert names() == ["unpaywall", "crossref", "openalex"]  # not as a run leaves it: the bound


def test_a_first_run_counts_the_lists_that_cost_requests_in_how_long_a_source_may_take(config):
    """Semantic Scholar counts 500 works a request but asks each work's list alone: on a
    first run its lists, not its counts, make it the longest (within its budget)."""
    rates = (("semanticscholar", 1.0, 3000), ("unpaywall", 5.0, 3000), ("openalex", 10.0, 3000), ("icite", 1.0, 3000))
    sources = [replace(config.sources[name], requests_per_second=rate, max_requests=budget)
               for name, rate, budget in rates]
    names = lambda listing: [s.name for s in plan.longest_first(None, sources, 1000, listing)]
    # 2 + 1000 at 1 a second; 1000 at 5; 5 at 1 (its lists come with its counts); 10 + 1000 / 50 at 10
    assert names(True) == ["semanticscholar", "unpaywall", "icite", "openalex"]
    assert names(False) == ["unpaywall", "icite", "semanticscholar", "openalex"]  # 200, 5, 2 and 1 seconds
    sources[0] = replace(sources[0], max_requests=100)
    assert names(True)[:2] == ["unpaywall", "semanticscholar"]  # 200 s, then its budget's 100


def test_a_source_without_its_key_is_not_configured_once_not_at_every_run(config, tmp_path):
    db = store.open_db(config.database)
    assert len(plan.make(db, config, WORKS, NOW)["altmetric"].works) == 5  # no key: not configured
    observe(db, NOW, "altmetric", {WORKS[0].doi: Outcome.NOT_CONFIGURED})
    part = plan.make(db, config, WORKS, NOW)["altmetric"]
    assert not part.configured and [w.doi for w in part.works] == [w.doi for w in WORKS[1:]]



def test_runs_ask_a_per_work_source_again_only_when_due(write_config, fake_api):
    path = write_config(only=("openalex", "crossref", "unpaywall"), sources={"unpaywall": {"refresh_days": 7}})
    config = load_config(path, environ={})
    day = [NOW]

    def run():
        day[0] += timedelta(hours=1)  # each run a little later than the one before
        return collect.run(config, now=lambda: day[0])

    run()
    assert len(fake_api.hits("unpaywall")) == 1
    quiet = run()  # nothing changed, nothing is old
    assert len(fake_api.hits("unpaywall")) == 1
    [unpaywall] = [r for r in quiet.sources if r.source == "unpaywall"]
    assert (unpaywall.outcome, unpaywall.asked, unpaywall.tracked) == (Outcome.OK, 0, 1)
    summary = db_rows(config.database, "SELECT summary FROM runs ORDER BY id DESC LIMIT 1")[0]["summary"]
    assert '"unpaywall"' in summary  # still a source of the run (headline.active_sources)
    [latest] = db_rows(config.database, "SELECT * FROM latest_counts WHERE source = 'unpaywall'")
    assert latest["run_id"] == 1 and latest["observed_at"] == store.iso(NOW + timedelta(hours=1))
    assert len(db_rows(config.database, "SELECT * FROM observations WHERE source = 'unpaywall'")) == 1

    fake_openalex.set_count(fake_api, DEFAULT_DOI, 60)  # a batched count moves in run 3 ...
    run()
    assert len(fake_api.hits("unpaywall")) == 1
    [work] = db_rows(config.database, "SELECT counts_moved_at FROM works")
    assert work["counts_moved_at"] is not None
    run()  # ... so run 4 asks the per-work source again
    assert len(fake_api.hits("unpaywall")) == 2

    day[0] += timedelta(days=8)  # and a week later, its answer is old
    run()
    assert len(fake_api.hits("unpaywall")) == 3


def test_sources_shows_each_policy_and_what_is_due(write_config, invoke, fake_api):
    path = write_config(works=[w.doi for w in WORKS], only=("openalex", "unpaywall"),
                        sources={"unpaywall": {"refresh_days": 7, "max_requests": 2}})
    result = invoke("sources", "--config", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    policy = lines[lines.index(next(x for x in lines if x.startswith("unpaywall"))) + 1]
    assert policy == ("  refresh every 7 days, or when a count moved; at most 2 requests a run; "
                      "5 of 5 works due now (2 asked next run)")
    assert "refresh every run; at most 5000 requests a run; 5 of 5 works due now" in result.output


def test_a_list_the_budget_left_brings_its_work_back_before_its_count_is_old(config, tmp_path):
    """OpenCitations lists a work with its count: a list a run's budget left unfetched makes
    the work due again at once, not in 30 days."""
    db = store.open_db(config.database)
    observe(db, NOW - timedelta(days=1), "opencitations", {w.doi: Outcome.OK for w in WORKS})
    run_id = db.execute("SELECT max(id) FROM runs").fetchone()[0]
    for work_id in (1, 2):  # the first two works' lists came, complete
        db.execute("INSERT INTO citing_fetches (run_id, work_id, source, fetched_at, outcome, complete, items) "
                   "VALUES (?, ?, 'opencitations', ?, 'ok', 1, 0)", [run_id, work_id, store.iso(NOW)])
    db.conn.commit()
    part = plan.plan_source(db, config, replace(config.sources["opencitations"], refresh_days=30.0), WORKS, NOW)
    assert [w.doi for w in part.works] == [w.doi for w in WORKS[2:]]
    assert dict(part.reasons) == {"unlisted": 3}


def test_a_plan_says_whether_a_source_has_a_list_stored_yet(config, tmp_path):
    """A source that lists citing works at a cost and has none stored asks its lists beside
    its counts (source_job): every one is as urgent as another. A failed or incomplete
    list does not count; a source whose lists are free (iCite) or that lists none, and
    every source when lists are off, are never so planned."""
    db = store.open_db(config.database)
    stored = lambda name, cfg=config: plan.plan_source(db, cfg, cfg.sources[name], WORKS, NOW).lists_stored
    assert not stored("semanticscholar") and not stored("openalex")
    assert stored("icite") and stored("unpaywall")
    observe(db, NOW - timedelta(days=1), "semanticscholar", {WORKS[0].doi: Outcome.OK})
    run_id = db.execute("SELECT max(id) FROM runs").fetchone()[0]
    for outcome, complete in (("ok", 0), ("error", 1), ("ok", 1)):
        assert not stored("semanticscholar")
        db.execute("INSERT INTO citing_fetches (run_id, work_id, source, fetched_at, outcome, complete, items) "
                   "VALUES (?, 1, 'semanticscholar', ?, ?, ?, 0)", [run_id, store.iso(NOW), outcome, complete])
    assert stored("semanticscholar") and not stored("openalex")
    assert stored("openalex", replace(config, citing=replace(config.citing, enabled=False)))


def test_the_pmid_sources_wait_only_for_a_pmid_this_run_may_bring(config, tmp_path):
    """iCite and PubMed start with the others when no PMID is awaited: each work has one, or
    every source that may give one answered about it before; a work no source has answered
    about yet keeps them waiting for the sources that may find its PMID."""
    db = store.open_db(config.database)
    providers = [s.name for s in config.enabled_sources if plan.SOURCES[s.name].SPEC.provides_pmid]
    assert providers  # OpenAlex and Europe PMC, enabled by default
    with_pmids = [replace(w, pmid=str(100 + i)) for i, w in enumerate(WORKS)]
    assert plan.make(db, config, with_pmids, NOW).pmids_settled
    assert not plan.make(db, config, WORKS, NOW).pmids_settled  # never asked: a PMID may come
    for provider in providers[:-1]:
        observe(db, NOW - timedelta(days=1), provider, dict.fromkeys((w.doi for w in WORKS), Outcome.OK))
    assert not plan.make(db, config, WORKS, NOW).pmids_settled  # one provider has not answered yet
    observe(db, NOW - timedelta(hours=1), providers[-1], {w.doi: Outcome.NOT_FOUND for w in WORKS})
    assert plan.make(db, config, WORKS, NOW).pmids_settled
    observe(db, NOW, providers[0], {WORKS[0].doi: Outcome.ERROR})  # its last attempt failed
    assert not plan.make(db, config, WORKS, NOW).pmids_settled


def test_a_run_plans_while_its_database_is_checked_and_again_if_its_works_changed(
    write_config, fake_api, monkeypatch
):
    """A run plans over the works as stored while ``quick_check`` reads the database beside
    it (most of a quiet run's first seconds at 10,000 works), and plans again when storing
    this run's works changed them (a work added to config.toml, a PMID given there)."""
    sources = {"unpaywall": {"refresh_days": 7}}
    made = []
    make = plan.make
    monkeypatch.setattr(plan, "make", lambda db, *args: made.append(args[1]) or make(db, *args))
    other = "10.1234/another-work"

    def run(works) -> dict[str, int]:
        config = load_config(write_config(works=works, only=("openalex", "unpaywall"), sources=sources), environ={})
        made.clear()
        return {r.source: r.asked for r in collect.run(config).sources}

    assert run([DEFAULT_DOI]) == {"openalex": 1, "unpaywall": 1}
    assert len(made) == 1  # a new database: checked before anything, planned once
    assert run([DEFAULT_DOI]) == {"openalex": 1, "unpaywall": 0}
    assert len(made) == 1  # planned beside the check, and that plan was the run's
    assert run([DEFAULT_DOI, other]) == {"openalex": 2, "unpaywall": 1}
    assert [[w.doi for w in works] for works in made] == [[DEFAULT_DOI], [DEFAULT_DOI, other]]
    assert run([DEFAULT_DOI, {"doi": other, "pmid": "12345"}]) == {"openalex": 2, "unpaywall": 0}
    assert [[w.pmid for w in works if w.doi == other] for works in made] == [[None], ["12345"]]


def test_a_settled_run_asks_its_sources_while_its_database_is_checked(write_config, fake_api, monkeypatch):
    """Where storing the run's works will change nothing (``membership.settled``), the
    sources start as they are planned, while ``quick_check`` still reads the database (one
    that lists citing works, OpenAlex, once its last lists are read, meanwhile too):
    nothing is stored before it passed. Where they will change (a work added), nothing is
    asked before it passed."""
    from monitor import database

    seen = []  # per check: the sources started, those asked meanwhile, the runs stored
    begun = []  # the fake's requests as each run began: a source may ask before the check starts
    check = database.quick_check
    started = []
    start = collect._Run._start

    def starting(self, part):
        if part.source not in self.started:
            started.append(part.source)
        start(self, part)

    monkeypatch.setattr(collect._Run, "_start", starting)

    def slow_check(conn, path):
        before = begun[-1]

        def asked() -> list[str]:  # the sources asked since the run began, before the check passed
            return sorted({r.api for r in fake_api.requests[before:]})

        # each source starts as it is planned, so the first may ask before the second is
        # started: wait for both started and asked, or, where none should ask, a second
        try:
            wait_for(lambda: len(started) == 2 and len(asked()) == 2, timeout=1.0 if seen else 30.0)
        except AssertionError:
            pass
        seen.append((sorted(started), asked(), len(db_rows(path, "SELECT id FROM runs"))))
        check(conn, path)

    configs = []

    def run(works) -> dict[str, int]:
        started.clear()
        begun.append(len(fake_api.requests))
        configs.append(load_config(write_config(works=works, only=("openalex", "crossref")), environ={}))
        return {r.source: r.asked for r in collect.run(configs[-1]).sources}

    assert run([DEFAULT_DOI]) == {"openalex": 1, "crossref": 1}  # a new database: checked first
    conn = sqlite3.connect(configs[-1].database)
    assert conn.execute("pragma wal_checkpoint(truncate)").fetchone()[0] == 0  # all of it in the file
    conn.close()
    monkeypatch.setattr(database, "quick_check", slow_check)
    assert run([DEFAULT_DOI]) == {"openalex": 1, "crossref": 1}
    # both started and asked before the check passed (OpenAlex's last lists read meanwhile); the
    # run itself stored after it
    assert seen == [(["crossref", "openalex"], ["crossref", "openalex"], 1)]
    other = "10.1234/another-work"
    assert run([DEFAULT_DOI, other]) == {"openalex": 2, "crossref": 2}
    assert seen[1] == ([], [], 2)


def test_sources_asked_ahead_about_other_works_are_stopped_and_asked_again(write_config, fake_api, monkeypatch):
    """Should the works change all the same (``settled`` wrong, as it could be at a
    collection's due time), the sources asked ahead are stopped, their chunks dropped, and
    the run asks about its works: each work observed once, the new one too."""
    from monitor import membership

    def run(works) -> dict[str, int]:
        config = load_config(write_config(works=works, only=("openalex", "crossref")), environ={})
        return {r.source: r.asked for r in collect.run(config).sources}

    run([DEFAULT_DOI])
    monkeypatch.setattr(membership, "settled", lambda *args: True)
    other = "10.1234/another-work"
    assert run([DEFAULT_DOI, other]) == {"openalex": 2, "crossref": 2}
    config = load_config(write_config(works=[DEFAULT_DOI, other], only=("openalex", "crossref")), environ={})
    rows = db_rows(
        config.database,
        "SELECT w.doi, o.source, count(*) AS n FROM observations o JOIN works w ON w.id = o.work_id "
        "WHERE o.run_id = (SELECT max(id) FROM runs) GROUP BY w.doi, o.source",
    )
    assert sorted((r["doi"], r["source"], r["n"]) for r in rows) == sorted(
        (doi, source, 1) for doi in (DEFAULT_DOI, other) for source in ("openalex", "crossref")
    )
