"""OpenCitations Index API v2: GET /citation-count/doi:{doi} → [{"count": "N"}] and
GET /citations/doi:{doi} → every citation row in one array (no paging); and the Meta API
beside it: GET /meta/v1/metadata/doi:{doi} → a list of bibliographic records."""

from __future__ import annotations

import json
from urllib.parse import unquote

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

CITING = "opencitations_citing"  # records[CITING][doi]: the /citations rows
META = "opencitations_meta"  # records[META][doi]: the /meta/v1/metadata record


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
    load_meta(fake)


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.path.startswith("/meta/v1/metadata/"):
        return metadata(fake, unquote(request.path.removeprefix("/meta/v1/metadata/")).lower())
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
    know(fake, doi)


def metadata(fake: FakeAPI, pid: str) -> Reply:
    """Meta's records for ``doi:…`` ids joined with ``__``; an unknown id gives no record
    (assumed: an empty list; not recorded)."""
    records = []
    for one in pid.split("__"):
        scheme, _, value = one.partition(":")
        if scheme == "doi" and value in fake.records[META]:
            records.append(fake.records[META][value])
    return Reply(200, records)


def load_meta(fake: FakeAPI) -> None:
    """A Meta record for every DOI with a constructed count: the shape of the spec's exemplar
    (fixtures:opencitations/docs_exemplar_meta_v1_metadata.json), its values made up."""
    for doi in fake.records["opencitations"]:
        fake.records[META][doi] = meta_record(doi)


def meta_record(doi: str) -> dict[str, str]:
    return {
        "id": f"doi:{doi} omid:br/0612345678",
        "title": "",
        "author": "",
        "pub_date": "2021",
        "page": "",
        "issue": "",
        "volume": "",
        "venue": "",
        "type": "journal article",
        "publisher": "",
        "editor": "",
    }


def know(fake: FakeAPI, doi: str) -> None:
    """Make Meta know ``doi`` (a work OpenCitations holds with no citations yet)."""
    fake.records[META][doi] = meta_record(doi)
