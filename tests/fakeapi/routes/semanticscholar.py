"""Semantic Scholar Graph API: POST /paper/batch (positional array) and GET /paper/{id}."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from tests.fakeapi.server import FakeAPI, Reply, Request

# The body of a 429 from the shared pool; it carries no Retry-After (apis.md §3e).
TOO_MANY_REQUESTS = {
    "message": "Too Many Requests. Please wait and try again or apply for a key for higher rate limits.",
    "code": "429",
}
MAX_IDS = 500


def load(fake: FakeAPI) -> None:
    fake.load_records("semanticscholar", lambda r: r["externalIds"]["DOI"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    fields = (request.arg("fields") or "").split(",")
    if request.path == "/paper/batch" and request.method == "POST":
        ids = (request.json() or {}).get("ids")
        # The texts of these 400s are ours, in the shape of the real 404 body {"error": ...}.
        if not isinstance(ids, list) or not ids:
            return Reply(400, {"error": "Unacceptable request body: ids must be a non-empty list"})
        if len(ids) > MAX_IDS:
            return Reply(400, {"error": f"Too many ids: {len(ids)} > {MAX_IDS}"})
        return Reply(200, [_select(_find(fake, i), fields) for i in ids])
    if request.path.startswith("/paper/") and request.method == "GET":
        paper_id = unquote(request.path.removeprefix("/paper/"))
        record = _find(fake, paper_id)
        if record is None:
            return Reply(404, {"error": f"Paper with id {paper_id} not found"})
        return Reply(200, _select(record, fields))
    return Reply(404, {"error": f"no fake route for {request.method} {request.path}"})


def _find(fake: FakeAPI, paper_id: Any) -> dict[str, Any] | None:
    if not isinstance(paper_id, str):
        return None
    doi = paper_id[4:] if paper_id[:4].upper() == "DOI:" else paper_id
    return fake.records["semanticscholar"].get(doi.lower())


def _select(record: dict[str, Any] | None, fields: list[str]) -> dict[str, Any] | None:
    """Only the fields asked for, plus paperId; no ``fields``: paperId and title."""
    if record is None:
        return None
    wanted = {"paperId", *(f for f in fields if f)}
    if wanted == {"paperId"}:
        wanted.add("title")
    return {k: v for k, v in record.items() if k in wanted}


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["semanticscholar"][doi]["citationCount"] = count
