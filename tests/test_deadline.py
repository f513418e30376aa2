"""Deadlines: a request, a source and a run end by the wall clock, however servers dribble.

The two runs against a dripping server use real time (a few seconds each): what they
show is that the socket itself gives up. Everything else uses a fake clock.
"""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from monitor import collect
from monitor.config import HttpConfig, SourceConfig, load_config
from monitor.deadline import read_body, within
from monitor.fetching import FetchFailure, Session, make_client
from monitor.lock import run_lock
from monitor.models import Outcome, Work
from monitor.sources import SOURCES, dimensions
from tests.conftest import DEFAULT_DOI, FakeClock
from tests.fakeapi import Fault

KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}
DRIP = {"timeout_seconds": 2, "max_retries": 1, "backoff_seconds": 0.1}


def observations(tmp_path) -> dict[str, sqlite3.Row]:
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.row_factory = sqlite3.Row
    return {r["source"]: r for r in conn.execute("SELECT * FROM latest_counts")}


@pytest.mark.parametrize("fault", [Fault(drip=1.0, times=None), Fault(drip=1.0, drip_headers=True, times=None)],
                         ids=["body", "headers"])
def test_a_run_against_a_server_that_drips_a_byte_a_second_ends_within_seconds(
    fault, write_config, invoke, fake_api, tmp_path
):
    """The issue's case: timeout_seconds = 2 once let one request run 57 s, holding the lock.
    Every API drips; each source gives up after two attempts of 2 s and asks nothing more."""
    for api in SOURCES:
        fake_api.inject(api, fault)
    config = write_config(http=DRIP)
    started = time.monotonic()
    result = invoke("run", "--no-report", "--config", str(config), env=KEYS)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    # 2 attempts × 2 s and a backoff, sources side by side; minutes without the deadline
    assert elapsed < 20, f"the run took {elapsed:.1f} s"
    rows = observations(tmp_path)
    asked = {s for s in SOURCES if fake_api.hits(s)}
    assert asked >= {"openalex", "crossref", "dimensions", "unpaywall"}
    for source in asked:
        assert rows[source]["outcome"] == "error"
        assert rows[source]["citations"] is None  # a failure is never a count
        assert "timed out after 2s" in rows[source]["message"]
        assert len(fake_api.hits(source)) <= 2  # two attempts, then not asked again
    with run_lock(load_config(config, environ={}).database):
        pass  # the lock is free: the next cron run is not turned away


def test_a_body_dripping_past_the_deadline_is_cut_at_the_deadline(fake_api, make_session):
    fake_api.inject("dimensions", Fault(drip=0.2, times=None))
    session = make_session(dimensions, timeout_seconds=1.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(FetchFailure) as failure:
        session.get(f"/doi/{DEFAULT_DOI}")
    assert time.monotonic() - started < 1.0 + 0.5  # at most one dripped byte past it
    assert failure.value.outcome is Outcome.ERROR
    assert failure.value.message == f"timed out after 1s waiting for {session.host}"
    assert not session.exchanges  # nothing half-read is kept


def test_headers_stalled_past_the_deadline_are_cut_too(fake_api, make_session):
    fake_api.inject("dimensions", Fault(delay=3, times=None))
    session = make_session(dimensions, timeout_seconds=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(FetchFailure):
        session.get(f"/doi/{DEFAULT_DOI}")
    assert time.monotonic() - started < 1.5


def test_the_request_deadline_bounds_an_attempt_below_its_timeout(fake_api, make_session):
    fake_api.inject("dimensions", Fault(drip=0.1, drip_headers=True, times=None))
    session = make_session(dimensions, timeout_seconds=30, max_retries=3,
                           request_deadline_seconds=0.6)
    started = time.monotonic()
    with pytest.raises(FetchFailure) as failure:
        session.get(f"/doi/{DEFAULT_DOI}")
    assert time.monotonic() - started < 1.5
    assert "timed out after 0.6" in failure.value.message


def test_a_body_is_capped_by_what_its_headers_announce(fake_api, make_session):
    fake_api.inject("dimensions", Fault(announce=10**12, times=None))
    session = make_session(dimensions)
    with pytest.raises(FetchFailure) as failure:
        session.get(f"/doi/{DEFAULT_DOI}")
    assert "announces 1,000,000,000,000 bytes" in failure.value.message


def test_an_endless_body_stops_at_the_size_cap(fake_api, make_session):
    fake_api.inject("dimensions", Fault(endless=True, times=None))
    session = make_session(dimensions, timeout_seconds=5)
    session.max_body_bytes = 20_000
    with pytest.raises(FetchFailure) as failure:
        session.get(f"/doi/{DEFAULT_DOI}")
    assert "passed the 20,000 bytes we keep" in failure.value.message


def test_read_body_stops_at_its_deadline_without_a_bounded_socket():
    """The body check stands alone where a transport has no network backend to bound."""
    def drip():
        for _ in range(5):
            time.sleep(0.05)
            yield b"x"

    response = httpx.Response(200, content=drip(), request=httpx.Request("GET", "https://x.org/"))
    with pytest.raises(httpx.ReadTimeout):
        read_body(response, time.monotonic() + 0.08, 1000)


def test_within_takes_the_nearer_of_two_deadlines():
    from monitor import deadline

    with within(time.monotonic() + 100), within(time.monotonic() + 1):
        assert deadline._local.deadline - time.monotonic() < 2
    assert getattr(deadline._local, "deadline", None) is None


# --- waits, with a fake clock ---


def throttled(seconds: str):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": seconds}, text="slow down")

    return handler, calls


def fake_session(handler, clock: FakeClock, deadline: float | None = None, **http) -> Session:
    settings = HttpConfig(**{"max_retries": 3, "max_retry_after_seconds": 120, **http})
    source = SourceConfig("dimensions", True, "https://api.example.org", 1000.0)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Session(source, client, settings, clock=clock, sleep=clock.sleep,
                   jitter=lambda: 0.5, deadline=deadline)


def test_a_retry_after_just_under_the_cap_costs_one_allowance_not_works_times_retries():
    """8 works, each answered 429 "Retry-After: 119": once 8 × 3 × 119 s (47 min)."""
    clock = FakeClock()
    handler, calls = throttled("119")
    session = fake_session(handler, clock)
    works = [Work(f"10.1234/w{i}") for i in range(8)]
    result = dimensions.fetch(works, session)
    assert sum(clock.slept) <= 120  # the source's waiting allowance, max_retry_after_seconds
    assert len(calls) <= 4
    assert [o.outcome for o in result] == [Outcome.RATE_LIMITED] * 8
    assert all(o.citations is None for o in result)
    assert "no more retries" in result[0].message
    assert result[-1].message.startswith("not asked: dimensions failed 3 requests in a row")


def test_no_wait_sleeps_past_the_source_deadline():
    clock = FakeClock()
    handler, calls = throttled("30")
    session = fake_session(handler, clock, deadline=clock() + 45)
    with pytest.raises(FetchFailure) as failure:
        session.get("/x")
    assert sum(clock.slept) <= 45
    assert "would pass the source's deadline for this run" in failure.value.message
    with pytest.raises(FetchFailure) as later:
        session.get("/y")  # the next work may well answer: it is asked, without waiting
    assert "would pass the source's deadline" in later.value.message
    assert len(calls) == 3 and sum(clock.slept) == pytest.approx(30, abs=0.01)  # one wait of 30 s fit


def test_a_source_past_its_deadline_asks_nothing_more():
    clock = FakeClock()
    handler, calls = throttled("1")
    session = fake_session(handler, clock, deadline=clock() - 1)
    result = dimensions.fetch([Work("10.1234/a"), Work("10.1234/b")], session)
    assert not calls
    assert [o.outcome for o in result] == [Outcome.ERROR, Outcome.ERROR]
    assert "deadline" in result[1].message


def test_the_run_deadline_caps_every_source(write_config, fake_api):
    """A run whose deadline has passed when the sources start: every work is an error
    that says why, nothing is asked, and the run still ends and is stored."""
    config = load_config(write_config(only=("crossref", "dimensions")), environ={})
    readings = iter([0.0])  # the run's deadline is set at the first reading; then days pass
    summary = collect.run(config, clock=lambda: next(readings, 1e7), sleep=lambda _: None)
    for result in summary.sources:
        assert (result.outcome, result.asked) == (Outcome.ERROR, 1)
        assert "deadline" in result.message
    conn = sqlite3.connect(config.database)
    stored = conn.execute("SELECT outcome, message FROM observations").fetchall()
    conn.close()
    assert len(stored) == 2 and all(o == "error" and "deadline" in m for o, m in stored)
    assert not fake_api.hits("crossref") and not fake_api.hits("dimensions")


def test_the_client_bounds_its_connections(make_session):
    from monitor.deadline import DeadlineBackend

    client = make_client(None, HttpConfig())
    try:
        assert isinstance(client._transport._pool._network_backend, DeadlineBackend)
    finally:
        client.close()
