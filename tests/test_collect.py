"""The collector: concurrency, ordering, PMID-needing sources, request economy."""

from __future__ import annotations

import threading
import time

import pytest

from monitor import collect
from monitor.config import load_config
from monitor.fetching import make_client
from monitor.models import Observation, Outcome, Work
from tests.conftest import DEFAULT_DOI, db_rows, wait_for


@pytest.mark.parametrize("name", ["icite", "pubmed"])
def test_works_without_a_pmid_are_not_found_without_a_request(name, write_config, fake_api):
    config = load_config(write_config(), environ={})
    works = [Work("10.9999/no.pmid"), Work(DEFAULT_DOI, pmid="33930000")]
    with make_client(None, config.http) as client:
        report = collect.fetch_source(config.sources[name], works, client, config)
    first, second = report.observations
    assert first.outcome is Outcome.NOT_FOUND
    assert "none is known for this DOI" in first.message and "[[works]]" in first.message
    assert second.outcome is Outcome.OK
    asked = fake_api.hits(name)  # PubMed asks efetch about what it counted, too
    assert len(asked) == (2 if name == "pubmed" else 1)
    assert all("33930000" in str(r.query) for r in asked)


def test_pmid_sources_use_the_pmid_learned_in_the_same_run(write_config, invoke, fake_api, tmp_path):
    result = invoke("run", "--config", str(write_config(only=("openalex", "icite", "pubmed"))))
    assert result.exit_code == 0, result.output
    assert fake_api.hits("icite")[0].arg("pmids") == "33930000"  # from OpenAlex ids.pmid


def test_pmid_sources_start_once_the_providers_counted_not_once_their_lists_came(write_config, fake_api):
    from tests.fakeapi.server import Fault

    lists_answer = threading.Event()
    fake_api.inject("openalex", Fault())  # its count, answered as usual
    fake_api.inject("openalex", hold=lists_answer)  # then its citing list, held
    config = load_config(write_config(only=("openalex", "icite")), environ={})
    done: list = []
    run = threading.Thread(target=lambda: done.append(collect.run(config)))
    run.start()
    try:
        # iCite asked while OpenAlex's list (its second request, which may go after) waits
        wait_for(lambda: fake_api.hits("icite") and len(fake_api.hits("openalex")) == 2, timeout=20)
        assert not done
    finally:
        lists_answer.set()
        run.join(60)
    assert fake_api.hits("icite")[0].arg("pmids") == "33930000"  # OpenAlex's PMID, stored first
    assert {r.source: r.outcome for r in done[0].sources} == {"openalex": Outcome.OK, "icite": Outcome.OK}



def test_when_no_source_waits_for_pmids_a_providers_counts_hold_up_nothing(write_config, fake_api, monkeypatch):
    """Once every work's PMID is known, iCite starts with the others; before, it follows
    the providers' counts (the PMIDs as the store will keep them, read from their chunks).
    Either way the store is settled only as each source ends (its result final), never
    after a provider's counts."""
    from monitor import writer

    settled: list[str] = []
    monkeypatch.setattr(writer.InThread, "settle", lambda self: settled.append("settle"))
    config = load_config(write_config(only=("openalex", "europepmc", "icite")), environ={})
    collect.run(config)  # no PMID known yet: iCite follows the providers' counts
    assert len(settled) == 3  # one per source's end
    settled.clear()
    summary = collect.run(config)  # the PMID OpenAlex gave is stored: nothing waits
    assert {r.source: r.outcome for r in summary.sources} == {s: Outcome.OK for s in ("openalex", "europepmc", "icite")}
    assert len(settled) == 3  # one per source's end

def test_a_crashing_source_is_an_error_for_every_work_and_the_others_still_answer(
    write_config, fake_api, monkeypatch
):
    from monitor.sources import crossref

    def crash(works, session):
        raise RuntimeError("bug in the parser")

    monkeypatch.setattr(crossref, "fetch", crash)
    config = load_config(write_config(only=("openalex", "crossref")), environ={})
    summary = collect.run(config)
    results = {r.source: r for r in summary.sources}
    assert results["openalex"].outcome is Outcome.OK
    crossref = results["crossref"]
    assert (crossref.outcome, crossref.asked, crossref.ok) == (Outcome.ERROR, 1, 0)
    assert crossref.message == "internal error: RuntimeError('bug in the parser')"
    [row] = db_rows(config.database, "SELECT * FROM latest_counts WHERE source = 'crossref'")
    assert (row["outcome"], row["citations"]) == ("error", None)
    assert row["message"] == crossref.message
    assert summary.exit_code == 1


def test_a_work_a_source_left_out_is_an_error_never_a_silent_gap(write_config, fake_api, monkeypatch):
    from monitor.sources import crossref

    fetch = crossref.fetch
    monkeypatch.setattr(crossref, "fetch", lambda works, session: fetch(works[:1], session))
    config = load_config(write_config(), environ={})
    works = [Work(DEFAULT_DOI), Work("10.9999/forgotten")]
    with make_client(None, config.http) as client:
        report = collect.fetch_source(config.sources["crossref"], works, client, config)
    answered, forgotten = report.observations
    assert answered.outcome is Outcome.OK
    assert forgotten.doi == "10.9999/forgotten" and forgotten.outcome is Outcome.ERROR
    assert forgotten.message == "internal error: source returned no result"


def test_a_source_needing_a_contact_email_without_one_is_not_configured_without_a_request(
    write_config, fake_api
):
    config = load_config(write_config(contact_email=""), environ={})
    with make_client(None, config.http) as client:
        report = collect.fetch_source(config.sources["unpaywall"], [Work(DEFAULT_DOI)], client, config)
    [obs] = report.observations
    assert obs.outcome is Outcome.NOT_CONFIGURED and "contact_email" in obs.message
    assert not fake_api.hits("unpaywall") and report.exchanges == ()



def test_a_source_hands_its_works_over_a_chunk_at_a_time(write_config, fake_api, monkeypatch):
    """Memory stays flat: each chunk's observations and exchanges go to the store before
    the next chunk is asked, whatever the number of works."""
    from monitor import plan, source_job
    from monitor.fetching import make_client
    from monitor.progress import SourceProgress

    monkeypatch.setattr(source_job, "CHUNK_REQUESTS", 2)
    monkeypatch.setattr(source_job, "CHUNK_WORKS", (2, 2))
    config = load_config(write_config(only=("dimensions",)), environ={})
    works = [Work(f"10.9999/chunk.{i}") for i in range(5)]
    part = plan.SourcePlan("dimensions", tuple(works), 5, 5, (), 0.0, 100, 1)
    delivered = []
    with make_client(None, config.http) as client:
        session = source_job.session_for(
            config.sources["dimensions"], client, config, progress=SourceProgress("dimensions", 5)
        )
        result = source_job.run_source(
            config.sources["dimensions"], part, session, config, delivered.append, lambda dois: {}
        )
    delivered.sort(key=lambda r: r.observations[0].doi)  # chunks are stored as each ends
    assert [[o.doi for o in r.observations] for r in delivered] == [
        [w.doi for w in works[:2]], [w.doi for w in works[2:4]], [works[4].doi]]
    assert [len(r.exchanges) for r in delivered] == [2, 2, 1]  # each chunk its own requests
    assert (result.asked, result.requests, session.progress.done) == (5, 5, 5)


@pytest.mark.parametrize("bound", ["LIST_RECORDS", "LIST_BYTES"])
def test_lists_are_handed_over_in_parts_by_records_or_by_bytes(write_config, fake_api, monkeypatch, bound):
    """However few records its lists hold, a part ends once its answers reach LIST_BYTES
    (held in memory until stored); as it does at LIST_RECORDS records."""
    from monitor import plan, source_job
    from monitor.fetching import make_client
    from tests.fakeapi.routes import opencitations

    monkeypatch.setattr(source_job, "LIST_RECORDS", 10**9)
    monkeypatch.setattr(source_job, "LIST_BYTES", 10**12)
    monkeypatch.setattr(source_job, bound, 1)
    works = [Work(DEFAULT_DOI), Work("10.9999/second.list")]
    fake_api.records[opencitations.CITING][works[1].doi] = fake_api.records[opencitations.CITING][DEFAULT_DOI]
    opencitations.set_count(fake_api, works[1].doi, 3)
    config = load_config(write_config(only=("opencitations",)), environ={})
    part = plan.SourcePlan("opencitations", tuple(works), 2, 2, (), 0.0, 100, 1)
    delivered = []
    with make_client(None, config.http) as client:
        session = source_job.session_for(config.sources["opencitations"], client, config)
        source_job.run_source(config.sources["opencitations"], part, session, config, delivered.append, lambda dois: {})
    parts = [r for r in delivered if r.citing]
    assert sorted(listing.doi for r in parts for listing in r.citing) == sorted(w.doi for w in works)
    assert [len(r.citing) for r in parts] == [1, 1]  # a part a work's list, each with its own answer
    assert all(len(r.exchanges) == 1 and "/citations/" in r.exchanges[0].url for r in parts)


def test_a_chunk_keeps_none_of_its_answers_parsed_once_its_free_lists_are_read(write_config, fake_api):
    """iCite's lists are read from the answers its counts came from, parsed once for all
    the works of an answer: once the chunk's lists are read, the thread lets go of it."""
    from monitor import source_job
    from monitor.fetching import utcnow
    from monitor.sources import SOURCES, base

    config = load_config(write_config(only=("icite",)), environ={})
    with make_client(None, config.http) as client:
        session = source_job.session_for(config.sources["icite"], client, config)
        queue = source_job.ListQueue("icite", ())
        report = source_job.fetch_works(SOURCES["icite"], session, [Work(DEFAULT_DOI, pmid="33930000")], config,
                                        utcnow, {}, queue)
    assert [len(listing.records) > 0 for listing in report.citing] == [True]  # read through parsed_once
    assert base._last_parsed.value is None


def test_lists_wait_for_the_counts_and_for_a_budget_that_allows_them(write_config, fake_api, tmp_path):
    """OpenCitations' list costs a request: with a budget of one, the count takes it and the
    list waits (no fetch recorded, still due); the next run, with room, fetches it."""
    tight = load_config(write_config(only=("opencitations",), sources={"opencitations": {"max_requests": 1}}), environ={})
    collect.run(tight)
    assert [h.path.split("/")[1] for h in fake_api.hits("opencitations")] == ["citation-count"]
    assert db_rows(tight.database, "SELECT * FROM citing_fetches") == []
    roomy = load_config(write_config(only=("opencitations",)), environ={})
    collect.run(roomy)
    assert [h.path.split("/")[1] for h in fake_api.hits("opencitations")][1:] == ["citation-count", "citations"]
    [fetch] = db_rows(roomy.database, "SELECT * FROM citing_fetches")
    assert (fetch["outcome"], fetch["complete"]) == ("ok", 1)


def test_the_most_urgent_lists_come_first():
    from monitor.source_job import ListQueue

    due = [((2, "2026-01-05T00:00:00+00:00"), "old"), ((1, ""), "never"),
           ((2, "2026-01-01T00:00:00+00:00"), "older"), ((0, ""), "moved"), ((1, ""), "never too")]
    for cap, expected in ((None, ["moved", "never", "never too", "older", "old"]), (3, ["moved", "never", "never too"])):
        queue = ListQueue("openalex", ("openalex_id",), cap)
        for priority, doi in due:
            queue.note(priority, Work(doi), Observation(doi, "openalex", Outcome.OK, citations=3,
                                                        metadata={"openalex_id": "W1", "abstract": "long"}))
        assert [w.doi for w, _ in queue.in_order()] == expected
        assert all(o.metadata == {"openalex_id": "W1"} and o.citations == 3 for _, o in queue.in_order())


def test_a_capped_list_queue_keeps_the_most_urgent_however_many_are_noted():
    import random

    from monitor.source_job import ListQueue

    rng = random.Random(7)
    noted = [(rng.randrange(3), f"2026-01-{rng.randrange(1, 29):02d}T00:00:00+00:00", f"w{i}") for i in range(5000)]
    queue = ListQueue("openalex", ("openalex_id",), cap=40)
    for group, fetched_at, doi in noted:
        queue.note((group, fetched_at if group == 2 else ""), Work(doi),
                   Observation(doi, "openalex", Outcome.OK, citations=None, metadata={"openalex_id": doi}))
    assert len(queue.works) < 2 * 1000  # pruned as it goes, not held in full
    expected = sorted(noted, key=lambda n: (n[0], n[1] if n[0] == 2 else ""))[:40]  # stable: first noted first
    got = list(queue.in_order())
    assert [w.doi for w, _ in got] == [doi for *_, doi in expected]
    assert all(o.citations is None and o.metadata == {"openalex_id": w.doi} for w, o in got)


def test_lists_stored_in_parts_keep_the_answers_they_came_from(write_config, fake_api, monkeypatch):
    from monitor import source_job

    monkeypatch.setattr(source_job, "LIST_RECORDS", 1)  # every unit of lists a part of its own
    listing = ("openalex", "europepmc", "semanticscholar", "opencitations")
    config = load_config(write_config(only=listing), environ={})
    collect.run(config)
    rows = db_rows(config.database,
        "SELECT cs.source, r.source AS answered_by, r.url FROM citation_sources cs "
        "LEFT JOIN responses r ON r.id = cs.response_id")
    assert {row["source"] for row in rows} == set(listing)
    assert all(row["answered_by"] == row["source"] for row in rows)  # none lost its provenance


def test_a_first_runs_lists_stream_as_noted_and_the_rest_come_after_within_the_cap():
    """A source with no list stored has every list as urgent as another (never fetched):
    each is asked as soon as it is noted, while the others are counted; what the stream
    did not take comes after, in order, and the two never ask a list twice nor pass the cap."""
    from monitor.source_job import ListQueue

    queue = ListQueue("semanticscholar", ("paperId",), cap=5)
    note = lambda doi: queue.note((1, ""), Work(doi), Observation(doi, "semanticscholar", Outcome.OK, citations=2))
    allowed = [True]
    streamed: list[str] = []
    note("w0")
    stream = threading.Thread(target=lambda: streamed.extend(w.doi for w, _ in queue.stream(lambda: allowed[0])))
    stream.start()
    wait_for(lambda: streamed == ["w0"], timeout=5)  # asked while the others are still counted
    note("w1")
    wait_for(lambda: streamed == ["w0", "w1"], timeout=5)
    allowed[0] = False  # the budget left is the counts': the stream ends at the next list
    note("w2")
    stream.join(5)
    assert not stream.is_alive() and streamed == ["w0", "w1"]
    for doi in ("w3", "w4", "w5"):
        note(doi)
    queue.all_noted()
    assert [w.doi for w, _ in queue.in_order()] == ["w2", "w3", "w4"]  # 5 in all: the cap
    assert list(queue.stream(lambda: True)) == []  # once all are noted, a stream asks nothing


@pytest.mark.parametrize("first", [True, False])
def test_a_sources_first_lists_are_asked_beside_its_counts(write_config, fake_api, monkeypatch, first):
    """Where a source has no list stored (its first run), a chunk of counts slow to come no
    longer holds up the lists of the chunks counted before it; once it has lists stored, the
    most urgent come first, so every list waits for every count. The lists are the same."""
    from monitor import plan, source_job
    from monitor.sources import opencitations as source
    from tests.fakeapi.routes import opencitations

    monkeypatch.setattr(source_job, "CHUNK_REQUESTS", 2)
    monkeypatch.setattr(source_job, "CHUNK_WORKS", (2, 2))
    works = [Work(DEFAULT_DOI)] + [Work(f"10.9999/beside.{i}") for i in range(3)]
    for work in works[1:]:
        fake_api.records[opencitations.CITING][work.doi] = fake_api.records[opencitations.CITING][DEFAULT_DOI]
        opencitations.set_count(fake_api, work.doi, 3)
    listed_meanwhile = []
    count = source.fetch

    def slow_second_chunk(asked, session):
        if asked[0].doi == works[2].doi:  # waits for a list: there is one only if lists go beside
            listed_meanwhile.append(seen_within(lambda: fake_api.hits("opencitations", "/citations/"), 2.0))
        return count(asked, session)

    monkeypatch.setattr(source, "fetch", slow_second_chunk)
    config = load_config(write_config(only=("opencitations",)), environ={})
    part = plan.SourcePlan("opencitations", tuple(works), 4, 4, (), 0.0, 100, 1, lists_stored=not first)
    delivered = []
    with make_client(None, config.http) as client:
        session = source_job.session_for(config.sources["opencitations"], client, config)
        result = source_job.run_source(config.sources["opencitations"], part, session, config, delivered.append, lambda dois: {})
    assert listed_meanwhile == [first]
    listed = sorted(listing.doi for report in delivered for listing in report.citing)
    assert listed == sorted(w.doi for w in works) and result.lists == 4  # each once, none lost
    assert len(fake_api.hits("opencitations", "/citations/")) == 4


def seen_within(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_sources_end_queues_only_once_the_lists_it_asked_beside_its_counts_are_taken():
    """Those lists queue apart (their own turns in the fair queue); were the source's end
    taken before them, the run would end that source, and maybe the run, without them."""
    from monitor.fair_queue import FairQueue
    from monitor.models import SourceReport, SourceResult

    run = collect._Run.__new__(collect._Run)
    run.chunks, run.stopping = FairQueue(3), threading.Event()
    beside = SourceReport("semanticscholar", (), (), beside=True)
    counts = SourceReport("semanticscholar", (), ())
    run._put(counts)
    run._put(beside)
    assert collect._source_of(beside) != collect._source_of(counts)  # apart: the counts keep their turns
    ended = threading.Thread(target=run._put, args=(collect._Finished(SourceResult("semanticscholar", Outcome.OK)),))
    ended.start()
    ended.join(0.3)
    assert ended.is_alive() and run.chunks.size == 2  # held while the lists wait
    assert [run.chunks.get(timeout=1) for _ in range(2)] == [counts, beside]
    ended.join(5)
    assert not ended.is_alive() and isinstance(run.chunks.get(timeout=1), collect._Finished)


def test_chunks_handed_over_during_the_check_wait_on_disk_while_the_sources_go_on(
    write_config, fake_api, monkeypatch
):
    """While ``quick_check`` reads the database (a minute at 5 GB), a settled run's sources
    go on asking past the store's queue: what they hand over waits in a file beside the
    database, not in memory, and every chunk is stored once the check has passed, none
    before."""
    from monitor import database, source_job, spool

    monkeypatch.setattr(source_job, "CHUNK_REQUESTS", 2)
    monkeypatch.setattr(source_job, "CHUNK_WORKS", (2, 2))  # Dimensions: a chunk of 2 works
    monkeypatch.setattr(collect, "QUEUED_CHUNKS", 1)
    works = [f"10.9999/held.{i}" for i in range(12)]
    collect.run(load_config(write_config(works=works, only=("openalex",)), environ={}))  # the works stored
    config = load_config(write_config(works=works, only=("dimensions",)), environ={})
    on_disk = []
    put = spool.Spool.put
    monkeypatch.setattr(spool.Spool, "put", lambda self, item: on_disk.append(self.on_disk(item)) or put(self, item))
    seen = []
    check = database.quick_check

    def slow_check(conn, path):
        try:  # every work asked while the check runs: 6 chunks, where 1 fits the queue
            wait_for(lambda: len(fake_api.hits("dimensions")) == len(works), timeout=30)
        except AssertionError:
            pass
        seen.append((len(fake_api.hits("dimensions")), len(db_rows(path, "SELECT id FROM runs"))))
        check(conn, path)

    monkeypatch.setattr(database, "quick_check", slow_check)
    [result] = collect.run(config).sources
    assert seen == [(len(works), 1)]  # all asked during the check; this run not stored yet
    assert on_disk.count(True) >= 5  # chunks held in the file, the queue holding one more
    assert (result.outcome, result.asked) == (Outcome.NOT_FOUND, len(works))  # unknown to the fake, each
    rows = db_rows(config.database, "SELECT run_id FROM observations WHERE source = 'dimensions'")
    assert sorted(r["run_id"] for r in rows) == [2] * len(works)  # each stored, once, by this run


LAST = "10.9999/counted.last"  # a work without a PMID, whose Europe PMC count a test holds


def hold_europepmc_on_the_last_work(monkeypatch) -> threading.Event:
    """Chunks of one work; Europe PMC's count of ``LAST`` waits until the event is set."""
    from monitor import source_job
    from monitor.sources import europepmc

    monkeypatch.setattr(source_job, "chunk_size", lambda source: 1)
    monkeypatch.setattr(collect, "chunk_size", lambda source: 1)  # the followers' chunks too
    release = threading.Event()
    fetch = europepmc.fetch

    def held(works, session):
        if any(w.doi == LAST for w in works):
            release.wait(30)
        return fetch(works, session)

    monkeypatch.setattr(europepmc, "fetch", held)
    return release


def run_in_thread(config) -> tuple[threading.Thread, list]:
    done: list = []
    run = threading.Thread(target=lambda: done.append(collect.run(config)))
    run.start()
    return run, done


def test_pmid_sources_follow_the_providers_counts_work_by_work(write_config, fake_api, monkeypatch):
    """iCite asks about a work once both providers have counted it, with the PMID OpenAlex
    gave, while Europe PMC still counts the works after it (at 100,000 works, waiting for
    every count left iCite and PubMed to the run's last 110 s)."""
    release = hold_europepmc_on_the_last_work(monkeypatch)
    config = load_config(write_config(works=[DEFAULT_DOI, LAST], only=("openalex", "europepmc", "icite")), environ={})
    run, done = run_in_thread(config)
    try:
        wait_for(lambda: fake_api.hits("icite"), timeout=20)
        assert not done and not release.is_set()  # Europe PMC's count of the last work still held
    finally:
        release.set()
        run.join(60)
    assert [r.arg("pmids") for r in fake_api.hits("icite")] == ["33930000"]  # the last work has none
    assert {r.source: r.asked for r in done[0].sources} == {"openalex": 2, "europepmc": 2, "icite": 2}
    rows = db_rows(config.database, "SELECT w.doi, o.outcome FROM observations o JOIN works w ON w.id = o.work_id "
                                    "WHERE o.source = 'icite'")
    assert {r["doi"]: r["outcome"] for r in rows} == {DEFAULT_DOI: "ok", LAST: "not_found"}


def test_a_followers_own_deadline_counts_from_its_last_works_not_its_start(write_config, fake_api, monkeypatch):
    """iCite starts with the run, following the providers' counts; when those take longer
    than a source's own deadline, iCite is still asked about the works counted: its own
    deadline counts from the last works handed to it (as it did when it started after
    them), and the run's bounds it until then."""
    from monitor import source_job
    from monitor.sources import openalex

    monkeypatch.setattr(source_job, "chunk_size", lambda source: 1)
    monkeypatch.setattr(collect, "chunk_size", lambda source: 1)
    now = [0.0]
    fetch = openalex.fetch

    def slow(works, session):  # the first count ends two minutes in, on the run's clock; the
        if works[0].doi != DEFAULT_DOI:  # second waits until iCite has asked about the first
            try:
                wait_for(lambda: fake_api.hits("icite"), timeout=10)
            except AssertionError:
                pass
        try:
            return fetch(works, session)
        finally:
            now[0] += 120

    monkeypatch.setattr(openalex, "fetch", slow)
    config = load_config(write_config(works=[DEFAULT_DOI, "10.9999/counted.second"], only=("openalex", "icite"),
                                      http={"source_deadline_minutes": 1}, extra="[citing]\nenabled = false\n"),
                         environ={})
    summary = collect.run(config, clock=lambda: now[0], sleep=lambda _: None)
    assert {r.source: r.asked for r in summary.sources} == {"openalex": 2, "icite": 2}
    assert [r.arg("pmids") for r in fake_api.hits("icite")] == ["33930000"]
    rows = db_rows(config.database, "SELECT w.doi, o.outcome FROM observations o JOIN works w ON w.id = o.work_id "
                                    "WHERE o.source = 'icite'")
    assert {r["doi"]: r["outcome"] for r in rows} == {DEFAULT_DOI: "ok", "10.9999/counted.second": "not_found"}


def test_where_the_followers_plans_differ_they_wait_for_every_count(write_config, fake_api, monkeypatch):
    """Where iCite's and PubMed's plans ask about different works (``Following.possible``
    false: budgets), neither follows: each waits until the providers have counted every
    work, then asks with the PMIDs stored meanwhile."""
    from monitor import following

    monkeypatch.setattr(following.Following, "possible", staticmethod(lambda plans: False))
    release = hold_europepmc_on_the_last_work(monkeypatch)  # chunks of one: following, iCite would ask at once
    config = load_config(write_config(works=[DEFAULT_DOI, LAST], only=("openalex", "europepmc", "icite")), environ={})
    run, done = run_in_thread(config)
    try:
        wait_for(lambda: len(fake_api.hits("openalex")) >= 2, timeout=20)  # OpenAlex has counted both
        time.sleep(0.5)
        assert not fake_api.hits("icite")  # Europe PMC's count of the last work still held
    finally:
        release.set()
        run.join(60)
    assert [r.arg("pmids") for r in fake_api.hits("icite")] == ["33930000"]
    assert {r.source: r.asked for r in done[0].sources} == {"openalex": 2, "europepmc": 2, "icite": 2}
