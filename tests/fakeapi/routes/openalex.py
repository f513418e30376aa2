"""OpenAlex: /works?filter=doi:a|b (list envelope: the tracked works' lookup, and the
batched lookup that names citing works, monitor.enrich), /works?filter=cites:W…&cursor=…
(the citing works, cursor paging), /works?filter=author.orcid:…|author.id:…|institutions.ror:…
[,from_publication_date:…]&cursor=…&select=… (a collection's works: ``records[LISTINGS]``
under the clause, e.g. "author.id:A123"; see ``listed_work`` and ``add_listing``) and
/works/doi:X (singleton).

Like OpenAlex it refuses a URL longer than 4,094 characters (414), reads ``,`` in a
filter as the separator of filters (an unknown filter is a 400), ``|`` as OR and ``+`` as
AND: a DOI holding one of them is misread, as by the real server. ``cites:W1|W2`` lists
the works citing any of them, each once, each referencing what it cites."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

# The HTML body OpenAlex sends for an unknown id (fixtures:openalex/error_404_not_found_html.txt).
NOT_FOUND_HTML = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server.</p>\n"
)


CITING = "openalex_citing"  # records[CITING]["W3139000000"]: the citing works, in order
LISTINGS = "openalex_listings"  # records[LISTINGS]["author.id:A1"]: a collection's works, in order
LISTING_FILTERS = ("author.orcid", "author.id", "institutions.ror")
ENTITIES = "openalex_entities"  # records[ENTITIES]["/authors/a1"]: an author or institution
HEADERS = {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "99990"}


def load(fake: FakeAPI) -> None:
    # A work record per DOI; ``citing_`` files hold a list page of the works citing a work,
    # found by the OpenAlex id of that work's record.
    lists = {}
    for path in sorted((CONSTRUCTED / "openalex").glob("*.json")):
        body = json.loads(path.read_text())
        if path.name.startswith("citing_"):
            lists[path.stem.removeprefix("citing_").replace("_", "/", 1)] = body["results"]
        else:
            fake.records["openalex"][body["doi"].removeprefix("https://doi.org/").lower()] = body
    for doi, results in lists.items():
        work_id = fake.records["openalex"][doi]["id"].rsplit("/", 1)[1]
        fake.records[CITING][work_id] = results
        for result in results:  # OpenAlex knows the works it lists: a lookup by DOI finds them
            fake.records["openalex"].setdefault(_bare(result["doi"]), result)


MAX_URL = 4094  # characters (apis.md §0b)
FILTERS = ("doi", "cites", "from_publication_date", *LISTING_FILTERS)


def handle(fake: FakeAPI, request: Request) -> Reply:
    works = fake.records["openalex"]
    if len(fake.url + request.target) > MAX_URL:
        return Reply(414, "<html><body><h1>414 Request-URI Too Large</h1></body></html>",
                     {"Content-Type": "text/html"})
    if request.path == "/works":
        for clause in (request.arg("filter") or "").split(","):
            name, colon, _ = clause.partition(":")
            if clause and (not colon or name not in FILTERS):
                return Reply(400, {"error": "Invalid query parameters error.",
                                   "message": f"{name} is not a valid field"})
        cited = _clause(request.arg("filter") or "", "cites")
        if cited is not None:
            return _citing(fake, request, cited)
        for name in LISTING_FILTERS:
            value = _clause(request.arg("filter") or "", name)
            if value is not None:
                return _listing(fake, request, f"{name}:{value}")
        wanted = _dois(request.arg("filter") or "")
        results = [works[d] for d in wanted if d in works]
        if request.arg("select"):
            keep = request.arg("select").split(",")  # type: ignore[union-attr]
            results = [{k: w[k] for k in keep if k in w} for w in results]
        per_page = int(request.arg("per_page", "25") or 25)
        return Reply(
            200,
            {
                "meta": {
                    "count": len(results),
                    "db_response_time_ms": 12,
                    "page": 1,
                    "per_page": per_page,
                    "groups_count": None,
                },
                "results": results[:per_page],
                "group_by": [],
            },
            HEADERS,
        )
    entity = fake.records[ENTITIES].get(request.path.lower())
    if entity is not None:
        return Reply(200, entity, HEADERS)
    if request.path.startswith("/works/doi:"):
        record = works.get(unquote(request.path.removeprefix("/works/doi:")).lower())
        if record is not None:
            return Reply(200, record)
    return Reply(404, NOT_FOUND_HTML, {"Content-Type": "text/html; charset=utf-8"})


def _citing(fake: FakeAPI, request: Request, cited: str) -> Reply:
    """A page of the works citing any of ``cited`` (W1|W2|…), each once, each naming in
    ``referenced_works`` the works asked that it cites (as a real result does)."""
    listed: dict[str, dict[str, Any]] = {}
    for work_id in cited.split("|"):
        work_id = work_id.removeprefix("https://openalex.org/")
        for result in fake.records[CITING].get(work_id, []):
            entry = listed.setdefault(result["id"], dict(result))
            references = list(entry.get("referenced_works") or [])
            url = f"https://openalex.org/{work_id}"
            entry["referenced_works"] = references + ([url] if url not in references else [])
    reply = _page(request, list(listed.values()))
    fields = request.arg("select")
    if fields:
        keep = fields.split(",")
        reply.body["results"] = [{k: w[k] for k in keep if k in w} for w in reply.body["results"]]
    return reply


def _listing(fake: FakeAPI, request: Request, clause: str) -> Reply:
    """A page of a collection's works, from a publication date if asked, with ``select``."""
    everything = fake.records[LISTINGS].get(clause, [])
    since = _clause(request.arg("filter") or "", "from_publication_date")
    if since:
        everything = [w for w in everything if (w.get("publication_date") or "") >= since]
    reply = _page(request, everything)
    fields = request.arg("select")
    if fields:
        keep = fields.split(",")
        reply.body["results"] = [{k: w[k] for k in keep if k in w} for w in reply.body["results"]]
    return reply


def _page(request: Request, everything: list[dict[str, Any]]) -> Reply:
    """A cursor page (or a basic page without ``cursor``). As the paging guide says, every
    page with results has a ``next_cursor``; the page after the last one is empty, with null."""
    per_page = int(request.arg("per_page", "25") or 25)
    cursor = request.arg("cursor")
    if cursor is None:  # basic paging: no next_cursor in meta (as the recorded list page)
        number = int(request.arg("page", "1") or 1)
        start, meta = (number - 1) * per_page, {"page": number}
    else:
        start = 0 if cursor == "*" else int(base64.urlsafe_b64decode(cursor).decode())
        page = everything[start : start + per_page]
        meta = {"page": None, "next_cursor": _cursor(start + len(page)) if page else None}
    return Reply(
        200,
        {
            "meta": {
                "count": len(everything),
                "db_response_time_ms": 9,
                "per_page": per_page,
                "groups_count": None,
                **meta,
            },
            "results": everything[start : start + per_page],
            "group_by": [],
        },
        HEADERS,
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _clause(filter_value: str, name: str) -> str | None:
    for clause in filter_value.split(","):
        key, _, value = clause.partition(":")
        if key == name:
            return value
    return None


def _dois(filter_value: str) -> list[str]:
    """The DOIs a doi filter matches: ``|`` ORs values; ``+`` ANDs parts of a value, which
    two different DOIs never both are, so such a value matches nothing."""
    values = _clause(filter_value, "doi")
    if values is None:
        return []
    return [_bare(v) for v in values.split("|") if "+" not in v]


def _bare(doi: str) -> str:
    return doi.removeprefix("https://doi.org/").lower()


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    record: dict[str, Any] = fake.records["openalex"][doi]
    record["cited_by_count"] = count


def listed_work(
    doi: str | None, title: str, year: int, work_id: str, cited_by_count: int = 0, **fields: Any
) -> dict[str, Any]:
    """A work object like the default article's (constructed from a real one), values replaced."""
    work = copy.deepcopy(_DEFAULT[0])
    url = f"https://openalex.org/{work_id}"
    work.update(
        id=url,
        doi=f"https://doi.org/{doi}" if doi else None,
        title=title,
        display_name=title,
        publication_year=year,
        publication_date=f"{year}-06-01",
        ids={"openalex": url, **({"doi": f"https://doi.org/{doi}"} if doi else {})},
        cited_by_count=cited_by_count,
        counts_by_year=[],
    )
    work.update(fields)
    return work


def add_listing(fake: FakeAPI, clause: str, works: Sequence[dict[str, Any]]) -> None:
    """Serve ``works`` for a filter clause, and each (with a DOI) for look-ups by DOI."""
    fake.records[LISTINGS][clause] = list(works)
    for work in works:
        if work.get("doi"):
            fake.records["openalex"][work["doi"].removeprefix("https://doi.org/").lower()] = work


_DEFAULT: list[dict[str, Any]] = [
    json.loads((CONSTRUCTED / "openalex" / "10.1016_j.drup.2021.100752.json").read_text())
]


def add_author(fake: FakeAPI, author_id: str, name: str) -> dict[str, Any]:
    """Serve ``/authors/{author_id}``: the recorded author, its id and name replaced."""
    author = json.loads((CONSTRUCTED / "openalex" / "entities" / "author.json").read_text())
    author.update(id=f"https://openalex.org/{author_id}", display_name=name, orcid=None)
    fake.records[ENTITIES][f"/authors/{author_id}".lower()] = author
    return author


def add_institution(fake: FakeAPI, ror: str, name: str) -> dict[str, Any]:
    """Serve ``/institutions/ror:{ror}``: the constructed institution, its ROR and name replaced."""
    institution = json.loads((CONSTRUCTED / "openalex" / "entities" / "institution.json").read_text())
    institution.update(ror=f"https://ror.org/{ror}", display_name=name)
    fake.records[ENTITIES][f"/institutions/ror:{ror}".lower()] = institution
    return institution
