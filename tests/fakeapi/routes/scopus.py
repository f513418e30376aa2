"""Scopus Search API: /content/search/scopus?query=DOI("a") OR DOI("b") with X-ELS-APIKey.

A DOI is read quoted, as Scopus's search guide writes it; unquoted, its parentheses,
``+`` or spaces are query syntax: the fake refuses such a query (400), as a search
engine refuses unbalanced syntax.

The envelope and the empty answer follow lagotto's recorded Scopus fixtures
(spec/fixtures/scopus.json, scopus_nil.json): a match is an ``entry`` list, no
match is one entry ``{"error": "Result set was empty"}`` with totalResults "0".
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakeapi.server import FakeAPI, Reply, Request

# A refused key, in the shape public Scopus clients test against.
REFUSED = {
    "service-error": {
        "status": {
            "statusCode": "AUTHORIZATION_ERROR",
            "statusText": "The requestor is not authorized to access the requested view or fields of the resource",
        }
    }
}
# Quota headers as Elsevier sends them (X-RateLimit-Reset is epoch milliseconds).
QUOTA = {
    "X-RateLimit-Limit": "20000",
    "X-RateLimit-Remaining": "19996",
    "X-RateLimit-Reset": "1795000000000",
}
_QUOTED = re.compile(r'DOI\("((?:[^"\\]|\\.)*)"\)')
# Keys the fake accepts; any other key is refused.
KEYS = {"test-scopus-key"}


def load(fake: FakeAPI) -> None:
    fake.load_records("scopus", lambda r: r["prism:doi"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.path != "/content/search/scopus":
        return Reply(404, "Resource not found")
    if request.headers.get("x-els-apikey") not in KEYS:
        return Reply(401, REFUSED)
    query = request.arg("query") or ""
    clauses = [clause.strip() for clause in query.split(" OR ")]
    if not all(_QUOTED.fullmatch(c) for c in clauses):
        return Reply(400, {"service-error": {"status": {"statusCode": "INVALID_INPUT",
                                                        "statusText": "Error translating query"}}})
    wanted = [_QUOTED.fullmatch(c).group(1).replace('\\"', '"').lower() for c in clauses]  # type: ignore[union-attr]
    count = int(request.arg("count", "25") or 25)
    matched = [fake.records["scopus"][d] for d in wanted if d in fake.records["scopus"]]
    found = matched[:count]
    entries: list[Any] = found or [{"@_fa": "true", "error": "Result set was empty"}]
    return Reply(
        200,
        {
            "search-results": {
                "opensearch:totalResults": str(len(matched)),  # every match, not just this page
                "opensearch:startIndex": "0",
                "opensearch:itemsPerPage": str(len(found)),
                "opensearch:Query": {"@role": "request", "@searchTerms": query, "@startPage": "0"},
                "link": [
                    {
                        "@_fa": "true",
                        "@ref": "self",
                        "@href": "https://api.elsevier.com/content/search/scopus",
                        "@type": "application/json",
                    }
                ],
                "entry": entries,
            }
        },
        dict(QUOTA),
    )


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["scopus"][doi]["citedby-count"] = str(count)
