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

# The shared citing works of the cross-source scenario (all values constructed).
# (paperId, DOI, PMID, title, year, venue, publicationTypes, authors, contexts, intents, isInfluential)
CITING = [
    (
        "a1c0ffee00000000000000000000000000000001",
        "10.1038/s41580-022-00001-a",
        "35000001",
        "Autophagy and immune evasion in solid tumours",
        2022,
        "Nature Reviews Molecular Cell Biology",
        ["Review", "JournalArticle"],
        ["Maria Rossi", "Jian Li"],
        [
            "Autophagy in tumour cells limits antigen presentation and T cell recognition [12].",
            "Inhibiting autophagy has been proposed to restore sensitivity to immunotherapy [12].",
        ],
        ["background"],
        False,
    ),
    (
        "b2c0ffee00000000000000000000000000000002",
        "10.1016/j.ccell.2022.00002",
        "35000002",
        "Targeting autophagy to overcome checkpoint blockade resistance",
        2022,
        "Cancer Cell",
        ["JournalArticle"],
        ["Peter Novak"],
        [
            "We followed the autophagy modulation strategy reviewed in [4] to treat resistant tumours."
        ],
        ["methodology", "background"],
        True,
    ),
    (
        "c3c0ffee00000000000000000000000000000003",
        "10.1016/j.phrs.2023.00003",
        "36000003",
        "Autophagy inhibitors sensitise tumours to PD-1 blockade",
        2023,
        "Pharmacological Research",
        ["JournalArticle"],
        ["Yan Cheng", "Wei Zhang"],
        [],
        [],
        False,
    ),
    (
        "d4c0ffee00000000000000000000000000000004",
        "10.1101/2023.01.01.00004",
        None,
        "Secretory autophagy shapes the tumour immune microenvironment",
        2023,
        "bioRxiv",
        None,
        ["Ana Silva"],
        [],
        [],
        False,
    ),
    (
        "e5c0ffee00000000000000000000000000000006",
        "10.3390/cancers15000006",
        "37000006",
        "Autophagy-related gene signatures predict immunotherapy response",
        2023,
        "Cancers",
        ["JournalArticle"],
        ["Lena Schmidt"],
        [],
        [],
        False,
    ),
]


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


def citing_page() -> dict:
    """The works citing the default article, as one ``/paper/{id}/citations`` page with every edge.

    The envelope is the real last page's (``offset``, ``data``, no ``next``); each edge is a
    deep copy of the real edge with contexts, intents and isInfluential, values replaced.
    """
    page = copy.deepcopy(
        json.loads((S2 / "citations_page_offset1800_last_corpusid14514057.json").read_text())
    )
    edge = json.loads((S2 / "citation_item_contexts_intents_isInfluential.json").read_text())
    page["offset"] = 0
    page["data"] = []
    for n, (
        paper_id,
        doi,
        pmid,
        title,
        year,
        venue,
        types,
        authors,
        contexts,
        intents,
        influential,
    ) in enumerate(CITING):
        item = copy.deepcopy(edge)
        paper = item["citingPaper"]
        corpus_id = 250000001 + n  # constructed
        external = {"DOI": doi, "CorpusId": corpus_id}
        if pmid:
            external["PubMed"] = pmid
        item.update(
            contexts=contexts,
            intents=intents,
            isInfluential=influential,
            contextsWithIntent=[{"context": c, "intents": intents} for c in contexts],
        )
        paper.update(
            paperId=paper_id,
            externalIds=external,
            corpusId=corpus_id,
            publicationVenue=None,
            url=f"https://www.semanticscholar.org/paper/{paper_id}",
            title=title,
            abstract=None,
            venue=venue,
            year=year,
            referenceCount=60 + n,
            citationCount=3 - min(n, 3),
            influentialCitationCount=0,
            fieldsOfStudy=["Medicine"],
            s2FieldsOfStudy=[
                {"category": "Medicine", "source": "external"},
                {"category": "Biology", "source": "s2-fos-model"},
            ],
            publicationTypes=types,
            publicationDate=None,  # only the year is shared across sources
            journal={"name": venue} if types else None,
            authors=[
                {"authorId": str(5000001 + 10 * n + i), "name": name}
                for i, name in enumerate(authors)
            ],
        )
        page["data"].append(item)
    return page


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    slug = DOI.replace("/", "_")
    (HERE / f"{slug}.json").write_text(json.dumps(semanticscholar(), indent=2) + "\n")
    (HERE / f"citing_{slug}.json").write_text(
        json.dumps(citing_page(), indent=2, ensure_ascii=False) + "\n"
    )
