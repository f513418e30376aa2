"""NIH iCite: /pubs?pmids=1,2 (the meta/links/data envelope of the docs sample)."""

from __future__ import annotations

from urllib.parse import quote

from tests.fakeapi.server import FakeAPI, Reply, Request


def load(fake: FakeAPI) -> None:
    fake.load_records("icite", lambda r: str(r["pmid"]))


def handle(fake: FakeAPI, request: Request) -> Reply:
    records = fake.records["icite"]
    if request.path == "/pubs":
        wanted = (request.arg("pmids") or "").split(",")
        return Reply(
            200,
            {
                "meta": {"pmids": request.arg("pmids") or ""},
                "links": {
                    "self": "https://icite.od.nih.gov/api/pubs?pmids="
                    + quote(request.arg("pmids") or "")
                },
                "data": [records[p] for p in wanted if p in records],
            },
        )
    return Reply(404, "Not Found")


def set_count(fake: FakeAPI, pmid: str, count: int) -> None:
    fake.records["icite"][pmid]["citation_count"] = count
