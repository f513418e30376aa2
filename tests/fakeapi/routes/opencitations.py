"""OpenCitations Index API v2: GET /citation-count/doi:{doi} → [{"count": "N"}]."""

from __future__ import annotations

import json
from urllib.parse import unquote

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request


def load(fake: FakeAPI) -> None:
    # Each file is the exact answer body; its name is the DOI with '/' written '_'.
    for path in sorted((CONSTRUCTED / "opencitations").glob("*.json")):
        doi = path.stem.replace("_", "/", 1)
        fake.records["opencitations"][doi] = json.loads(path.read_text())


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.method == "GET" and request.path.startswith("/citation-count/"):
        pid = unquote(request.path.removeprefix("/citation-count/")).lower()
        scheme, _, value = pid.partition(":")
        if scheme in ("doi", "pmid", "omid") and value:
            # An id the index has never seen counts 0, as the real API answers.
            return Reply(200, fake.records["opencitations"].get(value, [{"count": "0"}]))
    return Reply(404, "Not found", {"Content-Type": "text/plain"})


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["opencitations"][doi] = [{"count": str(count)}]
