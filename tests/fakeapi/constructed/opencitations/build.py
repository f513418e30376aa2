"""Builds the constructed OpenCitations citing list of the default article from the real shape.

Run from the project root:  python tests/fakeapi/constructed/opencitations/build.py

Each row is a deep copy of the row of the official Index v2 exemplar
(../shared/fixtures/real/opencitations/docs_exemplar_index_v2_citation.json) with its
values replaced by those of the shared citing works of the cross-source scenario. The
OMIDs and OCIs are made up; ``creation`` holds only the year, as the legacy COCI answers do
for some rows (the scenario shares only the year of each citing work).
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from build_default_article import DOI, REAL

CITED_OMID = "06180000752"  # constructed
# (citing OMID number, DOI, PMID, year, author_sc)
CITING = [
    ("06120000001", "10.1038/s41580-022-00001-a", "35000001", 2022, "no"),
    ("06120000002", "10.1016/j.ccell.2022.00002", "35000002", 2022, "no"),
    ("06120000003", "10.1016/j.phrs.2023.00003", "36000003", 2023, "yes"),
    ("06120000005", "10.1038/s41467-024-00005", "38000005", 2024, "no"),
]


def citations() -> list:
    exemplar = json.loads(
        (REAL / "opencitations" / "docs_exemplar_index_v2_citation.json").read_text()
    )[0]
    rows = []
    for omid, doi, pmid, year, author_sc in CITING:
        row = copy.deepcopy(exemplar)
        row.update(
            oci=f"{omid}-{CITED_OMID}",
            citing=f"omid:br/{omid} doi:{doi} pmid:{pmid}",
            cited=f"omid:br/{CITED_OMID} doi:{DOI} pmid:33930000",
            creation=str(year),
            timespan=f"P{year - 2021}Y",  # both dates known to the year only
            journal_sc="no",
            author_sc=author_sc,
        )
        rows.append(row)
    return rows


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    slug = DOI.replace("/", "_")
    (HERE / f"citing_{slug}.json").write_text(json.dumps(citations(), indent=2) + "\n")
