"""Crossref: /works?filter=doi:a,doi:b (list envelope) and /works/{doi} (singleton)."""

from __future__ import annotations

from tests.fakeapi.server import FakeAPI, Reply, Request

# Headers the polite pool sends (fixtures:crossref/response_headers_public_vs_polite_2026-06.json).
POLITE = {"x-api-pool": "polite", "x-rate-limit-limit": "10", "x-rate-limit-interval": "1s", "x-concurrency-limit": "3"}
PUBLIC = {"x-api-pool": "public", "x-rate-limit-limit": "5", "x-rate-limit-interval": "1s", "x-concurrency-limit": "1"}


def load(fake: FakeAPI) -> None:
    fake.load_records("crossref", lambda r: r["DOI"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    works = fake.records["crossref"]
    polite = "mailto:" in request.headers.get("user-agent", "") or request.arg("mailto")
    headers = dict(POLITE if polite else PUBLIC)
    if request.path == "/works":
        clauses = (request.arg("filter") or "").split(",")
        wanted = [c.partition(":")[2].lower() for c in clauses if c.startswith("doi:")]
        items = [works[d] for d in wanted if d in works]
        rows = int(request.arg("rows", "20") or 20)
        message = {"facets": {}, "total-results": len(items), "items": items[:rows], "items-per-page": rows,
                   "query": {"start-index": 0, "search-terms": None}}
        return Reply(200, {"status": "ok", "message-type": "work-list", "message-version": "1.0.0",
                           "message": message}, headers)
    record = works.get(request.path.removeprefix("/works/").lower())
    if record is None:
        return Reply(404, "Resource not found.", headers)
    return Reply(200, {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": record}, headers)


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["crossref"][doi]["is-referenced-by-count"] = count
