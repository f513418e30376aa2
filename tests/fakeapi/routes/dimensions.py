"""Dimensions Metrics API: /doi/{doi} → the flat metrics object, 404 for an unknown DOI."""

from __future__ import annotations

from urllib.parse import unquote

from tests.fakeapi.server import FakeAPI, Reply, Request

# The 404 body a public client's test uses (mbhall88/boast src/providers/dimensions.rs);
# not a recording: our parser reads only the status.
NOT_FOUND = {
    "status": 404,
    "error": "NOT FOUND",
    "message": "Sorry, we can't find a record for that publication!",
}


def load(fake: FakeAPI) -> None:
    fake.load_records("dimensions", lambda r: r["doi"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.path.startswith("/doi/"):
        record = fake.records["dimensions"].get(unquote(request.path.removeprefix("/doi/")).lower())
        if record is not None:
            return Reply(200, record)
    return Reply(404, NOT_FOUND)


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["dimensions"][doi]["times_cited"] = count
