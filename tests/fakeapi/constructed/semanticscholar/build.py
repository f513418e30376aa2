"""Builds the constructed Semantic Scholar record of the default article from real shapes.

Run from the project root:  python tests/fakeapi/constructed/semanticscholar/build.py

The record starts as a deep copy of a genuine recorded response
(../shared/fixtures/real/semanticscholar/paper_by_doi_fields_2026-02_10.1021_acs.jctc.2c01235.json);
the fields that recording lacks are copied, with their real shapes, from the full-fields
batch recording (batch_papers_with_null_full_fields.json, its second entry) and the
full record (paper_full_all_fields_turing1950.json: ``tldr``). Then only values are
replaced. The bibliographic values are the article's; the counts, the S2 ids, the
PMID and the TLDR text are made up for tests.
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from build_default_article import ABSTRACT, AUTHORS, DOI, REAL, TITLE

S2 = REAL / "semanticscholar"
PAPER_ID = "5e2a0c3f9b7d41e8a6c2f0d1b3e5a7c9d1f3b5e7"  # constructed


def semanticscholar() -> dict:
    paper = copy.deepcopy(
        json.loads((S2 / "paper_by_doi_fields_2026-02_10.1021_acs.jctc.2c01235.json").read_text())
    )
    full = json.loads((S2 / "batch_papers_with_null_full_fields.json").read_text())[1]
    turing = json.loads((S2 / "paper_full_all_fields_turing1950.json").read_text())
    for key in (
        "corpusId",
        "publicationVenue",
        "abstract",
        "referenceCount",
        "fieldsOfStudy",
        "s2FieldsOfStudy",
    ):
        paper[key] = copy.deepcopy(full[key])
    paper["tldr"] = copy.deepcopy(turing["tldr"])
    paper.pop("citationStyles")  # not asked for by the monitor
    corpus_id = 233430000  # constructed
    paper.update(
        paperId=PAPER_ID,
        externalIds={"DOI": DOI, "CorpusId": corpus_id, "PubMed": "33930000"},
        corpusId=corpus_id,
        url=f"https://www.semanticscholar.org/paper/{PAPER_ID}",
        title=TITLE,
        venue="Drug Resistance Updates",
        publicationVenue=None,
        year=2021,
        abstract=ABSTRACT,
        referenceCount=182,
        citationCount=38,
        influentialCitationCount=2,
        isOpenAccess=False,
        openAccessPdf=None,
        fieldsOfStudy=["Medicine"],
        s2FieldsOfStudy=[
            {"category": "Medicine", "source": "external"},
            {"category": "Biology", "source": "s2-fos-model"},
            {"category": "Medicine", "source": "s2-fos-model"},
        ],
        publicationTypes=["Review", "JournalArticle"],
        publicationDate="2021-05-01",
        journal={"name": "Drug Resistance Updates", "pages": "100752", "volume": "56"},
        authors=[
            {"authorId": str(4000001 + i), "name": f"{given} {family}"}
            for i, (given, family) in enumerate(AUTHORS)
        ],
    )
    paper["tldr"]["text"] = (
        "This review discusses how autophagy in tumor, immune and stromal cells shapes "
        "anti-tumor immunity, and how modulating it could overcome resistance to immunotherapy."
    )
    return paper


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    slug = DOI.replace("/", "_")
    (HERE / f"{slug}.json").write_text(json.dumps(semanticscholar(), indent=2) + "\n")
