"""The fault matrix: a hostile server, behaviour by behaviour, source by source.

Each case is a real run (``collect.run``, real SQLite, real loopback HTTP) of one target
source beside a bystander (Crossref, or OpenAlex when Crossref is the target), with the
target's server misbehaving on every request. Each asserts the outcome stored, that no
count is stored for a failure, that the bystander is untouched, and that the run ends
within its deadline. Waits (Retry-After, backoff) go through a fake clock, so they cost
no time; only the cases where the socket itself must give up take real time, with the
target's ``timeout_seconds`` short.
"""

from __future__ import annotations

import copy
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from monitor import collect
from monitor.config import load_config
from tests.conftest import DEFAULT_DOI, FakeClock
from tests.fakeapi import FakeAPI, Fault

PMID = "33930000"
KEYS = {"SCOPUS_API_KEY": "test-scopus-key", "ALTMETRIC_API_KEY": "test-altmetric-key"}
OTHER = "10.9999/another-work"
SLOW = 0.25  # the target's timeout_seconds in the cases where the socket must give up
HTML = b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

# Sources by the shape of what they answer: a batch of JSON, a POSTed batch, one JSON
# record per work, a list per work, XML.
JSON_BATCH = ("openalex", "crossref", "europepmc")
ALL = ("openalex", "crossref", "semanticscholar", "opencitations", "europepmc", "icite",
       "pubmed", "dimensions", "unpaywall", "scopus", "altmetric")
SOME = ("openalex", "semanticscholar", "dimensions", "pubmed")
PAIR = ("openalex", "dimensions")  # a batch and a per-work source, for the rarer behaviours
PER_WORK = ("dimensions", "unpaywall", "altmetric", "opencitations")


def expected_count(fake: FakeAPI, source: str) -> int | None:
    """What the fake's own records say the count is (None: a source without counts)."""
    records = fake.records[source]
    return {
        "openalex": lambda: records[DEFAULT_DOI]["cited_by_count"],
        "crossref": lambda: records[DEFAULT_DOI]["is-referenced-by-count"],
        "semanticscholar": lambda: records[DEFAULT_DOI]["citationCount"],
        "opencitations": lambda: int(records[DEFAULT_DOI][0]["count"]),
        "europepmc": lambda: records[DEFAULT_DOI]["citedByCount"],
        "icite": lambda: records[PMID]["citation_count"],
        "pubmed": lambda: len(records[PMID]["cited_by"]),
        "dimensions": lambda: records[DEFAULT_DOI]["times_cited"],
        "scopus": lambda: int(records[DEFAULT_DOI]["citedby-count"]),
        "unpaywall": lambda: None,
        "altmetric": lambda: None,
    }[source]()


# --- answers for another work, per source ---


def _wrong_doi(source: str) -> Callable[[Any], Any]:
    def openalex(page):
        page["results"][0]["doi"] = f"https://doi.org/{OTHER}"
        return page

    def crossref(body):
        body["message"]["items"][0]["DOI"] = OTHER
        return body

    def europepmc(body):
        body["resultList"]["result"][0]["doi"] = OTHER
        return body

    def scopus(body):
        body["search-results"]["entry"][0]["prism:doi"] = OTHER
        return body

    def icite(body):
        body["data"][0]["pmid"] = "11111111"
        return body

    def pubmed(body):
        return body.replace(f"<Id>{PMID}</Id>", "<Id>11111111</Id>", 1)

    def flat(record):
        return {**record, "doi": OTHER}

    return {"openalex": openalex, "crossref": crossref, "europepmc": europepmc, "scopus": scopus,
            "icite": icite, "pubmed": pubmed, "dimensions": flat, "unpaywall": flat,
            "altmetric": flat}[source]


def _reversed(source: str) -> Callable[[Any], Any]:
    def openalex(page):
        page["results"].reverse()
        return page

    def semanticscholar(answer):
        return answer[::-1] if isinstance(answer, list) else answer

    def europepmc(body):
        body["resultList"]["result"].reverse()
        return body

    return {"openalex": openalex, "semanticscholar": semanticscholar, "europepmc": europepmc}[source]


def _duplicated(source: str) -> Callable[[Any], Any]:
    def openalex(page):
        page["results"] = page["results"] * 2
        return page

    def crossref(body):
        body["message"]["items"] = body["message"]["items"] * 2
        return body

    def europepmc(body):
        body["resultList"]["result"] = body["resultList"]["result"] * 2
        return body

    return {"openalex": openalex, "crossref": crossref, "europepmc": europepmc}[source]


def _second_work(fake: FakeAPI, source: str) -> None:
    """A second work the target knows, counted differently, for out-of-order answers."""
    if source == "semanticscholar":
        other = copy.deepcopy(fake.records[source][DEFAULT_DOI])
        other.update(paperId="f" * 40, citationCount=101, externalIds={"DOI": OTHER})
    elif source == "openalex":
        other = copy.deepcopy(fake.records[source][DEFAULT_DOI])
        other.update(id="https://openalex.org/W1", doi=f"https://doi.org/{OTHER}", cited_by_count=101)
    else:
        other = copy.deepcopy(fake.records[source][DEFAULT_DOI])
        other.update(doi=OTHER, citedByCount=101, id="1", pmid="1")
    fake.records[source][OTHER] = other


# --- the behaviours ---


def by_source(default: str, **special: str) -> Callable[[str], str]:
    return lambda source: special.get(source, default)


# 404 is "not indexed" where a work is looked up alone; a failure where a batch or a list is asked.
NOT_FOUND_OR_ERROR = by_source("error", dimensions="not_found", unpaywall="not_found",
                               altmetric="not_found")


@dataclass(frozen=True)
class Case:
    name: str
    faults: Callable[[FakeAPI, str], None]
    expect: Callable[[str], str]
    sources: tuple[str, ...] = SOME
    message: str = ""  # a part of the stored message
    slow: bool = False  # the socket must give up: a short timeout for the target
    two_works: bool = False


def always(**kw: Any) -> Callable[[FakeAPI, str], None]:
    return lambda fake, api: fake.inject(api, Fault(times=None, **kw))


def then(*faults: Fault) -> Callable[[FakeAPI, str], None]:
    def inject(fake: FakeAPI, api: str) -> None:
        for fault in faults:
            fake.inject(api, copy.deepcopy(fault))

    return inject


def http_date(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


ERROR, OK = by_source("error"), by_source("ok")
RATE_LIMITED, EXHAUSTED = by_source("rate_limited"), by_source("quota_exhausted")

CASES = [
    # slow and stalled servers: the socket gives up by the deadline
    Case("drip-body", always(drip=0.1), ERROR, ALL, "timed out", slow=True),
    Case("drip-headers", always(drip=0.1, drip_headers=True), ERROR, SOME, "timed out", slow=True),
    Case("stall-before-headers", always(delay=3), ERROR, SOME, "timed out", slow=True),
    Case("stall-mid-body", always(stall=3), ERROR, PAIR, "timed out", slow=True),
    Case("endless-body", always(endless=True), ERROR, PAIR, "timed out", slow=True),
    Case("announced-but-never-sent", always(announce=100_000), ERROR, PAIR, "timed out", slow=True),
    Case("enormous-announced-body", always(announce=10**12), ERROR, PAIR, "announces"),
    # throttling
    Case("429-no-retry-after", always(status=429, body=b"Too Many Requests"), RATE_LIMITED, SOME),
    Case("429-retry-after-0", always(status=429, headers={"Retry-After": "0"}), RATE_LIMITED, PAIR),
    Case("429-retry-after-seconds", always(status=429, headers={"Retry-After": "3"}), RATE_LIMITED, PAIR),
    Case("429-retry-after-http-date",
         lambda fake, api: fake.inject(api, Fault(status=429, headers={"Retry-After": http_date(2)}, times=None)),
         RATE_LIMITED, PAIR),
    Case("429-retry-after-huge", always(status=429, headers={"Retry-After": "86400"}), EXHAUSTED, ALL,
         "more than the cap"),
    Case("429-retry-after-far-date",
         lambda fake, api: fake.inject(api, Fault(status=429, headers={"Retry-After": http_date(86400)}, times=None)),
         EXHAUSTED, PAIR, "more than the cap"),
    Case("429-retry-after-garbage", always(status=429, headers={"Retry-After": "soon"}), RATE_LIMITED, PAIR),
    Case("429-retry-after-negative", always(status=429, headers={"Retry-After": "-5"}), RATE_LIMITED, PAIR),
    Case("429-then-ok", then(Fault(status=429, headers={"Retry-After": "1"})), OK, SOME),
    Case("quota-spent-in-headers", always(status=429, headers={"X-RateLimit-Remaining": "0",
                                                               "X-RateLimit-Reset": "90000"}),
         EXHAUSTED, PAIR, "quota is spent"),
    # server errors
    Case("500", always(status=500), ERROR, ALL, "HTTP 500"),
    Case("502-html", always(status=502, body=HTML, headers={"Content-Type": "text/html"}), ERROR, PAIR),
    Case("503-retry-after", always(status=503, headers={"Retry-After": "1"}), ERROR, PAIR, "HTTP 503"),
    Case("504", always(status=504), ERROR, PAIR),
    Case("500-then-ok", then(Fault(status=500)), OK, SOME),
    # client errors, each kind
    Case("400", always(status=400, body=b'{"error": "bad request"}'), ERROR, PAIR, "400"),
    Case("401", always(status=401, body=b"Unauthorized"),
         by_source("error", openalex="not_configured"), SOME + ("scopus", "altmetric")),
    Case("403", always(status=403, body=b"Forbidden"),
         by_source("error", openalex="not_configured"), SOME + ("scopus", "altmetric")),
    Case("404", always(status=404, body=b"Not Found"), NOT_FOUND_OR_ERROR,
         ("openalex", "crossref", "pubmed") + PER_WORK),
    Case("405", always(status=405), ERROR, PAIR),
    Case("410", always(status=410), ERROR, ("openalex", "dimensions")),
    Case("413", always(status=413), ERROR, ("openalex", "semanticscholar")),
    Case("414", always(status=414), ERROR, ("openalex", "crossref")),
    Case("422", always(status=422, body=b'{"message": "unprocessable"}'), ERROR,
         ("unpaywall", "openalex")),
    # broken answers
    Case("truncated-body", always(truncate=True), ERROR, SOME),
    Case("dropped-connection", always(drop=True), ERROR, SOME, "cannot connect"),
    Case("dropped-then-ok", then(Fault(drop=True)), OK, PAIR),
    Case("malformed-json", always(malformed=True), ERROR, ALL),
    Case("html-error-page-200", always(body=HTML, headers={"Content-Type": "text/html"}), ERROR, SOME),
    Case("empty-body-200", always(body=b""), ERROR, SOME),
    Case("json-of-the-wrong-shape", always(body=b'{"unexpected": true}'), ERROR, SOME),
    Case("json-null", always(body=b"null"), ERROR, PAIR),
    Case("not-utf8", always(body=b'{"results": "\xff\xfe"}'), ERROR, ("openalex", "dimensions")),
    Case("false-gzip", always(headers={"Content-Encoding": "gzip"}), ERROR, PAIR),
    Case("wrong-content-type", always(headers={"Content-Type": "text/html"}), OK, PAIR),
    Case("redirect-loop", lambda fake, api: fake.inject(api, Fault(status=302, headers={"Location": f"/{api}/loop"}, times=None)),
         ERROR, PAIR, "redirect"),
    Case("negative-count", lambda fake, api: _set_count(fake, api, -3), ERROR,
         ("crossref", "semanticscholar"), "negative"),
    Case("absurd-count", lambda fake, api: _set_count(fake, api, 10**30), ERROR,
         ("openalex", "dimensions"), "not a plausible count"),
    Case("count-of-the-wrong-type", lambda fake, api: _set_count(fake, api, "many"), ERROR, PAIR),
    # answers about another work, out of order, duplicated
    Case("wrong-work", lambda fake, api: fake.inject(api, Fault(rewrite=_wrong_doi(api), times=None)),
         ERROR, ("openalex", "crossref", "europepmc", "scopus", "icite", "pubmed", "dimensions",
                 "unpaywall", "altmetric"), "answered for another work"),
    Case("wrong-work-batch-only", lambda fake, api: fake.inject(
        api, Fault(rewrite=lambda answer: [{**answer[0], "paperId": "f" * 40,
                                            "citationCount": 101, "externalIds": {"DOI": OTHER}}])),
         OK, ("semanticscholar",)),
    Case("out-of-order-batch", lambda fake, api: fake.inject(api, Fault(rewrite=_reversed(api))),
         OK, ("semanticscholar", "openalex", "europepmc"), two_works=True),
    Case("duplicate-records", lambda fake, api: fake.inject(api, Fault(rewrite=_duplicated(api))),
         OK, JSON_BATCH),
    Case("europepmc-error-inside-200", always(body=b'{"errCode": 500, "errMsg": "Query syntax error"}'),
         ERROR, ("europepmc",), "Europe PMC error 500"),
    Case("pubmed-error-element", always(body=b"<eLinkResult><ERROR>Invalid API key</ERROR></eLinkResult>"),
         ERROR, ("pubmed",), "Invalid API key"),
    Case("opencitations-zero-unknown", lambda fake, api: _unknown_to_opencitations(fake),
         by_source("not_found"), ("opencitations",), "OpenCitations Meta has no record"),
]


def _unknown_to_opencitations(fake: FakeAPI) -> None:
    """The index counts 0 for a DOI it never saw, and Meta has no record of it."""
    from tests.fakeapi.routes import opencitations

    fake.records["opencitations"].pop(DEFAULT_DOI)
    fake.records[opencitations.META].pop(DEFAULT_DOI)


def _set_count(fake: FakeAPI, source: str, value: Any) -> None:
    field_name = {"openalex": "cited_by_count", "crossref": "is-referenced-by-count",
                  "dimensions": "times_cited", "semanticscholar": "citationCount"}[source]
    fake.records[source][DEFAULT_DOI][field_name] = value


PARAMS = [pytest.param(case, source, id=f"{case.name}-{source}") for case in CASES for source in case.sources]


def test_the_matrix_has_fifty_behaviours():
    assert len(CASES) >= 50 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case, source", PARAMS)
def test_a_hostile_server(case: Case, source: str, write_config, fake_api, tmp_path, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    bystander = "openalex" if source == "crossref" else "crossref"
    works: list[Any] = [{"doi": DEFAULT_DOI, "pmid": PMID}]
    if case.two_works:
        _second_work(fake_api, source)
        works.append(OTHER)
    overrides = {source: {"timeout_seconds": SLOW}} if case.slow else {}
    config = load_config(
        write_config(works=works, only=(source, bystander), sources=overrides,
                     http={"max_retries": 1, "max_retry_after_seconds": 5}),
        environ=dict(KEYS),
    )
    expected_ok = {s: expected_count(fake_api, s) for s in (source, bystander)}
    case.faults(fake_api, source)
    clock = FakeClock()
    started = time.monotonic()
    summary = collect.run(config, clock=clock, sleep=clock.sleep)
    elapsed = time.monotonic() - started

    rows = observations(tmp_path)
    outcome = case.expect(source)
    got = rows[(DEFAULT_DOI, source)]
    assert got["outcome"] == outcome, got["message"]
    if outcome == "ok":
        assert got["citations"] == expected_ok[source]  # never another work's count
    else:
        assert got["citations"] is None and got["message"]
        assert case.message in got["message"]
        assert not ok_counts(tmp_path, source)
    if case.two_works:
        assert rows[(OTHER, source)]["citations"] == 101
    # the other source is untouched
    other = rows[(DEFAULT_DOI, bystander)]
    assert (other["outcome"], other["citations"]) == ("ok", expected_ok[bystander])
    # the run ends within its deadline: waits within the source's allowance, the socket
    # giving up after at most two attempts
    assert sum(clock.slept) <= config.http.max_retry_after_seconds + 0.1
    attempts = config.http.max_retries + 1
    bound = attempts * (SLOW if case.slow else config.http.timeout_seconds) * 2 + 5
    assert elapsed < bound, f"{elapsed:.1f} s"
    assert summary.finished_at is not None


def observations(tmp_path) -> dict[tuple[str, str], sqlite3.Row]:
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.row_factory = sqlite3.Row
    rows = conn.execute(
        "SELECT w.doi, o.* FROM observations o JOIN works w ON w.id = o.work_id"
    ).fetchall()
    conn.close()
    return {(r["doi"], r["source"]): r for r in rows}


def ok_counts(tmp_path, source: str) -> list[Any]:
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    rows = conn.execute(
        "SELECT citations FROM count_history WHERE source = ?", [source]
    ).fetchall()
    conn.close()
    return rows
