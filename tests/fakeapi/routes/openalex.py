"""OpenAlex: /works?filter=doi:a|b (list envelope: the tracked works' lookup, and the
batched lookup that names citing works, monitor.enrich), /works?filter=cites:W…&cursor=…
(the citing works, cursor paging) and /works/doi:X (singleton)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

# The HTML body OpenAlex sends for an unknown id (fixtures:openalex/error_404_not_found_html.txt).
NOT_FOUND_HTML = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server.</p>\n"
)


CITING = "openalex_citing"  # records[CITING]["W3139000000"]: the citing works, in order
HEADERS = {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "99990"}


def load(fake: FakeAPI) -> None:
    # A work record per DOI; ``citing_`` files hold a list page of the works citing a work,
    # found by the OpenAlex id of that work's record.
    lists = {}
    for path in sorted((CONSTRUCTED / "openalex").glob("*.json")):
        body = json.loads(path.read_text())
        if path.name.startswith("citing_"):
            lists[path.stem.removeprefix("citing_").replace("_", "/", 1)] = body["results"]
        else:
            fake.records["openalex"][body["doi"].removeprefix("https://doi.org/").lower()] = body
    for doi, results in lists.items():
        work_id = fake.records["openalex"][doi]["id"].rsplit("/", 1)[1]
        fake.records[CITING][work_id] = results
        for result in results:  # OpenAlex knows the works it lists: a lookup by DOI finds them
            fake.records["openalex"].setdefault(_bare(result["doi"]), result)


def handle(fake: FakeAPI, request: Request) -> Reply:
    works = fake.records["openalex"]
    if request.path == "/works":
        cited = _clause(request.arg("filter") or "", "cites")
        if cited is not None:
            return _citing(fake, request, cited)
        wanted = _dois(request.arg("filter") or "")
        results = [works[d] for d in wanted if d in works]
        per_page = int(request.arg("per_page", "25") or 25)
        return Reply(
            200,
            {
                "meta": {
                    "count": len(results),
                    "db_response_time_ms": 12,
                    "page": 1,
                    "per_page": per_page,
                    "groups_count": None,
                },
                "results": results[:per_page],
                "group_by": [],
            },
            HEADERS,
        )
    if request.path.startswith("/works/doi:"):
        record = works.get(request.path.removeprefix("/works/doi:").lower())
        if record is not None:
            return Reply(200, record)
    return Reply(404, NOT_FOUND_HTML, {"Content-Type": "text/html; charset=utf-8"})


def _citing(fake: FakeAPI, request: Request, cited: str) -> Reply:
    """A cursor page of the works citing ``cited``. As the paging guide says, every page
    with results has a ``next_cursor``; the page after the last one is empty, with null."""
    everything = fake.records[CITING].get(cited.removeprefix("https://openalex.org/"), [])
    per_page = int(request.arg("per_page", "25") or 25)
    cursor = request.arg("cursor")
    if cursor is None:  # basic paging: no next_cursor in meta (as the recorded list page)
        number = int(request.arg("page", "1") or 1)
        start, meta = (number - 1) * per_page, {"page": number}
    else:
        start = 0 if cursor == "*" else int(base64.urlsafe_b64decode(cursor).decode())
        page = everything[start : start + per_page]
        meta = {"page": None, "next_cursor": _cursor(start + len(page)) if page else None}
    return Reply(
        200,
        {
            "meta": {
                "count": len(everything),
                "db_response_time_ms": 9,
                "per_page": per_page,
                "groups_count": None,
                **meta,
            },
            "results": everything[start : start + per_page],
            "group_by": [],
        },
        HEADERS,
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _clause(filter_value: str, name: str) -> str | None:
    for clause in filter_value.split(","):
        key, _, value = clause.partition(":")
        if key == name:
            return value
    return None


def _dois(filter_value: str) -> list[str]:
    values = _clause(filter_value, "doi")
    if values is None:
        return []
    return [_bare(v) for v in values.split("|")]


def _bare(doi: str) -> str:
    return doi.removeprefix("https://doi.org/").lower()


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    record: dict[str, Any] = fake.records["openalex"][doi]
    record["cited_by_count"] = count
