"""Builds the ORCID templates the fake makes its records from, out of real recordings.

Run from the project root:  python tests/fakeapi/constructed/orcid/build.py

Every file written here is a genuine recorded body, or a part of one, copied unchanged:
the fake (tests/fakeapi/routes/orcid.py) deep-copies these and replaces values only, so
every field name and nesting in what it serves is ORCID's own.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
REAL = HERE.parents[3].parent / "shared" / "fixtures" / "real" / "orcid"


def main() -> None:
    works = json.loads((REAL / "pub.orcid.org_v3.0_0000-0003-1444-9135_works.body.json").read_text())
    # The first group: one summary (source Crossref) with one `self` DOI.
    template = {
        "last-modified-date": works["last-modified-date"],
        "path": works["path"],
        "group": [works["group"][0]],
    }
    (HERE / "works_template.json").write_text(json.dumps(template, indent=1) + "\n")
    # The 404 of an unknown iD (recorded for the malformed iD "Asfaf" at /person).
    error = json.loads((REAL / "pub.orcid.org_v3.0_Asfaf_person_404.body.json").read_text())
    (HERE / "error_404.json").write_text(json.dumps(error, indent=1) + "\n")


if __name__ == "__main__":
    main()
