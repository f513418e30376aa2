"""Builds the constructed Unpaywall record of the default article from a real recording.

Run from the project root:  python tests/fakeapi/constructed/unpaywall/build.py

Starts as a deep copy of ../shared/fixtures/real/unpaywall/v2_doi_10.1016_j.xgen.2025.100814.json
(a genuine v2 DOI object) and replaces values only. The article is paywalled, so the
record is the closed shape: is_oa false, oa_status "closed", no OA location.
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
REAL = HERE.parents[3].parent / "shared" / "fixtures" / "real"
DOI = "10.1016/j.drup.2021.100752"
TITLE = (
    "Emerging role of autophagy in anti-tumor immunity: Implications for the modulation "
    "of immunotherapy resistance"
)
AUTHORS = ["Ting Jiang", "Xisha Chen", "Xingcong Ren", "Jin Ming Yang", "Yan Cheng"]


def unpaywall() -> dict:
    real = json.loads((REAL / "unpaywall" / "v2_doi_10.1016_j.xgen.2025.100814.json").read_text())
    record = copy.deepcopy(real)
    template = real["z_authors"][0]
    record.update(
        doi=DOI,
        doi_url=f"https://doi.org/{DOI}",
        title=TITLE,
        genre="journal-article",
        is_paratext=False,
        published_date="2021-05-01",
        year=2021,
        journal_name="Drug Resistance Updates",
        journal_issns="1368-7646,1532-2084",
        journal_issn_l="1368-7646",
        journal_is_oa=False,
        journal_is_in_doaj=False,
        publisher="Elsevier BV",
        is_oa=False,
        oa_status="closed",
        has_repository_copy=False,
        best_oa_location=None,
        first_oa_location=None,
        oa_locations=[],
        oa_locations_embargoed=[],
        updated="2026-11-20T08:12:44Z",  # made up
        z_authors=[
            dict(
                copy.deepcopy(template),
                author_position="first"
                if i == 0
                else ("last" if i == len(AUTHORS) - 1 else "additional"),
                raw_author_name=name,
                is_corresponding=i == len(AUTHORS) - 1,
                raw_affiliation_strings=[],
            )
            for i, name in enumerate(AUTHORS)
        ],
    )
    return record


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    out = HERE / f"{DOI.replace('/', '_')}.json"
    out.write_text(json.dumps(unpaywall(), indent=2) + "\n")
