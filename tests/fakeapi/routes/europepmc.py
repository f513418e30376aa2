"""Europe PMC: /search?query=DOI:"a" OR DOI:"b"&format=json (the search envelope) and
/{source}/{id}/citations?page=N&pageSize=M (the citations envelope, pages counted from 1).

The records are ``core`` ones; ``resultType=lite`` (the default, as the API's) gives each
as ``lite`` does: constructed by ``lite`` on the shape of a recorded lite answer."""

from __future__ import annotations

import json
import re

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

_DOI_CLAUSE = re.compile(r'DOI:"([^"]+)"', re.IGNORECASE)
_CITATIONS = re.compile(r"^/([A-Za-z]+)/([^/]+)/citations$")
CITING = "europepmc_citing"  # records[CITING]["MED/33930000"]: the whole citations page
MAX_PAGE_SIZE = 1000
MAX_QUERY = 1500  # characters


def load(fake: FakeAPI) -> None:
    # A search record per DOI; ``citing_`` files hold a work's citations, found by the
    # source and id of that work's search record.
    lists = {}
    for path in sorted((CONSTRUCTED / "europepmc").glob("*.json")):
        body = json.loads(path.read_text())
        if path.name.startswith("citing_"):
            lists[path.stem.removeprefix("citing_").replace("_", "/", 1)] = body
        else:
            fake.records["europepmc"][body["doi"].lower()] = body
    for doi, page in lists.items():
        record = fake.records["europepmc"][doi]
        fake.records[CITING][f"{record['source']}/{record['id']}"] = page


def handle(fake: FakeAPI, request: Request) -> Reply:
    match = _CITATIONS.match(request.path)
    if match:
        return citations(fake, request, f"{match.group(1).upper()}/{match.group(2)}")
    if request.path != "/search":
        return Reply(404, "Not Found", {"Content-Type": "text/plain"})
    records = fake.records["europepmc"]
    query = (request.arg("query") or "")[:MAX_QUERY]  # a longer query is cut (apis.md §0b)
    page_size = int(request.arg("pageSize", "25") or 25)
    results = [records[d.lower()] for d in _DOI_CLAUSE.findall(query) if d.lower() in records]
    if request.arg("resultType", "lite") == "lite":
        results = [lite(record) for record in results]
    # The envelope of fixtures:europepmc/search_core_cancer_pageSize25.json and search_no_results.json.
    return Reply(
        200,
        {
            "version": "6.9",
            "hitCount": len(results),
            "request": {
                "queryString": query,
                "resultType": request.arg("resultType", "lite"),
                "cursorMark": "%2A",
                "pageSize": page_size,
                "sort": "",
                "synonym": False,
            },
            "resultList": {"result": results[:page_size]},
        },
    )


# The keys of a lite record that a core one has too (fixtures:europepmc/search_lite_cancer_pageSize5_cursor_star.json)
LITE_KEYS = (
    "id", "source", "pmid", "pmcid", "doi", "title", "authorString", "pubYear", "pageInfo", "isOpenAccess",
    "inEPMC", "inPMC", "hasPDF", "hasBook", "hasSuppl", "citedByCount", "hasReferences", "hasTextMinedTerms",
    "hasDbCrossReferences", "hasLabsLinks", "hasTMAccessionNumbers", "firstIndexDate", "firstPublicationDate",
)


def lite(record: dict) -> dict:
    """A core record as ``resultType=lite`` gives it: no abstract, MeSH, keywords or notices;
    the journal flattened (journalTitle the abbreviation, journalIssn "0140-6736; 1474-547x; ",
    journalVolume, issue),
    the publication types one lower-case string, "; "-separated, as in the recorded answer."""
    info = record.get("journalInfo", {})
    journal = info.get("journal", {})
    flat = {
        "journalTitle": journal.get("isoabbreviation") or journal.get("medlineAbbreviation"),
        "journalIssn": "".join(f"{i.lower()}; " for i in (journal.get("issn"), journal.get("essn")) if i) or None,
        "journalVolume": info.get("volume"),
        "issue": info.get("issue"),
        "pubType": "; ".join(t.lower() for t in record.get("pubTypeList", {}).get("pubType", [])) or None,
    }
    return {**{k: record[k] for k in LITE_KEYS if k in record}, **{k: v for k, v in flat.items() if v}}


def citations(fake: FakeAPI, request: Request, key: str) -> Reply:
    """One page of a work's citations. An id without citations answers hitCount 0 and an
    empty list: assumed, no such answer is recorded."""
    page = int(request.arg("page", "1") or 1)
    page_size = min(int(request.arg("pageSize", "25") or 25), MAX_PAGE_SIZE)
    source, _, ident = key.partition("/")
    stored = fake.records[CITING].get(key)
    everything = stored["citationList"]["citation"] if stored else []
    start = (page - 1) * page_size
    return Reply(
        200,
        {
            "version": stored["version"] if stored else "6.9",
            "hitCount": len(everything),
            "request": {"id": ident, "source": source, "page": page, "pageSize": page_size},
            "citationList": {"citation": everything[start : start + page_size]},
        },
    )


def set_count(fake: FakeAPI, doi: str, count: int) -> None:
    fake.records["europepmc"][doi]["citedByCount"] = count


def set_citing(fake: FakeAPI, key: str, citations: list[dict]) -> None:
    """Replace the citations of ``key`` (``MED/33930000``) with these entries."""
    fake.records[CITING][key] = {"version": "6.9", "citationList": {"citation": list(citations)}}
