"""Crossref: /works?filter=doi:a,doi:b (list envelope) and /works/{doi} (singleton).

Like Crossref it refuses a request line longer than 4,092 bytes (414), and reads every
``,`` in a filter as the separator of filters: a DOI holding one becomes a filter it
does not know (400, in Crossref's validation-failure shape). A list query's ``select``
keeps the fields named, and a name it does not take is a 400 ``select-not-available``
(the shape a Crossref engineer quoted in CrossRef/rest-api-doc#302); the singleton
refuses ``select`` altogether ("This route does not support select")."""

from __future__ import annotations

from urllib.parse import unquote

from tests.fakeapi.server import FakeAPI, Reply, Request

# Headers the polite pool sends (fixtures:crossref/response_headers_public_vs_polite_2026-06.json).
POLITE = {"x-api-pool": "polite", "x-rate-limit-limit": "10", "x-rate-limit-interval": "1s", "x-concurrency-limit": "3"}
PUBLIC = {"x-api-pool": "public", "x-rate-limit-limit": "5", "x-rate-limit-interval": "1s", "x-concurrency-limit": "1"}


def load(fake: FakeAPI) -> None:
    fake.load_records("crossref", lambda r: r["DOI"].lower())


MAX_REQUEST_LINE = 4092  # bytes (apis.md §0b)
# What the API's swagger (2023) lists as selectable; a test may take names away through
# ``fake.records[SELECTABLE]["names"]`` to play a server that does not take one.
SELECTABLE = "crossref_selectable"
SWAGGER_SELECTS = frozenset({
    "DOI", "ISBN", "ISSN", "URL", "abstract", "accepted", "alternative-id", "approved", "archive",
    "article-number", "assertion", "author", "chair", "clinical-trial-number", "container-title",
    "content-created", "content-domain", "created", "degree", "deposited", "editor", "event",
    "funder", "group-title", "indexed", "is-referenced-by-count", "issn-type", "issue", "issued",
    "license", "link", "member", "original-title", "page", "posted", "prefix", "published",
    "published-online", "published-print", "publisher", "publisher-location", "reference",
    "references-count", "relation", "score", "short-container-title", "short-title",
    "standards-body", "subject", "subtitle", "title", "translator", "type", "update-policy",
    "update-to", "updated-by", "volume",
})


def _refused(message_type: str, value: str, message: str, headers: dict[str, str]) -> Reply:
    return Reply(400, {"status": "failed", "message-type": "validation-failure",
                       "message": [{"type": message_type, "value": value, "message": message}]}, headers)


def handle(fake: FakeAPI, request: Request) -> Reply:
    works = fake.records["crossref"]
    polite = "mailto:" in request.headers.get("user-agent", "") or request.arg("mailto")
    headers = dict(POLITE if polite else PUBLIC)
    if len(f"{request.method} {request.target} HTTP/1.1") > MAX_REQUEST_LINE:
        return Reply(414, "<html><body><h1>414 Request-URI Too Large</h1></body></html>",
                     {"Content-Type": "text/html"})
    if request.path == "/works":
        clauses = (request.arg("filter") or "").split(",")
        unknown = [c for c in clauses if c and c.partition(":")[0] not in ("doi", "update-type")]
        if unknown:
            return _refused("filter-not-available", unknown[0],
                            f"Filter {unknown[0]} specified but there is no such filter for this route.", headers)
        selects = [name for name in (request.arg("select") or "").split(",") if name]
        selectable = fake.records[SELECTABLE].get("names", SWAGGER_SELECTS)
        if bad := [name for name in selects if name not in selectable]:
            return _refused("select-not-available", bad[0], f"Select '{bad[0]}' specified but there is no "
                            f"such select for this route. Valid selects for this route are: {', '.join(sorted(selectable))}",
                            headers)
        wanted = [c.partition(":")[2].lower() for c in clauses if c.startswith("doi:")]
        items = [works[d] for d in wanted if d in works]
        if selects:
            items = [{k: v for k, v in item.items() if k in selects} for item in items]
        rows = int(request.arg("rows", "20") or 20)
        message = {"facets": {}, "total-results": len(items), "items": items[:rows], "items-per-page": rows,
                   "query": {"start-index": 0, "search-terms": None}}
        return Reply(200, {"status": "ok", "message-type": "work-list", "message-version": "1.0.0",
                           "message": message}, headers)
    if request.arg("select"):
        return _refused("parameter-not-allowed", "select", "This route does not support select", headers)
    record = works.get(unquote(request.path.removeprefix("/works/")).lower())
    if record is None:
        return Reply(404, "Resource not found.", headers)
    return Reply(200, {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": record}, headers)


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["crossref"][doi]["is-referenced-by-count"] = count
