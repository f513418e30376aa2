"""Builds the constructed iCite record of the default article from the docs sample.

Run from the project root:  python tests/fakeapi/constructed/icite/build.py

Starts as a deep copy of the first ``data[]`` entry of the iCite docs sample
(../shared/fixtures/real/icite/docs_sample_pubs_pmids_23456789_27599104.json), so every
field name is iCite's own (legacy names, "Yes"/"No" flags); only values are replaced.
The PMID, the counts and every metric are made up for tests. ``cited_by`` lists the PMIDs
of the shared citing works A, B and C of the cross-source scenario, and
``citation_count`` is their number, as in a real record.
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from build_default_article import AUTHORS, DOI, REAL, TITLE

PMID = 33930000  # constructed
CITED_BY = [35000001, 35000002, 36000003]  # the shared citing works A, B, C (constructed)


def icite() -> dict:
    real = json.loads(
        (REAL / "icite" / "docs_sample_pubs_pmids_23456789_27599104.json").read_text()
    )
    record = copy.deepcopy(real["data"][0])
    record.update(
        pmid=PMID,
        year=2021,
        title=f"{TITLE}.",
        authors=", ".join(f"{given} {family}" for given, family in AUTHORS),
        journal="Drug Resist Updat",
        is_research_article="No",  # a review
        relative_citation_ratio=1.42,
        nih_percentile=61.3,
        human=0.5,
        animal=0.25,
        molecular_cellular=0.25,
        apt=0.25,
        is_clinical="No",
        citation_count=len(CITED_BY),
        citations_per_year=0.6,  # 3 citations over 5 years
        expected_citations_per_year=0.6 / 1.42,
        field_citation_rate=0.8213,
        provisional="No",
        x_coord=-0.21650635094610965,
        y_coord=0.375,
        cited_by_clin=[35000001],
        cited_by=CITED_BY,
        references=[],
        doi=DOI,
        last_modified="03/01/2026, 09:00:00",
    )
    return record


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    (HERE / f"{PMID}.json").write_text(json.dumps(icite(), indent=2) + "\n")
