"""OpenAlex: /works?filter=doi:a|b (list envelope) and /works/doi:X (singleton)."""

from __future__ import annotations

from typing import Any

from tests.fakeapi.server import FakeAPI, Reply, Request

# The HTML body OpenAlex sends for an unknown id (fixtures:openalex/error_404_not_found_html.txt).
NOT_FOUND_HTML = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server.</p>\n"
)


def load(fake: FakeAPI) -> None:
    fake.load_records("openalex", lambda r: r["doi"].removeprefix("https://doi.org/").lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    works = fake.records["openalex"]
    if request.path == "/works":
        wanted = _dois(request.arg("filter") or "")
        results = [works[d] for d in wanted if d in works]
        per_page = int(request.arg("per_page", "25") or 25)
        return Reply(
            200,
            {
                "meta": {"count": len(results), "db_response_time_ms": 12, "page": 1,
                         "per_page": per_page, "groups_count": None},
                "results": results[:per_page],
                "group_by": [],
            },
            {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "99990"},
        )
    if request.path.startswith("/works/doi:"):
        record = works.get(request.path.removeprefix("/works/doi:").lower())
        if record is not None:
            return Reply(200, record)
    return Reply(404, NOT_FOUND_HTML, {"Content-Type": "text/html; charset=utf-8"})


def _dois(filter_value: str) -> list[str]:
    for clause in filter_value.split(","):
        name, _, values = clause.partition(":")
        if name == "doi":
            return [v.removeprefix("https://doi.org/").lower() for v in values.split("|")]
    return []


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    record: dict[str, Any] = fake.records["openalex"][doi]
    record["cited_by_count"] = count
