"""Unpaywall v2: /{doi}?email=… → the DOI object; 422 without email, 404 for an unknown DOI."""

from __future__ import annotations

from urllib.parse import unquote

from tests.fakeapi.server import FakeAPI, Reply, Request

# Error bodies as Unpaywall sends them: the 422 text was verified live by a public client
# (2026-10); the 404 message is the one roadoi's README prints.
NO_EMAIL = {
    "HTTP_status_code": 422,
    "error": True,
    "message": "Email address required in API call, see http://unpaywall.org/products/api",
}


def load(fake: FakeAPI) -> None:
    fake.load_records("unpaywall", lambda r: r["doi"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    if not request.arg("email"):
        return Reply(422, NO_EMAIL)
    doi = unquote(request.path.lstrip("/")).lower()
    record = fake.records["unpaywall"].get(doi)
    if record is None:
        message = f"'{doi}' isn't in Unpaywall. See https://support.unpaywall.org/a/solutions/articles/44001900286"
        return Reply(404, {"HTTP_status_code": 404, "error": True, "message": message})
    return Reply(200, record)
