"""The snapshot store: schema, atomic writes per source, content-addressed bodies, views."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import pytest

from monitor import store
from monitor.models import Exchange, Observation, Outcome, SourceReport, Work

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def exchange(body: bytes, source: str = "crossref") -> Exchange:
    return Exchange(source, "GET", "https://api.example.org/works", 200, {}, body, T0, 5)


def report(source: str, *observations: Observation) -> SourceReport:
    return SourceReport(source, observations, tuple(o.exchange for o in observations if o.exchange))


@pytest.fixture
def db(tmp_path):
    database = store.open_db(tmp_path / "monitor.db")
    yield database
    database.close()


def test_open_db_is_wal_and_migrated(db):
    assert db.journal_mode == "wal"
    assert {"works", "runs", "observations", "responses", "raw_bodies"} <= set(db.table_names())
    assert set(db.view_names()) == set(store.VIEWS) == {
        "latest_counts", "count_history", "source_health", "citing_works", "new_citing_works", "alerts",
        "collection_works", "collection_metrics", "observation_details"}


def test_a_crash_mid_source_leaves_nothing_of_that_source(db, monkeypatch):
    ids = store.sync_works(db, [Work("10.1/a"), Work("10.1/b")], T0)
    run = store.start_run(db, T0)
    ex = exchange(b'{"n": 1}')
    good = report("crossref", Observation("10.1/a", "crossref", Outcome.OK, citations=3, exchange=ex),
                  Observation("10.1/b", "crossref", Outcome.OK, citations=4, exchange=ex))
    calls = {"n": 0}
    original = store.learn_pmid  # called for each observation, once all are inserted

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "learn_pmid", crash_on_second)
    with pytest.raises(RuntimeError):
        store.save_source(db, run, ids, good, T0)
    assert db["observations"].count == 0
    assert db["responses"].count == 0
    assert db["raw_bodies"].count == 0


def test_identical_bodies_are_stored_once_and_compressed_once(db, monkeypatch):
    compressed = []
    compress = store.zlib.compress
    monkeypatch.setattr(store.zlib, "compress", lambda data, level: compressed.append(data) or compress(data, level))
    ids = store.sync_works(db, [Work("10.1/a")], T0)
    for _ in range(3):
        run = store.start_run(db, T0)
        obs = Observation("10.1/a", "crossref", Outcome.OK, citations=3, exchange=exchange(b'{"same": true}'))
        store.save_source(db, run, ids, report("crossref", obs), T0)
    assert db["responses"].count == 3
    assert db["raw_bodies"].count == 1 and compressed == [b'{"same": true}']
    sha = next(db.query("select body_sha256 from responses"))["body_sha256"]
    assert store.raw_body(db, sha) == b'{"same": true}'


def test_latest_counts_keeps_failures_apart_from_values(db):
    ids = store.sync_works(db, [Work("10.1/a")], T0)
    run1 = store.start_run(db, T0)
    store.save_source(db, run1, ids, report("crossref", Observation(
        "10.1/a", "crossref", Outcome.OK, citations=7, exchange=exchange(b"1"))), T0)
    run2 = store.start_run(db, T0)
    store.save_source(db, run2, ids, report("crossref", Observation(
        "10.1/a", "crossref", Outcome.ERROR, "HTTP 500")), T0.replace(hour=7))
    [row] = list(db.query("select * from latest_counts"))
    assert row["outcome"] == "error" and row["citations"] is None
    assert row["last_ok_citations"] == 7


def test_a_failure_cannot_carry_a_count():
    with pytest.raises(ValueError):
        Observation("10.1/a", "x", Outcome.ERROR, citations=0)


def test_pmid_learned_from_a_source_but_config_wins(db):
    ids = store.sync_works(db, [Work("10.1/a"), Work("10.1/b", pmid="111")], T0)
    run = store.start_run(db, T0)
    for doi in ("10.1/a", "10.1/b"):
        obs = Observation(doi, "openalex", Outcome.OK, citations=1, metadata={"pmid": "999"})
        store.save_source(db, run, ids, report("openalex", obs), T0)
    pmids = {r["doi"]: (r["pmid"], r["pmid_source"]) for r in db.query("select * from works")}
    assert pmids == {"10.1/a": ("999", "openalex"), "10.1/b": ("111", "config")}


def test_storing_the_works_as_configured_again_writes_no_row(db):
    works = [Work("10.1/a", "A"), Work("10.1/b", pmid="111"), Work("10.1/c")]
    store.sync_works(db, works, T0)
    db.execute("UPDATE works SET pmid = '222', pmid_source = 'openalex' WHERE doi = '10.1/c'")

    def written(works) -> int:
        before = db.conn.total_changes
        store.sync_works(db, works, T0)
        return db.conn.total_changes - before

    assert written(works) == 0  # c's learned PMID stays, and nothing is rewritten
    assert written([Work("10.1/a", "Another label"), *works[1:]]) == 1
    assert written([Work("10.1/a", "Another label"), works[1], Work("10.1/c", pmid="222")]) == 1  # now config's
    assert written([Work("10.1/a", "Another label"), works[1], Work("10.1/c", pmid="222")]) == 0
    rows = {r["doi"]: (r["label"], r["pmid"], r["pmid_source"]) for r in db.query("select * from works")}
    assert rows == {"10.1/a": ("Another label", None, None), "10.1/b": (None, "111", "config"),
                    "10.1/c": (None, "222", "config")}


def test_source_health_gives_the_message_of_the_worst_outcome(db):
    ids = store.sync_works(db, [Work("10.1/a"), Work("10.1/b")], T0)
    run = store.start_run(db, T0)
    store.save_source(db, run, ids, report(
        "crossref",
        Observation("10.1/a", "crossref", Outcome.ERROR, "HTTP 500"),
        Observation("10.1/b", "crossref", Outcome.NOT_FOUND, "Not indexed by Crossref"),
    ), T0)
    [health] = db.query("select * from source_health")
    assert (health["last_outcome"], health["last_message"]) == ("error", "HTTP 500")
    assert (health["failure_streak"], health["runs"], health["failed_runs"]) == (1, 1, 1)


def test_history_as_of_a_day_does_not_know_of_a_later_prune(db):
    from datetime import timedelta

    from monitor import retention

    ids = store.sync_works(db, [Work("10.1/a")], T0)
    store.save_source(db, store.start_run(db, T0), ids, report("crossref", Observation(
        "10.1/a", "crossref", Outcome.OK, citations=7, exchange=exchange(b"1"))), T0)
    retention.prune(db, timedelta(days=1), T0 + timedelta(days=10))
    [now] = store.observation_history(db, "10.1/a")
    [then] = store.observation_history(db, "10.1/a", store.iso(T0 + timedelta(days=1)))
    assert now["pruned_at"] == store.iso(T0 + timedelta(days=10))
    assert then["pruned_at"] is None and then["body_sha256"] == now["body_sha256"]


def test_an_unchanged_answer_adds_a_row_but_no_new_metrics_or_metadata(db):
    """Metrics and metadata are kept once each (payloads); an observation refers to them."""
    ids = store.sync_works(db, [Work("10.1/a")], T0)
    said = Observation("10.1/a", "openalex", Outcome.OK, citations=3, metrics={"fwci": 1.5},
                       metadata={"title": "T", "authors": [{"name": "A"}]})
    for run in range(3):
        store.save_source(db, store.start_run(db, T0), ids, report("openalex", said), T0)
    assert db.execute("SELECT count(*) FROM payloads").fetchone()[0] == 2
    rows = list(db.query("SELECT metrics, metadata FROM observation_details ORDER BY id"))
    assert len(rows) == 3 and {(r["metrics"], r["metadata"]) for r in rows} == {
        ('{"fwci": 1.5}', '{"authors": [{"name": "A"}], "title": "T"}')}
    store.save_source(db, store.start_run(db, T0), ids, report("openalex", Observation(
        "10.1/a", "openalex", Outcome.OK, citations=4, metrics={"fwci": 1.6}, metadata=said.metadata)), T0)
    assert db.execute("SELECT count(*) FROM payloads").fetchone()[0] == 3  # only the new metrics
    assert store.latest_metadata(db, "10.1/a") == {"openalex": said.metadata}


def test_a_works_authors_are_kept_up_to_date_with_the_observations_stored(db, monkeypatch):
    from datetime import timedelta

    ids = store.sync_works(db, [Work("10.1/a"), Work("10.1/b")], T0)
    run = store.start_run(db, T0)
    ada, grace = [{"name": "Ada Lovelace"}], [{"name": "Grace Hopper", "ids": ("x",)}]
    obs = Observation("10.1/a", "crossref", Outcome.OK, citations=1, metadata={"authors": ada})
    store.save_source(db, run, ids, report("crossref", obs), T0)
    authors = store.AuthorsOf(db, keep=1)
    assert authors("10.1/a") == ada
    reads = []
    read = store.believed_authors
    monkeypatch.setattr(store, "believed_authors", lambda db, doi: reads.append(doi) or read(db, doi))

    def stored(observation, run=run):
        store.save_source(db, run, ids, report(observation.source, observation), T0)
        authors.saw([observation])
        assert authors("10.1/a") == read(db, "10.1/a")[1]  # as read afresh

    # OpenAlex is believed first for authors: what it says wins, unread, as stored (JSON)
    stored(Observation("10.1/a", "openalex", Outcome.OK, citations=1, metadata={"authors": grace}))
    assert authors("10.1/a") == [{"name": "Grace Hopper", "ids": ["x"]}] and reads == []
    later = store.start_run(db, T0 + timedelta(days=1))
    stored(Observation("10.1/a", "openalex", Outcome.ERROR, message="500"), later)  # not an answer
    last = store.start_run(db, T0 + timedelta(days=2))
    stored(Observation("10.1/a", "openalex", Outcome.OK, citations=1, metadata={}), last)
    assert authors("10.1/a") == ada and reads == ["10.1/a"]  # OpenAlex names none now: Crossref's
    brief = Observation("10.1/a", "europepmc", Outcome.OK, citations=1, metadata={"authors": grace},
                        brief=("citations",))
    stored(Observation("10.1/a", "semanticscholar", Outcome.OK, citations=1, metadata={"authors": grace}), last)
    stored(Observation("10.1/a", "crossref", Outcome.OK, citations=1, metadata={"authors": grace}), last)
    assert authors("10.1/a") == [{"name": "Grace Hopper", "ids": ["x"]}]  # Crossref's, believed before S2
    assert reads == ["10.1/a"]
    stored(brief, last)
    assert reads == ["10.1/a"] * 2  # a brief answer's metadata is completed as stored: read again
    assert authors("10.1/b") == [] and list(authors.known) == ["10.1/b"]  # keeps the last one only


def test_the_latest_metadata_is_each_sources_latest_ok_observation_however_long_the_history(db):
    from datetime import timedelta

    ids = store.sync_works(db, [Work("10.1/a")], T0)
    names = ["Ada Lovelace", "Grace Hopper", "Mary Somerville", "Emmy Noether"]
    for night, name in enumerate(names):
        at = T0 + timedelta(days=night)
        run = store.start_run(db, at)
        authors = [{"name": name}, {"name": "Kurt Gödel", "orcid": None}]
        ok = Observation("10.1/a", "crossref", Outcome.OK, citations=night, metadata={"authors": authors, "n": night})
        store.save_source(db, run, ids, report("crossref", ok), at)
    run = store.start_run(db, T0 + timedelta(days=9))  # a failure later still: not an answer
    failed = Observation("10.1/a", "crossref", Outcome.ERROR, message="500")
    store.save_source(db, run, ids, report("crossref", failed), T0 + timedelta(days=9))
    assert store.latest_metadata(db, "10.1/a")["crossref"]["n"] == 3
    assert store.work_authors(db, "10.1/a") == [{"name": "Emmy Noether"}, {"name": "Kurt Gödel", "orcid": None}]
    assert store.latest_metadata(db, "10.1/a", as_of=store.iso(T0 + timedelta(days=1, hours=1)))["crossref"]["n"] == 1
    assert store.latest_metadata(db, "10.1/x") == {} and store.work_authors(db, "10.1/x") == []


def test_a_list_stored_with_its_works_authors_checks_self_citations_with_them(db):
    from monitor import writer
    from monitor.models import CitingList, CitingRecord

    ids = store.sync_works(db, [Work("10.1/a")], T0)
    run = store.start_run(db, T0)
    authors = store.AuthorsOf(db)
    assert authors("10.1/a") == []  # asked before any source described the work
    ada = {"name": "Ada Lovelace", "orcid": "0000-0002-1825-0097"}
    citer = CitingRecord("openalex", doi="10.9/c", title="A citing work", authors=(ada,))
    chunk = SourceReport(
        "openalex", (Observation("10.1/a", "openalex", Outcome.OK, citations=1, metadata={"authors": [ada]}),), (),
        citing=(CitingList("10.1/a", "openalex", Outcome.OK, (citer,), complete=True),),
    )
    writer.save(db, run, ids, chunk, T0, authors)
    assert [r["is_self_citation"] for r in db.query("SELECT * FROM citations")] == [1]


def test_payloads_are_kept_once_each_and_found_again_in_parts(db, monkeypatch):
    monkeypatch.setattr(store, "IN_A_QUERY", 2)  # three queries for five distinct payloads
    known = store.save_payload(db, {"b": 2})
    payloads = [{"a": 1}, {}, {"b": 2}, {"a": 1}, {"c": 3}, {"d": 4}, {"e": 5}]
    ids = store.save_payloads(db, payloads)
    assert ids[1] is None and ids[2] == known and ids[0] == ids[3]
    assert len({i for i in ids if i is not None}) == 5 == db["payloads"].count
    bodies = {row["id"]: json.loads(row["body"]) for row in db.query("SELECT id, body FROM payloads")}
    assert [bodies.get(i, {}) for i in ids] == payloads
    assert store.save_payloads(db, payloads) == ids  # all kept already: found, none added
    assert db["payloads"].count == 5


def test_a_count_moved_is_noted_against_the_sources_latest_earlier_count(db, monkeypatch):
    """Read for a chunk in parts: each work against its own latest ok count of an earlier
    run from the same source (not an older one, not another source's, not a failure)."""
    monkeypatch.setattr(store, "IN_A_QUERY", 2)
    dois = [f"10.1/{c}" for c in "abcde"]
    ids = store.sync_works(db, [Work(d) for d in dois], T0)

    def counted(source, counts, when):
        run = store.start_run(db, when)
        observations = [Observation(d, source, Outcome.OK, citations=n) if n is not None
                        else Observation(d, source, Outcome.ERROR, "HTTP 500") for d, n in zip(dois, counts)]
        store.save_source(db, run, ids, report(source, *observations), when, signals_moves=True)

    counted("crossref", [1, 2, 3, 4, 5], T0)
    counted("crossref", [1, 9, 3, 4, 5], T0)  # b moved: noted at T0
    counted("openalex", [7, 7, 7, 7, 7], T0)  # another source's counts are not crossref's
    later = T0.replace(hour=7)
    counted("crossref", [1, 9, 3, None, 6], later)  # d failed: no count to compare; e moved
    counted("crossref", [2, 9, 3, 4, 6], later)  # a moved; d as its last ok count (4)
    moved = {row["doi"]: row["counts_moved_at"] for row in db.query("SELECT doi, counts_moved_at FROM works")}
    assert moved == {"10.1/a": store.iso(later), "10.1/b": store.iso(T0), "10.1/c": None,
                     "10.1/d": None, "10.1/e": store.iso(later)}


def test_the_works_as_stored_are_the_works_held_where_nothing_differs(db):
    """A run of 100,000 works holds the tracked works all through: the works as stored are
    the configured ones, not copies (13 MB at that size), but where the store knows more
    (a PMID a source gave); the ids are keyed by the DOIs held, not copies of them."""
    a, b, c = Work("10.1/a"), Work("10.1/b", "B"), Work("10.1/c")
    ids = store.sync_works(db, [a, b], T0)
    assert next(doi for doi in ids if doi == a.doi) is a.doi
    db.execute("UPDATE works SET pmid = '123' WHERE doi = '10.1/b'")
    stored = store.tracked_works(db, [b, c, a])  # c never stored: left out
    assert stored == [Work("10.1/b", "B", "123"), a] and stored[1] is a and stored[0].doi is b.doi
    learned = store.learned_pmids(db, [a, b])  # mid-run, for the sources that need a PMID
    assert learned == {"10.1/b": Work("10.1/b", "B", "123")} and learned["10.1/b"].doi is b.doi


def test_a_packed_answer_is_stored_as_packed_and_read_back_whole(db, monkeypatch):
    body = b'{"results": [' + b'{"id": "W1", "cited_by_count": 3},' * 200 + b'{}]}'
    packed = exchange(body)
    packed.pack()  # as a run's session does as it records an answer
    assert packed.body == body and packed.size == len(body) and packed.json()["results"][0]["id"] == "W1"
    assert len(packed.packed()[2]) < len(body) / 5  # held compressed
    assert pickle.loads(pickle.dumps(packed)).packed() == packed.packed()  # crosses to the writer so
    monkeypatch.setattr(store.zlib, "compress", lambda *a: pytest.fail("compressed again in the store"))
    ids = store.sync_works(db, [Work("10.1/a")], T0)
    run = store.start_run(db, T0)
    obs = Observation("10.1/a", "openalex", Outcome.OK, citations=3, exchange=packed)
    store.save_source(db, run, ids, report("openalex", obs), T0)
    [row] = list(db.query("select r.body_sha256, b.size from responses r join raw_bodies b on b.sha256 = r.body_sha256"))
    assert row["body_sha256"] == store.body_sha256(body) and row["size"] == len(body)
    assert store.raw_body(db, row["body_sha256"]) == body
