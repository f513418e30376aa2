"""Semantic Scholar Graph API: POST /paper/batch (positional array), GET /paper/{id},
GET /paper/{id}/citations (offset/limit pages, no ``next`` on the last)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

# The body of a 429 from the shared pool; it carries no Retry-After (apis.md §3e).
TOO_MANY_REQUESTS = {
    "message": "Too Many Requests. Please wait and try again or apply for a key for higher rate limits.",
    "code": "429",
}
MAX_IDS = 500
MAX_ANSWER_BYTES = 10_000_000  # a larger answer is refused with a 400 (apis.md §3c)
MAX_LIMIT = 1000  # of /citations
OFFSET_LIMIT = 10_000  # offset + limit must stay below it (third-party reports; unconfirmed)
EDGE_FIELDS = {"contexts", "intents", "isInfluential", "contextsWithIntent"}
CITING = "semanticscholar_citing"  # records[CITING][doi]: the citation edges, in order


def load(fake: FakeAPI) -> None:
    for path in sorted((CONSTRUCTED / "semanticscholar").glob("*.json")):
        if path.name.startswith("citing_"):
            doi = path.stem.removeprefix("citing_").replace("_", "/", 1)
            fake.records[CITING][doi] = json.loads(path.read_text())["data"]
        else:
            record = json.loads(path.read_text())
            fake.records["semanticscholar"][record["externalIds"]["DOI"].lower()] = record


def handle(fake: FakeAPI, request: Request) -> Reply:
    fields = (request.arg("fields") or "").split(",")
    if request.path == "/paper/batch" and request.method == "POST":
        ids = (request.json() or {}).get("ids")
        # The texts of these 400s are ours, in the shape of the real 404 body {"error": ...}.
        if not isinstance(ids, list) or not ids:
            return Reply(400, {"error": "Unacceptable request body: ids must be a non-empty list"})
        if len(ids) > MAX_IDS:
            return Reply(400, {"error": f"Too many ids: {len(ids)} > {MAX_IDS}"})
        answer = [_select(_find(fake, i), fields) for i in ids]
        if len(json.dumps(answer)) > MAX_ANSWER_BYTES:
            return Reply(400, {"error": "Response would exceed maximum size of 10 MB"})
        return Reply(200, answer)
    if request.path.startswith("/paper/") and request.path.endswith("/citations"):
        paper_id = unquote(request.path.removeprefix("/paper/").removesuffix("/citations"))
        return _citations(fake, request, paper_id, fields)
    if request.path.startswith("/paper/") and request.method == "GET":
        paper_id = unquote(request.path.removeprefix("/paper/"))
        record = _find(fake, paper_id)
        if record is None:
            return Reply(404, {"error": f"Paper with id {paper_id} not found"})
        return Reply(200, _select(record, fields))
    return Reply(404, {"error": f"no fake route for {request.method} {request.path}"})


def _citations(fake: FakeAPI, request: Request, paper_id: str, fields: list[str]) -> Reply:
    record = _find(fake, paper_id)
    if record is None:
        return Reply(404, {"error": f"Paper with id {paper_id} not found"})
    try:
        offset = int(request.arg("offset") or 0)
        limit = int(request.arg("limit") or 100)
    except ValueError:
        return Reply(400, {"error": "Unacceptable query params: offset and limit must be integers"})
    if not 0 < limit <= MAX_LIMIT or offset < 0 or offset + limit >= OFFSET_LIMIT:
        return Reply(400, {"error": f"Unacceptable query params: [offset={offset}, limit={limit}]"})
    edges = fake.records[CITING].get(record["externalIds"]["DOI"].lower(), [])
    page: dict[str, Any] = {"offset": offset}
    if offset + limit < len(edges):
        page["next"] = offset + limit
    page["data"] = [_edge(edge, fields) for edge in edges[offset : offset + limit]]
    return Reply(200, page)


def _edge(edge: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The edge fields asked for, and the citing paper cut down to the paper fields asked for."""
    kept = {k: v for k, v in edge.items() if k in fields and k in EDGE_FIELDS}
    kept["citingPaper"] = _select(edge["citingPaper"], [f for f in fields if f not in EDGE_FIELDS])
    return kept


def _find(fake: FakeAPI, paper_id: Any) -> dict[str, Any] | None:
    """A record by ``DOI:...`` (or a bare DOI) or by its paperId."""
    if not isinstance(paper_id, str):
        return None
    doi = paper_id[4:] if paper_id[:4].upper() == "DOI:" else paper_id
    found = fake.records["semanticscholar"].get(doi.lower())
    if found is None:
        found = next(
            (r for r in fake.records["semanticscholar"].values() if r.get("paperId") == paper_id),
            None,
        )
    return found


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
