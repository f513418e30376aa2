"""PubMed E-utilities: /elink.fcgi?dbfrom=pubmed&db=pubmed&id=1&id=2 (eLinkResult XML) and
/efetch.fcgi?db=pubmed&id=1,2&retmode=xml (PubmedArticleSet XML).

One LinkSet per ``id`` parameter, as ELink does for repeated ids. A PMID without
constructed links gets a LinkSet with no LinkSetDb: PubMed's answer for an article
no PubMed article cites. EFetch answers a PubmedArticle for each PMID with a record in
``records[ARTICLES]`` (see ``set_article``), and leaves the others out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.fakeapi.server import CONSTRUCTED, FakeAPI, Reply, Request

XML = {"Content-Type": "text/xml; charset=UTF-8"}
HEADER = (
    '<?xml version="1.0"?>\n<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD eLinkResult, 23 November 2010//EN" '
    '"http://www.ncbi.nlm.nih.gov/entrez/query/DTD/eLink_101123.dtd">\n'
)
ARTICLES = "pubmed_articles"  # records[ARTICLES][pmid]: {"types": [...], "comments": [(RefType, PMID)]}
EFETCH_HEADER = (
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January '
    '2023//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_230101.dtd">\n'
)
NOT_CITED = "\t<LinkSet>\n\t\t<DbFrom>pubmed</DbFrom>\n\t\t<IdList>\n\t\t\t<Id>{pmid}</Id>\n\t\t</IdList>\n\t</LinkSet>\n"


def load(fake: FakeAPI) -> None:
    # The default article: a Journal Article and Review, no notices (made up, like its links).
    set_article(fake, "33930000", ["Journal Article", "Review"])
    for path in sorted((CONSTRUCTED / "pubmed").glob("elink_*.xml")):
        for link_set in ET.fromstring(path.read_text()).findall("LinkSet"):
            pmid = link_set.findtext("IdList/Id")
            fake.records["pubmed"][pmid] = {
                "cited_by": [e.text for e in link_set.findall("LinkSetDb/Link/Id")]
            }


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.path == "/efetch.fcgi":
        return efetch(fake, request)
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


def efetch(fake: FakeAPI, request: Request) -> Reply:
    ids = [p for value in request.query.get("id", []) for p in value.split(",") if p]
    articles = "".join(article(p, fake.records[ARTICLES][p]) for p in ids if p in fake.records[ARTICLES])
    return Reply(200, EFETCH_HEADER + f"<PubmedArticleSet>\n{articles}</PubmedArticleSet>\n", XML)


def article(pmid: str, record: dict) -> str:
    """A PubmedArticle in the element layout of fixtures:pubmed/efetch_pubmed_xml_pmid28731372.xml,
    cut down to what the monitor reads from efetch (publication types, comment-corrections)."""
    types = "".join(f"<PublicationType>{t}</PublicationType>" for t in record["types"])
    comments = "".join(
        f'<CommentsCorrections RefType="{ref_type}"><RefSource>{source}</RefSource>'
        f'<PMID Version="1">{ref_pmid}</PMID></CommentsCorrections>'
        for ref_type, ref_pmid, source in record["comments"]
    )
    listed = f"<CommentsCorrectionsList>{comments}</CommentsCorrectionsList>" if comments else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
        f'<Article PubModel="Print-Electronic"><ArticleTitle>{record.get("title", "")}</ArticleTitle>'
        f"<PublicationTypeList>{types}</PublicationTypeList></Article>{listed}</MedlineCitation>"
        f'<PubmedData><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId></ArticleIdList>'
        "</PubmedData></PubmedArticle>\n"
    )


def set_article(
    fake: FakeAPI, pmid: str, types: list[str], comments: list[tuple[str, str, str]] = ()
) -> None:
    """What efetch says of ``pmid``: its publication types and (RefType, PMID, RefSource) links."""
    fake.records[ARTICLES][pmid] = {"types": list(types), "comments": list(comments)}
