"""OpenCitations Index API v2: GET /citation-count/doi:{doi} → [{"count": "N"}] and
GET /citations/doi:{doi} → every citation row in one array (no paging)."""

from __future__ import annotations

import json
from urllib.parse import unquote

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

CITING = "opencitations_citing"  # records[CITING][doi]: the /citations rows


def load(fake: FakeAPI) -> None:
    # Each file is the exact answer body; its name is the DOI with '/' written '_'
    # (counts), or ``citing_`` and the DOI (citation lists).
    for path in sorted((CONSTRUCTED / "opencitations").glob("*.json")):
        if path.name.startswith("citing_"):
            doi = path.stem.removeprefix("citing_").replace("_", "/", 1)
            fake.records[CITING][doi] = json.loads(path.read_text())
        else:
            doi = path.stem.replace("_", "/", 1)
            fake.records["opencitations"][doi] = json.loads(path.read_text())


def handle(fake: FakeAPI, request: Request) -> Reply:
    for operation, table, unknown in (
        # An id the index has never seen counts 0, as the real API answers.
        ("/citation-count/", "opencitations", [{"count": "0"}]),
        # ... and, we assume, has no citations: an empty array (not recorded).
        ("/citations/", CITING, []),
    ):
        if request.method == "GET" and request.path.startswith(operation):
            pid = unquote(request.path.removeprefix(operation)).lower()
            scheme, _, value = pid.partition(":")
            if scheme in ("doi", "pmid", "omid") and value:
                return Reply(200, fake.records[table].get(value, unknown))
    return Reply(404, "Not found", {"Content-Type": "text/plain"})


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["opencitations"][doi] = [{"count": str(count)}]
