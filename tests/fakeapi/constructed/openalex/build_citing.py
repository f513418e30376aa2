"""Builds the constructed OpenAlex list of works citing the default article from a real shape.

Run from the project root:  python tests/fakeapi/constructed/openalex/build_citing.py

Starts as a deep copy of the genuine list page
../shared/fixtures/real/openalex/works_list_filter_title_search_count2.json: its envelope,
and for each citing work a deep copy of its first result (a journal article with a PMID),
so every field name and nesting is OpenAlex's own; only values are replaced, with those of
the shared citing works A, B, C, D' and E of the cross-source scenario. The W-, A-, S- and
I-ids, dates, institutions, topics and counts are made up for tests. Yan Cheng of C has
the OpenAlex author id of Yan Cheng in the default article's record (a self-citation).
The fake (tests/fakeapi/routes/openalex.py) pages ``results`` by ``per_page`` and cursor.
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from build_default_article import DOI, REAL

CITED = "https://openalex.org/W3139000000"  # the default article's constructed id

PLACES = {  # country → (institution id number, name, ROR), constructed
    "IT": ("I1000001", "University of Milan", "https://ror.org/00wjc7c48"),
    "CN": ("I139660479", "Central South University", "https://ror.org/00f1zfq44"),
    "CZ": ("I1000003", "Charles University", "https://ror.org/024d6js02"),
    "US": ("I9999999", "University of Kentucky", "https://ror.org/02k3smh20"),
    "PT": ("I1000005", "University of Lisbon", "https://ror.org/01c27hj86"),
    "NO": ("I1000006", "University of Oslo", "https://ror.org/01xtthb56"),
    "DE": ("I1000007", "Heidelberg University", "https://ror.org/038t36y30"),
}
FIELDS = {  # field → (field id number, subfield, domain), OpenAlex's own taxonomy
    "Biochemistry, Genetics and Molecular Biology": ("13", "Molecular Biology", "Life Sciences"),
    "Immunology and Microbiology": ("24", "Immunology", "Life Sciences"),
    "Medicine": ("27", "Oncology", "Health Sciences"),
}
# (W-id, DOI, PMID, title, date, type, venue, [(author, A-id, ORCID, country)], [(topic, field)])
CITING = [
    ("W4220000001", "10.1038/s41580-022-00001-a", "35000001",
     "Autophagy and immune evasion in solid tumours", "2022-02-14", "review",
     "Nature Reviews Molecular Cell Biology",
     [("Maria Rossi", "A5100000011", None, "IT"), ("Jian Li", "A5100000012", None, "CN")],
     [("Autophagy in Disease and Therapy", "Biochemistry, Genetics and Molecular Biology")]),
    ("W4220000002", "10.1016/j.ccell.2022.00002", "35000002",
     "Targeting autophagy to overcome checkpoint blockade resistance", "2022-06-13", "article",
     "Cancer Cell", [("Peter Novak", "A5100000021", None, "CZ")],
     [("Immunotherapy and Immune Responses", "Immunology and Microbiology"),
      ("Cancer Immunotherapy and Biomarkers", "Medicine")]),
    ("W4320000003", "10.1016/j.phrs.2023.00003", "36000003",
     "Autophagy inhibitors sensitise tumours to PD-1 blockade", "2023-03-01", "article",
     "Pharmacological Research",
     [("Yan Cheng", "A500000004", None, "US"), ("Wei Zhang", "A5100000032", None, "CN")],
     [("Cancer Immunotherapy and Biomarkers", "Medicine")]),
    ("W4390000005", "10.1038/s41467-024-00005", "38000005",
     "Secretory autophagy shapes the tumour immune microenvironment", "2024-01-20", "article",
     "Nature Communications",
     [("Ana Silva", "A5100000041", "0000-0002-1825-0097", "PT"),
      ("Tom Berg", "A5100000042", None, "NO")],
     [("Autophagy in Disease and Therapy", "Biochemistry, Genetics and Molecular Biology"),
      ("Immunotherapy and Immune Responses", "Immunology and Microbiology")]),
    ("W4320000006", "10.3390/cancers15000006", "37000006",
     "Autophagy-related gene signatures predict immunotherapy response", "2023-03-10", "article",
     "Cancers", [("Lena Schmidt", "A5100000061", None, "DE")],
     [("Cancer Immunotherapy and Biomarkers", "Medicine")]),
]


def work(template: dict, row: tuple, n: int) -> dict:
    wid, doi, pmid, title, date, kind, venue, authors, topics = row
    record = copy.deepcopy(template)
    url = f"https://openalex.org/{wid}"
    record.update(
        id=url, doi=f"https://doi.org/{doi}", title=title, display_name=title,
        publication_year=int(date[:4]), publication_date=date, type=kind, type_crossref="journal-article",
        ids={"openalex": url, "doi": f"https://doi.org/{doi}", "pmid": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}"},
        cited_by_count=14 - 3 * n if n < 4 else 1, is_retracted=False, fwci=None,
        cited_by_api_url=f"https://api.openalex.org/works?filter=cites:{wid}",
        # a work a ``cites:`` query lists references the cited work: the default article
        counts_by_year=[], referenced_works=[CITED], related_works=[], referenced_works_count=60 + n,
        abstract_inverted_index=None, mesh=[], keywords=[], concepts=[], grants=[],
        corresponding_author_ids=[], corresponding_institution_ids=[],
    )
    record.pop("relevance_score", None)  # a search score: not in a filter-only list
    location = record["primary_location"]
    location["source"].update(
        id=f"https://openalex.org/S49{n:08d}", display_name=venue, issn_l=None, issn=None,
        host_organization=None, host_organization_name=None,
        host_organization_lineage=[], host_organization_lineage_names=[],
    )
    location.update(landing_page_url=f"https://doi.org/{doi}", pdf_url=None, is_oa=False,
                    license=None, license_id=None)
    record["locations"] = [location]
    record["best_oa_location"] = None
    record["open_access"] = {"is_oa": False, "oa_status": "closed", "oa_url": None,
                             "any_repository_has_fulltext": False}
    shape = template["authorships"][0]
    record["authorships"] = []
    for i, (name, author_id, orcid, country) in enumerate(authors):
        number, place, ror = PLACES[country]
        institution = dict(copy.deepcopy(shape["institutions"][0]), id=f"https://openalex.org/{number}",
                           display_name=place, ror=ror, country_code=country, type="education",
                           lineage=[f"https://openalex.org/{number}"])
        record["authorships"].append(dict(
            copy.deepcopy(shape),
            author_position="first" if i == 0 else ("last" if i == len(authors) - 1 else "middle"),
            author={"id": f"https://openalex.org/{author_id}", "display_name": name,
                    "orcid": f"https://orcid.org/{orcid}" if orcid else None},
            institutions=[institution], countries=[country], is_corresponding=False,
            raw_author_name=name, raw_affiliation_strings=[place],
            affiliations=[{"raw_affiliation_string": place, "institution_ids": [institution["id"]]}],
        ))
    record["countries_distinct_count"] = len({a[3] for a in authors})
    record["institutions_distinct_count"] = len({a[3] for a in authors})
    topic = template["topics"][0]
    record["topics"] = []
    for k, (name, field) in enumerate(topics):
        number, subfield, domain = FIELDS[field]
        record["topics"].append(dict(
            copy.deepcopy(topic), id=f"https://openalex.org/T1{n}{k:03d}", display_name=name,
            score=round(0.99 - 0.02 * k, 4),
            subfield={"id": f"https://openalex.org/subfields/{number}00", "display_name": subfield},
            field={"id": f"https://openalex.org/fields/{number}", "display_name": field},
            domain={"id": "https://openalex.org/domains/1", "display_name": domain},
        ))
    record["primary_topic"] = record["topics"][0]
    return record


def citing() -> dict:
    real = json.loads((REAL / "openalex" / "works_list_filter_title_search_count2.json").read_text())
    page = copy.deepcopy(real)
    page["meta"].update(count=len(CITING), page=None, per_page=100, next_cursor=None)
    page["results"] = [work(real["results"][0], row, n) for n, row in enumerate(CITING)]
    return page


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    (HERE / f"citing_{DOI.replace('/', '_')}.json").write_text(
        json.dumps(citing(), indent=2, ensure_ascii=False) + "\n"
    )
