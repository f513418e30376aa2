"""Builds the author and institution records the fake serves, for collection tests.

Run from the project root:  python tests/fakeapi/constructed/openalex/build_entities.py

- ``entities/author.json``: the genuine recording
  ../shared/fixtures/real/openalex/academic-explorer_author_A5023888391.json, unchanged.
- ``entities/institution.json``: no institution was recorded; its five fields (``id``, ``ror``,
  ``display_name``, ``country_code``, ``type``) are the ones OpenAlex's quickstart shows for an
  institution (developers.openalex.org/quickstart, "Find an institution"), with made-up values.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
REAL = HERE.parents[3].parent / "shared" / "fixtures" / "real" / "openalex"


def main() -> None:
    author = json.loads((REAL / "academic-explorer_author_A5023888391.json").read_text())
    (HERE / "entities" / "author.json").write_text(json.dumps(author, indent=1) + "\n")
    institution = {
        "id": "https://openalex.org/I4210000000",
        "ror": "https://ror.org/02nr0ka47",
        "display_name": "Constructed Institute of Citation Studies",
        "country_code": "NL",
        "type": "education",
    }
    (HERE / "entities" / "institution.json").write_text(json.dumps(institution, indent=1) + "\n")


if __name__ == "__main__":
    main()
