"""Two new citing works between two runs, for the digest's tests.

Constructed for tests, from the fake's own records (deep copies, values replaced, no field
invented): Semantic Scholar lists a new work with its title, four authors, venue, an
intent, a context and the influential flag (a copy of its first citation edge);
OpenCitations lists another by its DOI alone (a copy of its first row), which OpenAlex
does not list yet but knows by its DOI (a copy of its first citing work record, found by
the batched lookup that names citing works). Each source's count rises by one, so each
fetches its list again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tests.conftest import DEFAULT_DOI
from tests.fakeapi import FakeAPI
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.routes import opencitations as fake_opencitations
from tests.fakeapi.routes import semanticscholar as fake_s2

SOURCES = ("openalex", "crossref", "semanticscholar", "opencitations")


@dataclass(frozen=True)
class NewWork:
    doi: str
    title: str
    authors: tuple[str, ...]
    venue: str
    published: str
    source: str  # the source whose list has it

    @property
    def year(self) -> int:
        return int(self.published[:4])

    @property
    def shown_authors(self) -> str:
        """As an item shows them: the first three, then "et al."."""
        more = " et al." if len(self.authors) > 3 else ""
        return ", ".join(self.authors[:3]) + more


LISTED = NewWork(
    "10.1038/s41591-026-01234-5",
    "Autophagy flux as a biomarker of response to anti-PD-1 therapy in melanoma",
    ("Ana Silva", "Tomás Ruiz", "Kenji Sato", "Li Wei"),
    "Nature Medicine",
    "2026-10-30",
    "Semantic Scholar",
)
CONTEXT = (
    "Jiang et al. reviewed how autophagy shapes antitumor immunity and how its inhibition "
    "restores sensitivity to checkpoint blockade [7]."
)
INTENT = "methodology"
BY_DOI_ONLY = NewWork(
    "10.1186/s12943-026-00077-x",
    "Targeting ULK1 to reverse immune checkpoint inhibitor resistance",
    ("Priya Nair", "Jonas Berg"),
    "Molecular Cancer",
    "2026-10-12",
    "OpenCitations",
)


def list_new_citing_works(fake: FakeAPI) -> tuple[NewWork, NewWork]:
    """Make Semantic Scholar list ``LISTED`` and OpenCitations ``BY_DOI_ONLY``, which only
    OpenAlex's lookup by DOI can name."""
    edges = fake.records[fake_s2.CITING][DEFAULT_DOI]
    edge = copy.deepcopy(edges[0])
    paper = edge["citingPaper"]
    paper.update(
        paperId="b2c0ffee00000000000000000000000000000077",
        title=LISTED.title,
        venue=LISTED.venue,
        year=LISTED.year,
        publicationDate=LISTED.published,
        externalIds={"DOI": LISTED.doi},
        journal={"name": LISTED.venue},
        authors=[{"authorId": str(9000 + i), "name": n} for i, n in enumerate(LISTED.authors)],
    )
    edge.update(contexts=[CONTEXT], intents=[INTENT], isInfluential=True)
    edge["contextsWithIntent"] = [{"context": CONTEXT, "intents": [INTENT]}]
    edges.append(edge)
    s2 = fake.records["semanticscholar"][DEFAULT_DOI]
    fake_s2.set_count(fake, DEFAULT_DOI, s2["citationCount"] + 1)

    rows = fake.records[fake_opencitations.CITING][DEFAULT_DOI]
    rows.append(
        {
            **rows[0],
            "oci": "06120000077-06180000752",
            "citing": f"omid:br/06120000077 doi:{BY_DOI_ONLY.doi}",
            "creation": BY_DOI_ONLY.published,
        }
    )
    count = int(fake.records["opencitations"][DEFAULT_DOI][0]["count"])
    fake_opencitations.set_count(fake, DEFAULT_DOI, count + 1)

    listed = fake.records[fake_openalex.CITING]
    record = copy.deepcopy(next(iter(listed.values()))[0])
    record.update(
        id="https://openalex.org/W4400000077",
        doi=f"https://doi.org/{BY_DOI_ONLY.doi}",
        title=BY_DOI_ONLY.title,
        display_name=BY_DOI_ONLY.title,
        publication_year=BY_DOI_ONLY.year,
        publication_date=BY_DOI_ONLY.published,
        ids={"openalex": "https://openalex.org/W4400000077", "doi": f"https://doi.org/{BY_DOI_ONLY.doi}"},
    )
    record["primary_location"]["source"]["display_name"] = BY_DOI_ONLY.venue
    template = record["authorships"][0]
    record["authorships"] = []
    for i, name in enumerate(BY_DOI_ONLY.authors):
        authorship = copy.deepcopy(template)
        authorship["author"].update(id=f"https://openalex.org/A59000000{i}", display_name=name, orcid=None)
        authorship["raw_author_name"] = name
        record["authorships"].append(authorship)
    fake.records["openalex"][BY_DOI_ONLY.doi] = record  # known by its DOI, not yet listed
    return LISTED, BY_DOI_ONLY
