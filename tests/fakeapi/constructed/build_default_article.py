"""Builds the constructed fixtures for the default article from real recorded shapes.

Run from the project root:  python tests/fakeapi/constructed/build_default_article.py

Each record starts as a deep copy of a genuine recorded response in
../shared/fixtures/real/ (so every field name and nesting is the API's own), and
only values are replaced with the default article's. Counts, identifiers that we
could not check (OpenAlex W-id, PMID) and institution data are made up for tests.
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
REAL = HERE.parents[2].parent / "shared" / "fixtures" / "real"
DOI = "10.1016/j.drup.2021.100752"
TITLE = (
    "Emerging role of autophagy in anti-tumor immunity: Implications for the modulation "
    "of immunotherapy resistance"
)
AUTHORS = [("Ting", "Jiang"), ("Xisha", "Chen"), ("Xingcong", "Ren"), ("Jin Ming", "Yang"), ("Yan", "Cheng")]
ABSTRACT = (HERE / "default_article_abstract.txt").read_text().strip()


def inverted_index(text: str) -> dict:
    index: dict = {}
    for position, word in enumerate(text.split()):
        index.setdefault(word, []).append(position)
    return index


def openalex() -> dict:
    real = json.loads((REAL / "openalex" / "work_by_doi_10.1016_j.xgen.2025.100814.json").read_text())
    work = copy.deepcopy(real)
    wid = "https://openalex.org/W3139000000"  # constructed id
    source = work["primary_location"]["source"]
    source.update(
        id="https://openalex.org/S119520286", display_name="Drug Resistance Updates",
        issn_l="1368-7646", issn=["1368-7646", "1532-2084"], is_oa=False, is_in_doaj=False,
    )
    work.update(
        id=wid, doi=f"https://doi.org/{DOI}", title=TITLE, display_name=TITLE,
        publication_year=2021, publication_date="2021-05-01", type="review", type_crossref="journal-article",
        ids={"openalex": wid, "doi": f"https://doi.org/{DOI}", "pmid": "https://pubmed.ncbi.nlm.nih.gov/33930000"},
        open_access={"is_oa": False, "oa_status": "closed", "oa_url": None, "any_repository_has_fulltext": False},
        fwci=1.87, cited_by_count=41,
        citation_normalized_percentile={"value": 0.861, "is_in_top_1_percent": False, "is_in_top_10_percent": False},
        cited_by_percentile_year={"min": 85, "max": 87},
        biblio={"volume": "56", "issue": None, "first_page": "100752", "last_page": "100752"},
        is_retracted=False,
        abstract_inverted_index=inverted_index(ABSTRACT),
        abstract_inverted_index_v3=None,
        cited_by_api_url=f"https://api.openalex.org/works?filter=cites:{wid.rsplit('/', 1)[1]}",
        counts_by_year=[
            {"year": y, "cited_by_count": c}
            for y, c in [(2026, 3), (2025, 6), (2024, 9), (2023, 11), (2022, 10), (2021, 2)]
        ],
        referenced_works_count=182, mesh=[], grants=[], datasets=[], versions=[],
        sustainable_development_goals=[], related_works=[], referenced_works=[],
    )
    work["primary_location"]["landing_page_url"] = f"https://doi.org/{DOI}"
    work["primary_location"].update(is_oa=False, license=None, license_id=None, version="publishedVersion")
    work["locations"] = [work["primary_location"]]
    work["locations_count"] = 1
    work["best_oa_location"] = None
    template = real["authorships"][0]
    countries = {"Jiang": "CN", "Chen": "CN", "Ren": "US", "Yang": "US", "Cheng": "US"}
    institution = {
        "CN": {"id": "https://openalex.org/I139660479", "display_name": "Central South University", "ror": "https://ror.org/00f1zfq44", "country_code": "CN", "type": "education", "lineage": ["https://openalex.org/I139660479"]},
        "US": {"id": "https://openalex.org/I9999999", "display_name": "University of Kentucky", "ror": "https://ror.org/02k3smh20", "country_code": "US", "type": "education", "lineage": ["https://openalex.org/I9999999"]},
    }
    work["authorships"] = []
    for i, (given, family) in enumerate(AUTHORS):
        a = copy.deepcopy(template)
        inst = institution[countries[family]]
        a.update(
            author_position="first" if i == 0 else ("last" if i == len(AUTHORS) - 1 else "middle"),
            author={"id": f"https://openalex.org/A50000000{i}", "display_name": f"{given} {family}", "orcid": None},
            institutions=[inst], countries=[inst["country_code"]], is_corresponding=i == len(AUTHORS) - 1,
            raw_author_name=f"{given} {family}", raw_affiliation_strings=[inst["display_name"]],
            affiliations=[{"raw_affiliation_string": inst["display_name"], "institution_ids": [inst["id"]]}],
        )
        work["authorships"].append(a)
    topic = real["topics"][0]
    work["topics"] = [
        dict(copy.deepcopy(topic), id="https://openalex.org/T10195", display_name="Autophagy in Disease and Therapy", score=0.9998,
             subfield={"id": "https://openalex.org/subfields/1312", "display_name": "Molecular Biology"},
             field={"id": "https://openalex.org/fields/13", "display_name": "Biochemistry, Genetics and Molecular Biology"},
             domain={"id": "https://openalex.org/domains/1", "display_name": "Life Sciences"}),
        dict(copy.deepcopy(topic), id="https://openalex.org/T10008", display_name="Immunotherapy and Immune Responses", score=0.9871,
             subfield={"id": "https://openalex.org/subfields/2403", "display_name": "Immunology"},
             field={"id": "https://openalex.org/fields/24", "display_name": "Immunology and Microbiology"},
             domain={"id": "https://openalex.org/domains/1", "display_name": "Life Sciences"}),
        dict(copy.deepcopy(topic), id="https://openalex.org/T10630", display_name="Cancer Immunotherapy and Biomarkers", score=0.9702,
             subfield={"id": "https://openalex.org/subfields/2730", "display_name": "Oncology"},
             field={"id": "https://openalex.org/fields/27", "display_name": "Medicine"},
             domain={"id": "https://openalex.org/domains/4", "display_name": "Health Sciences"}),
    ]
    work["primary_topic"] = work["topics"][0]
    work["keywords"] = [
        {"id": f"https://openalex.org/keywords/{k.lower().replace(' ', '-')}", "display_name": k, "score": s}
        for k, s in [("Autophagy", 0.81), ("Tumor microenvironment", 0.62), ("Immunotherapy", 0.55)]
    ]
    work["concepts"] = []
    return work


def crossref() -> dict:
    real = json.loads((REAL / "crossref" / "work_10.1016_j.neurobiolaging.2010.03.024_polite_pool.json").read_text())
    message = copy.deepcopy(real["message"])
    date = {"date-parts": [[2021, 5]]}
    message.update(
        DOI=DOI, title=[TITLE], URL=f"https://doi.org/{DOI}",
        **{"container-title": ["Drug Resistance Updates"], "short-container-title": ["Drug Resistance Updates"],
           "is-referenced-by-count": 35, "reference-count": 182, "references-count": 182,
           "published-print": date, "published": date, "issued": date,
           "alternative-id": ["S1368764621000157"], "article-number": "100752"},
        volume="56", ISSN=["1368-7646"], publisher="Elsevier BV", type="journal-article",
        subject=[], reference=[], funder=[], assertion=[], relation={},
        author=[
            {"given": g, "family": f, "sequence": "first" if i == 0 else "additional", "affiliation": []}
            for i, (g, f) in enumerate(AUTHORS)
        ],
    )
    message.pop("issue", None)
    message.pop("page", None)
    message["journal-issue"] = {"issue": None, "published-print": date}
    message["issn-type"] = [{"type": "print", "value": "1368-7646"}]
    return message  # the record; the fake wraps it in the list or singleton envelope


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    slug = DOI.replace("/", "_")
    (HERE / "openalex" / f"{slug}.json").write_text(json.dumps(openalex(), indent=2) + "\n")
    (HERE / "crossref" / f"{slug}.json").write_text(json.dumps(crossref(), indent=2) + "\n")
