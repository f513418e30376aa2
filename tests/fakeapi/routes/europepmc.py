"""Europe PMC: /search?query=DOI:"a" OR DOI:"b"&format=json (the search envelope)."""

from __future__ import annotations

import re

from tests.fakeapi.server import FakeAPI, Reply, Request

_DOI_CLAUSE = re.compile(r'DOI:"([^"]+)"', re.IGNORECASE)


def load(fake: FakeAPI) -> None:
    fake.load_records("europepmc", lambda r: r["doi"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.path != "/search":
        return Reply(404, "Not Found", {"Content-Type": "text/plain"})
    records = fake.records["europepmc"]
    query = request.arg("query") or ""
    page_size = int(request.arg("pageSize", "25") or 25)
    results = [records[d.lower()] for d in _DOI_CLAUSE.findall(query) if d.lower() in records]
    # The envelope of fixtures:europepmc/search_core_cancer_pageSize25.json and search_no_results.json.
    return Reply(
        200,
        {
            "version": "6.9",
            "hitCount": len(results),
            "request": {
                "queryString": query,
                "resultType": request.arg("resultType", "lite"),
                "cursorMark": "%2A",
                "pageSize": page_size,
                "sort": "",
                "synonym": False,
            },
            "resultList": {"result": results[:page_size]},
        },
    )


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["europepmc"][doi]["citedByCount"] = count
