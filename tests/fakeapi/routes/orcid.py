"""ORCID public API v3.0: ``GET /{orcid}/works`` (every group at once; ORCID does not page).

A record is ``records["orcid"][iD]``, built with ``record``/``group``/``summary`` below from
the real templates in constructed/orcid/ (values replaced, field names ORCID's own). An iD
with no record gets ORCID's 404 error JSON, naming the iD as ORCID does for an unknown one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

TEMPLATE = json.loads((CONSTRUCTED / "orcid" / "works_template.json").read_text())
ERROR_404 = json.loads((CONSTRUCTED / "orcid" / "error_404.json").read_text())
CONTENT_TYPE = {"Content-Type": "application/json;charset=UTF-8"}

Id = tuple[str, str, str]  # (type, value, relationship)


def handle(fake: FakeAPI, request: Request) -> Reply:
    orcid, _, rest = request.path.strip("/").partition("/")
    if rest != "works":
        return Reply(404, ERROR_404, CONTENT_TYPE)
    found = fake.records["orcid"].get(orcid)
    if found is None:
        error = copy.deepcopy(ERROR_404)
        error["developer-message"] = error["developer-message"].replace("Asfaf", orcid)
        return Reply(404, error, CONTENT_TYPE)
    return Reply(200, found, CONTENT_TYPE)


def external_id(kind: str, value: str, relationship: str = "self") -> dict[str, Any]:
    entry = copy.deepcopy(TEMPLATE["group"][0]["external-ids"]["external-id"][0])
    entry.update(
        {
            "external-id-type": kind,
            "external-id-value": value,
            "external-id-normalized": {"value": value.lower() if kind == "doi" else value, "transient": True},
            "external-id-url": {"value": f"https://doi.org/{value}"} if kind == "doi" else None,
            "external-id-relationship": relationship,
        }
    )
    return entry


def summary(
    orcid: str, put_code: int, title: str, ids: Sequence[Id], year: int = 2024, display_index: int = 0
) -> dict[str, Any]:
    entry = copy.deepcopy(TEMPLATE["group"][0]["work-summary"][0])
    entry["put-code"] = put_code
    entry["title"]["title"]["value"] = title
    entry["external-ids"]["external-id"] = [external_id(*i) for i in ids]
    entry["publication-date"]["year"]["value"] = str(year)
    entry["path"] = f"/{orcid}/work/{put_code}"
    entry["display-index"] = str(display_index)
    return entry


def group(*summaries: dict[str, Any]) -> dict[str, Any]:
    """A group as ORCID makes one: the ids its items share, part-of ids left out."""
    entry = copy.deepcopy(TEMPLATE["group"][0])
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for item in summaries:
        for eid in item["external-ids"]["external-id"]:
            if eid["external-id-relationship"] != "part-of":
                seen.setdefault((eid["external-id-type"], eid["external-id-normalized"]["value"]), eid)
    entry["external-ids"]["external-id"] = [copy.deepcopy(e) for e in seen.values()]
    entry["work-summary"] = list(summaries)
    return entry


def record(orcid: str, groups: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {**copy.deepcopy(TEMPLATE), "path": f"/{orcid}/works", "group": list(groups)}


def simple_record(orcid: str, works: Sequence[tuple[str, str]], first_put_code: int = 1000) -> dict[str, Any]:
    """A record of one group per (doi, title), each with one summary."""
    return record(
        orcid,
        [
            group(summary(orcid, first_put_code + i, title, [("doi", doi, "self")]))
            for i, (doi, title) in enumerate(works)
        ],
    )
