"""Several requests in flight per source: a shared pace, a cap on places, a shared budget
(monitor/pacing.py, Session.map). Real threads against httpx.MockTransport; no test
measures time: places in flight are counted, paces read off the limiter."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import httpx
import pytest

from monitor import source_job
from monitor.config import HttpConfig, SourceConfig
from monitor.fetching import BudgetSpent, Session
from monitor.models import CitingList, Observation, Outcome, Work
from monitor.pacing import Gate, RateLimiter
from monitor.sources import SOURCES, dimensions, openalex
from monitor.sources.base import lookup_each
from tests.conftest import wait_for


class Server:
    """A handler that counts the requests in flight and can hold them at a barrier."""

    def __init__(self, respond=None, hold: int = 0):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.seen: list[str] = []
        self.barrier = threading.Barrier(hold, timeout=5) if hold else None
        self.respond = respond or (lambda request: httpx.Response(200, json={}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.seen.append(request.url.path)
        try:
            if self.barrier is not None:
                self.barrier.wait()  # every place taken at once, or this breaks
            return self.respond(request)
        finally:
            with self.lock:
                self.in_flight -= 1


def session(server: Server, concurrency: int, **kw) -> Session:
    source = SourceConfig("demo", True, "https://api.example.org", 1000.0, max_concurrency=concurrency)
    client = httpx.Client(transport=httpx.MockTransport(server))
    settings = HttpConfig(max_retries=1, backoff_seconds=0, max_retry_after_seconds=5)
    return Session(source, client, settings, **kw)


def test_map_keeps_max_concurrency_requests_in_flight_and_no_more():
    server = Server(hold=3)
    s = session(server, 3)
    results = list(s.map(lambda i: s.get(f"/w/{i}").status_code, range(9)))
    assert results == [200] * 9 and server.most == 3  # the barrier of 3 was met each time
    assert sorted(server.seen) == sorted(f"/w/{i}" for i in range(9))
    assert s.requests == 9


def test_results_come_back_in_the_order_asked():
    s = session(Server(), 4)
    assert list(s.map(lambda i: (s.get(f"/w/{i}"), i)[1], range(20))) == list(range(20))


def test_what_is_drained_after_a_result_is_the_answers_of_the_results_yielded_so_far():
    """So that lists stored in parts each come with their answers: none of a call in flight."""
    answered = threading.Semaphore(0)

    def call(i):
        if i == 0:  # the first result comes after the next five have their answers
            assert all(answered.acquire(timeout=5) for _ in range(5))
        s.get(f"/w/{i}")
        answered.release()
        return i

    s = session(Server(), 3)
    drained = []
    for i in s.map(call, range(8)):
        drained.append((i, [e.url.rsplit("/", 1)[1] for e in s.drain()]))
    assert drained == [(i, [str(i)]) for i in range(8)]


def test_unordered_a_slow_call_holds_up_no_other_and_each_result_comes_with_its_answers():
    """Chunks counted as they end: while the first waits for a slow answer, its place's
    neighbour goes on with every later chunk."""
    slow_one = threading.Event()

    def call(i):
        s.get(f"/w/{i}")
        if i == 0:
            assert slow_one.wait(timeout=5)
        return i

    s = session(Server(), 2)
    seen = []
    for i in s.map(call, range(6), places=2, ordered=False):
        seen.append((i, [e.url.rsplit("/", 1)[1] for e in s.drain()]))
        if i == 5:
            slow_one.set()  # the last of the others came back before the first
    assert [i for i, _ in seen] == [1, 2, 3, 4, 5, 0]
    assert seen == [(i, [str(i)]) for i, _ in seen]



def test_a_place_goes_to_the_next_item_while_a_result_waits_to_be_taken():
    """A source thread that waits to store a chunk leaves no chunk place idle: the next
    chunk starts before the finished one is handed over."""
    started = [threading.Event() for _ in range(4)]

    def call(i):
        started[i].set()
        return i

    s = session(Server(), 2)
    taken = []
    for i in s.map(call, range(4), places=2, ordered=False):
        if not taken:  # the caller holds the first result (a full store queue) ...
            assert started[2].wait(timeout=5)  # ... and the third item has started meanwhile
        taken.append(i)
    assert sorted(taken) == [0, 1, 2, 3]

def _pairs(n):
    return [(Work(f"10.5555/w.{i}"), Observation(f"10.5555/w.{i}", "openalex", Outcome.OK, citations=1,
                                                 metadata={"openalex_id": f"W{i}"})) for i in range(n)]


def _listed(work, obs):
    return CitingList(work.doi, obs.source, Outcome.OK, (), complete=True)


def test_lists_come_as_each_ends_a_long_one_holds_up_no_other():
    """A work's list read page by page (a work cited thousands of times) leaves the places
    behind it busy: the lists after it come as they end, it comes last."""
    slow_one = threading.Event()

    def fetch_citing(work, obs, session):
        if work.doi == "10.5555/w.0":
            assert slow_one.wait(timeout=5)
        return _listed(work, obs)

    s = session(Server(), 2)
    seen = []
    for unit in source_job.fetch_lists(SimpleNamespace(fetch_citing=fetch_citing), s, _pairs(6)):
        seen += [listing.doi.rsplit(".", 1)[1] for listing in unit]
        if len(seen) == 5:
            slow_one.set()  # the other five came before the first
    assert seen == ["1", "2", "3", "4", "5", "0"]


def test_openalex_queries_come_as_each_ends_a_long_one_holds_up_no_other(monkeypatch):
    slow_one = threading.Event()

    def cited_by(wanted, session, batch=0):
        if "W0" in wanted:
            assert slow_one.wait(timeout=5)
        return [_listed(work, obs) for work, obs in wanted.values()]

    monkeypatch.setattr(openalex, "CITES_PER_QUERY", 1)
    monkeypatch.setattr(openalex, "_cited_by", cited_by)
    s = session(Server(), 2)
    seen = []
    for unit in openalex.fetch_citing_batch(_pairs(6), s):
        seen += [listing.doi.rsplit(".", 1)[1] for listing in unit]
        if len(seen) == 5:
            slow_one.set()
    assert seen == ["1", "2", "3", "4", "5", "0"]


def test_a_call_drains_its_own_answers_and_those_of_the_calls_it_maps():
    """Chunks counted two at a time: each drains what its own requests (and their worker
    threads) fetched, never the other chunk's."""

    def chunk(c):
        list(s.map(lambda i: s.get(f"/w/{c}.{i}"), range(3)))  # the chunk's requests, 3 at a time
        return sorted(e.url.rsplit("/", 1)[1] for e in s.drain())

    s = session(Server(), 3)
    drained = list(s.map(chunk, range(4), places=2))
    assert drained == [[f"{c}.{i}" for i in range(3)] for c in range(4)]
    assert s.drain() == [] and s.requests == 12


def test_a_call_that_fails_still_hands_over_its_answers():
    def call(i):
        s.get(f"/w/{i}")
        raise ValueError("a parser's bug")

    s = session(Server(), 2)
    with pytest.raises(ValueError):
        list(s.map(call, range(1)))
    assert [e.url.rsplit("/", 1)[1] for e in s.drain()] == ["0"]


def test_a_servers_concurrency_limit_lowers_the_places():
    """Crossref's public pool: x-concurrency-limit: 1; after that answer, one at a time."""
    server = Server(lambda r: httpx.Response(200, json={}, headers={"x-concurrency-limit": "1"}))
    s = session(server, 3)
    s.get("/first")
    assert s.gate.limit == 1
    server.most = 0
    list(s.map(lambda i: s.get(f"/w/{i}"), range(6)))
    assert server.most == 1


def test_a_429_met_by_one_thread_slows_the_whole_source():
    paces: list[float] = []

    def respond(request):
        paces.append(s.limiter.interval)  # the pace every thread goes at, when this one went
        if len(paces) == 1:
            return httpx.Response(429, headers={"Retry-After": "0"})
        return httpx.Response(200, json={})

    server = Server(respond)
    s = session(server, 1, sleep=lambda _: None)
    floor = s.limiter.interval
    list(s.map(lambda i: s.get(f"/w/{i}"), range(3)))
    assert paces[0] == floor and paces[1] == pytest.approx(2 * floor)  # slowed by the 429
    assert paces[2] < paces[1]  # and back towards the floor as answers come
    assert s.requests == 4  # three, and the throttled one again


def test_a_pause_reaches_threads_that_already_had_their_turn():
    clock = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: clock[0], sleep=lambda s: None)
    first = limiter.reserve()
    limiter.pause(30)  # another thread met a 429 meanwhile
    assert limiter.pauses == 1 and limiter.paused_until == 30.0
    assert limiter.reserve() >= 30.0 > first



def _most_in_a_second(moments):
    return max(sum(1 for m in moments if start <= m < start + 1.0) for start in moments)


def test_moments_no_request_came_for_are_used_late_at_the_floors_pace():
    """Every thread busy (parsing, awaiting a chunk's last answer) when a moment came: the
    next requests take the moments missed, so the source keeps its rate."""
    clock = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: clock[0], sleep=lambda s: None)
    assert limiter.reserve() == 0.0
    clock[0] = 0.5  # nobody asked at 0.1 to 0.5
    slots = [limiter.reserve() for _ in range(7)]
    assert slots[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])  # these go at once
    assert slots[5:] == pytest.approx([0.6, 0.7])  # then the pace again


def test_moments_used_late_never_make_more_requests_in_a_second_than_the_rate():
    clock = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: clock[0], sleep=lambda s: None)
    clock[0] = 60.0  # idle a long while: a second's moments at most are used late
    moments = [max(limiter.reserve(), clock[0]) for _ in range(25)]
    assert moments.count(60.0) == 10
    assert _most_in_a_second(moments) == 10
    clock[0] = 0.0
    slow = RateLimiter(0.5, clock=lambda: clock[0], sleep=lambda s: None)  # one every 2 s
    clock[0] = 60.0
    assert [max(slow.reserve(), clock[0]) for _ in range(3)] == pytest.approx([60.0, 62.0, 64.0])  # spaced still



@pytest.mark.parametrize("rate", [1.5, 2.5, 10.0 / 3])
def test_a_rate_not_whole_a_second_keeps_its_pace(rate):
    """A configured 1.5 a second, or a pace slowed by 429s (3 → 1.5 → 1.875 ...): the cap on
    a second's requests never holds a request back beyond its interval."""
    limiter = RateLimiter(rate, clock=lambda: 0.0, sleep=lambda s: None)
    slots = [limiter.reserve() for _ in range(12)]
    assert slots == pytest.approx([i / rate for i in range(12)])

def test_a_throttled_source_uses_no_moment_late_and_a_pause_holds_every_moment():
    clock = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: clock[0], sleep=lambda s: None)
    limiter.throttled()  # a 429: half the pace, and nothing caught up
    clock[0] = 5.0
    assert [limiter.reserve() for _ in range(2)] == pytest.approx([5.0, 5.2])
    limiter.pause(3)  # until 8.0
    clock[0] = 9.0
    limiter.recovered(), limiter.recovered(), limiter.recovered(), limiter.recovered()
    assert limiter.interval == pytest.approx(0.1)
    assert min(limiter.reserve() for _ in range(5)) >= 8.0  # no moment before the pause's end

def test_the_pace_recovers_after_throttling_but_never_passes_the_floor():
    limiter = RateLimiter(4.0, clock=lambda: 0.0, sleep=lambda s: None)
    for _ in range(10):
        limiter.throttled()
    assert limiter.interval == pytest.approx(0.25 * 8)  # slowed at most eightfold
    for _ in range(50):
        limiter.recovered()
    assert limiter.interval == pytest.approx(0.25)


def test_a_gate_refuses_after_its_timeout():
    gate = Gate(1)
    assert gate.enter(1)
    assert not gate.enter(0.01)  # full: no place within the timeout
    gate.leave()
    assert gate.enter(0.01)


def test_the_run_budget_is_shared_and_spent_requests_are_not_sent():
    server = Server(lambda r: httpx.Response(404, json={}))
    s = session(server, 3, budget=4)
    works = [Work(f"10.1234/w{i}") for i in range(7)]
    observations = lookup_each(works, s, lambda w: s.get(f"/doi/{w.doi}"), dimensions.parse_response)
    assert len(server.seen) == 4 and s.requests == 4
    assert len(observations) == 4 and {o.outcome for o in observations} == {Outcome.NOT_FOUND}
    asked = {o.doi for o in observations}
    assert s.unasked == {w.doi for w in works} - asked  # the rest keep their last observation
    with pytest.raises(BudgetSpent):
        s.get("/more")
    assert not s.stopped  # a spent budget is not a failing source


def test_lists_asked_beside_the_counts_leave_the_counts_their_part_of_the_budget():
    """A source's first lists go while it still counts (source_job): their requests, and
    those of the calls they hand to ``map``, stop short of what is ``reserved``; the
    counts' requests may take the whole budget."""
    import threading

    from monitor.fetching import beside_counts

    server = Server(lambda r: httpx.Response(200, json={}))
    s = session(server, 2, budget=6)
    s.reserved = 3

    def lists() -> list[object]:
        beside_counts.set(True)
        return list(s.map(lambda i: budgeted(lambda: s.get(f"/list/{i}")), range(5)))

    def budgeted(ask):
        try:
            return ask().status_code
        except BudgetSpent:
            return "spent"

    got: list[object] = []
    lister = threading.Thread(target=lambda: got.extend(lists()))
    lister.start()
    lister.join(10)
    assert got.count(200) == 3 and got.count("spent") == 2  # 6 less the 3 reserved
    assert [budgeted(lambda i=i: s.get(f"/count/{i}")) for i in range(4)] == [200, 200, 200, "spent"]
    assert beside_counts.get() is False  # this thread's context untouched


def test_a_list_asked_beside_the_counts_takes_only_the_pace_they_leave():
    """Its source's counts booked half a second of moments ahead: the list waits until at
    most one is booked before booking its own, so a count that comes meanwhile goes first."""
    import contextvars

    from monitor.fetching import beside_counts
    from tests.conftest import FakeClock

    clock = FakeClock()
    source = SourceConfig("demo", True, "https://api.example.org", 10.0, max_concurrency=4)
    client = httpx.Client(transport=httpx.MockTransport(Server(lambda r: httpx.Response(200, json={}))))
    s = Session(source, client, HttpConfig(max_retries=1, backoff_seconds=0), clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(5):
        s.limiter.reserve()  # the counts' moments: now and every 0.1 s to 0.4 s
    counts = []

    def sleep(seconds: float) -> None:
        if not counts:  # a count comes while the list waits
            counts.append(s.limiter.reserve() - start)
        clock.sleep(seconds)

    s.sleep = sleep

    def ask_list() -> None:
        beside_counts.set(True)
        s.get("/list")

    contextvars.copy_context().run(ask_list)
    assert counts == [pytest.approx(0.5)]  # the count booked the moment after the others
    assert clock.now - start == pytest.approx(0.6)  # and the list the one after it


def test_a_list_waiting_for_the_pace_the_counts_leave_holds_no_place_in_flight():
    """Were it to wait in a place, the lists (many at once) would leave none to the counts."""
    import contextvars

    from monitor.fetching import beside_counts

    source = SourceConfig("demo", True, "https://api.example.org", 100.0, max_concurrency=1)
    client = httpx.Client(transport=httpx.MockTransport(Server(lambda r: httpx.Response(200, json={}))))
    s = Session(source, client, HttpConfig(max_retries=1, backoff_seconds=0))
    for _ in range(60):
        s.limiter.reserve()  # the counts booked 0.6 s ahead

    def ask_list() -> None:
        beside_counts.set(True)
        s.get("/list")

    lister = threading.Thread(target=contextvars.copy_context().run, args=(ask_list,))
    lister.start()
    wait_for(lambda: s._beside.locked(), timeout=5)  # it waits for the pace
    assert s.gate.enter(0)  # and the one place in flight is free for a count
    s.gate.leave()
    lister.join(10)
    assert s.requests == 1


@pytest.mark.parametrize("concurrency, chunks", [(2, 2), (20, 3), (64, 3)])
def test_a_source_allowed_many_requests_at_once_asks_more_chunks_at_once(concurrency, chunks):
    """Scopus's chunks are 400 works, 16 requests: two of them keep 2 places busy, not 20."""
    from monitor.source_job import CHUNK_WORKS, chunk_size, counting_chunks

    scopus = SourceConfig("scopus", True, "https://api.elsevier.com", 20.0, max_concurrency=concurrency)
    assert chunk_size(scopus) == CHUNK_WORKS[0]  # a batched source's bound: 16 requests of 25
    assert counting_chunks(scopus) == chunks


@pytest.mark.parametrize("concurrency", [1, 4, 64])
@pytest.mark.parametrize("name", list(SOURCES))
def test_a_chunk_is_never_smaller_than_two_requests_of_its_source(name, concurrency):
    """Semantic Scholar asks 500 works a request: chunks of 400 cost it 25 requests where 20
    do, and a chunk of one request takes one of the store's turns for a single answer."""
    from monitor.source_job import CHUNK_WORKS, chunk_size

    spec = SOURCES[name].SPEC
    source = SourceConfig(name, True, "https://example.org", 10.0, max_concurrency=concurrency)
    size = chunk_size(source)
    assert size >= 2 * spec.batch_size
    assert size == 2 * spec.batch_size or size <= CHUNK_WORKS[0 if spec.batched else 1]  # else within the bound
