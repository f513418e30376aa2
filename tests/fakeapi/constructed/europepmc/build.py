"""Builds the constructed Europe PMC record of the default article from a real recorded shape.

Run from the project root:  python tests/fakeapi/constructed/europepmc/build.py

Starts as a deep copy of one genuine ``resultType=core`` search result
(../shared/fixtures/real/europepmc/search_core_cancer_pageSize25.json, the Elsevier
article 10.1016/j.canep.2025.102866, which like ours has an article number and no issue),
so every field name and nesting is Europe PMC's own; only values are replaced. The MeSH
list takes its shape from another result of the same file. The count, PMID, ids, MeSH
headings, affiliations and index dates are made up for tests.

``citing()`` builds the default article's citations list (``/MED/33930000/citations``) from
the genuine page ../shared/fixtures/real/europepmc/LEGACY_2016_citations_MED_15723116_page1.json:
its envelope and first citation are deep-copied and the values replaced by those of the
shared citing works A, C and E of the cross-source scenario (all constructed).
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from build_default_article import ABSTRACT, AUTHORS, DOI, REAL, TITLE

PMID = "33930000"  # constructed
KEYWORDS = [
    "Autophagy",
    "Immunotherapy",
    "Resistance",
    "Tumor immunity",
    "Tumor microenvironment (TME)",
]
MESH = [  # constructed: plausible headings for a review on autophagy and immunotherapy
    ("Y", "Autophagy"),
    ("N", "Humans"),
    ("Y", "Immunotherapy"),
    ("Y", "Neoplasms"),
    ("N", "Drug Resistance, Neoplasm"),
    ("N", "Tumor Microenvironment"),
    ("N", "Animals"),
]
PLACES = {  # constructed, the same institutions as the OpenAlex record
    "Jiang": "Central South University, Changsha, China.",
    "Chen": "Central South University, Changsha, China.",
    "Ren": "University of Kentucky, Lexington, KY, USA.",
    "Yang": "University of Kentucky, Lexington, KY, USA.",
    "Cheng": "University of Kentucky, Lexington, KY, USA.",
}


def initials(given: str) -> str:
    return "".join(part[0] for part in given.split())


def europepmc() -> dict:
    real = json.loads((REAL / "europepmc" / "search_core_cancer_pageSize25.json").read_text())
    results = real["resultList"]["result"]
    template = next(r for r in results if r.get("doi") == "10.1016/j.canep.2025.102866")
    mesh_shape = next(r for r in results if "meshHeadingList" in r)["meshHeadingList"][
        "meshHeading"
    ][0]
    assert "meshQualifierList" not in mesh_shape
    record = copy.deepcopy(template)
    author_shape = template["authorList"]["author"][0]
    record["authorList"]["author"] = [
        dict(
            copy.deepcopy(author_shape),
            fullName=f"{family} {initials(given)}",
            firstName=given,
            lastName=family,
            initials=initials(given),
            authorAffiliationDetailsList={"authorAffiliation": [{"affiliation": PLACES[family]}]},
        )
        for given, family in AUTHORS
    ]
    record["journalInfo"].update(
        volume="56",
        journalIssueId=3100000,
        dateOfPublication="2021 May",
        monthOfPublication=5,
        yearOfPublication=2021,
        printPublicationDate="2021-05-01",
        journal={
            "title": "Drug Resistance Updates",
            "medlineAbbreviation": "Drug Resist Updat",
            "isoabbreviation": "Drug Resist Updat",
            "nlmid": "9815369",
            "issn": "1368-7646",
            "essn": "1532-2084",
        },
    )
    record.update(
        id=PMID,
        pmid=PMID,
        doi=DOI,
        title=f"{TITLE}.",
        authorString=", ".join(f"{family} {initials(given)}" for given, family in AUTHORS) + ".",
        pubYear="2021",
        pageInfo="100752",
        affiliation=PLACES["Jiang"],
        publicationStatus="ppublish",
        pubTypeList={"pubType": ["Review", "Journal Article"]},
        keywordList={"keyword": KEYWORDS},
        meshHeadingList={
            "meshHeading": [
                dict(copy.deepcopy(mesh_shape), majorTopic_YN=major, descriptorName=name)
                for major, name in MESH
            ]
        },
        abstractText=ABSTRACT,
        fullTextUrlList={
            "fullTextUrl": [
                dict(template["fullTextUrlList"]["fullTextUrl"][0], url=f"https://doi.org/{DOI}")
            ]
        },
        isOpenAccess="N",
        citedByCount=30,
        hasReferences="Y",
        dateOfCreation="2021-05-01",
        firstIndexDate="2021-05-02",
        dateOfRevision="2021-05-15",
        firstPublicationDate="2021-05-01",
    )
    for key in ("electronicPublicationDate", "dateOfCompletion"):
        record.pop(key, None)
    return record


# The shared citing works Europe PMC lists (A, C, E), as its citations module writes them:
# MEDLINE author initials, NLM journal abbreviations, titles with PubMed's closing period.
# (PMID, citationType, title, authorString, journalAbbreviation, pubYear, volume, issue,
# pageInfo, citedByCount); volume to citedByCount are made up.
CITING = [
    (
        "35000001",
        "Review; Journal Article",
        "Autophagy and immune evasion in solid tumours.",
        "Rossi M, Li J.",
        "Nat Rev Mol Cell Biol",
        2022,
        "23",
        "4",
        "245-262",
        14,
    ),
    (
        "36000003",
        "research-article; Journal Article",
        "Autophagy inhibitors sensitise tumours to PD-1 blockade.",
        "Cheng Y, Zhang W.",
        "Pharmacol Res",
        2023,
        "189",
        None,
        "106683",
        3,
    ),
    (
        "37000006",
        "Journal Article",
        "Autophagy-related gene signatures predict immunotherapy response.",
        "Schmidt L.",
        "Cancers (Basel)",
        2023,
        "15",
        "6",
        "1706",
        1,
    ),
]


def citing() -> dict:
    """Every citation of the default article in one page; the fake pages it by page/pageSize."""
    real = json.loads(
        (REAL / "europepmc" / "LEGACY_2016_citations_MED_15723116_page1.json").read_text()
    )
    page = copy.deepcopy(real)
    shape = real["citationList"]["citation"][0]
    page.update(
        version="6.9",  # the version the search answers give (search_core_cancer_pageSize25.json)
        hitCount=len(CITING),
        request={"id": PMID, "source": "MED", "page": 1, "pageSize": 1000},
    )
    page["citationList"]["citation"] = []
    for pmid, kind, title, authors, journal, year, volume, issue, pages, cited in CITING:
        citation = dict(
            copy.deepcopy(shape),
            id=pmid,
            source="MED",
            citationType=kind,
            title=title,
            authorString=authors,
            journalAbbreviation=journal,
            pubYear=year,
            volume=volume,
            issue=issue,
            pageInfo=pages,
            citedByCount=cited,
        )
        if issue is None:
            del citation["issue"]  # as the real citations without an issue have none
        page["citationList"]["citation"].append(citation)
    return page


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    slug = DOI.replace("/", "_")
    (HERE / f"{slug}.json").write_text(json.dumps(europepmc(), indent=2) + "\n")
    (HERE / f"citing_{slug}.json").write_text(json.dumps(citing(), indent=2) + "\n")
