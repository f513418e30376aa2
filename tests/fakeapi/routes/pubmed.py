"""PubMed E-utilities: /elink.fcgi?dbfrom=pubmed&db=pubmed&id=1&id=2 (eLinkResult XML).

One LinkSet per ``id`` parameter, as ELink does for repeated ids. A PMID without
constructed links gets a LinkSet with no LinkSetDb: PubMed's answer for an article
no PubMed article cites.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

XML = {"Content-Type": "text/xml; charset=UTF-8"}
HEADER = (
    '<?xml version="1.0"?>\n<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD eLinkResult, 23 November 2010//EN" '
    '"http://www.ncbi.nlm.nih.gov/entrez/query/DTD/eLink_101123.dtd">\n'
)
NOT_CITED = "\t<LinkSet>\n\t\t<DbFrom>pubmed</DbFrom>\n\t\t<IdList>\n\t\t\t<Id>{pmid}</Id>\n\t\t</IdList>\n\t</LinkSet>\n"


def load(fake: FakeAPI) -> None:
    for path in sorted((CONSTRUCTED / "pubmed").glob("elink_*.xml")):
        for link_set in ET.fromstring(path.read_text()).findall("LinkSet"):
            pmid = link_set.findtext("IdList/Id")
            fake.records["pubmed"][pmid] = {
                "cited_by": [e.text for e in link_set.findall("LinkSetDb/Link/Id")]
            }


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.path != "/elink.fcgi":
        return Reply(404, "Not Found")
    ids = [pmid for value in request.query.get("id", []) for pmid in value.split(",") if pmid]
    if not ids:
        return Reply(
            200,
            HEADER
            + "<eLinkResult>\n\t<ERROR>Empty id list - nothing todo</ERROR>\n</eLinkResult>\n",
            XML,
        )
    return Reply(
        200,
        HEADER + "<eLinkResult>\n\n" + "".join(link_set(fake, p) for p in ids) + "</eLinkResult>\n",
        XML,
    )


def link_set(fake: FakeAPI, pmid: str) -> str:
    record = fake.records["pubmed"].get(pmid)
    if not record or not record["cited_by"]:
        return NOT_CITED.format(pmid=pmid)
    links = "".join(
        f"\t\t\t\t<Link>\n\t\t\t\t<Id>{p}</Id>\n\t\t\t</Link>\n" for p in record["cited_by"]
    )
    return (
        f"\t<LinkSet>\n\t\t<DbFrom>pubmed</DbFrom>\n\t\t<IdList>\n\t\t\t<Id>{pmid}</Id>\n\t\t</IdList>\n"
        "\t\t<LinkSetDb>\n\t\t\t<DbTo>pubmed</DbTo>\n\t\t\t<LinkName>pubmed_pubmed_citedin</LinkName>\n"
        f"{links}\t\t</LinkSetDb>\n\t</LinkSet>\n"
    )


def set_citing(fake: FakeAPI, pmid: str, citing: list[str]) -> None:
    fake.records["pubmed"][pmid] = {"cited_by": list(citing)}
