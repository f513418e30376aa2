"""Builds the constructed PubMed elink answer for the default article from a real recording.

Run from the project root:  python tests/fakeapi/constructed/pubmed/build.py

Starts from the genuine eLinkResult of
../shared/fixtures/real/pubmed/elink_pubmed_to_pubmed_incl_citedin_pmid14873513.xml (its XML
declaration, DOCTYPE and LinkSet, whitespace included), keeps only the
pubmed_pubmed_citedin LinkSetDb (what ``linkname=pubmed_pubmed_citedin`` asks for) and
replaces the values: the PMID 33930000 and the citing PMIDs are made up for tests. The
citing PMIDs are those of the shared citing works A, C and E of the cross-source scenario.
"""

import copy
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from build_default_article import REAL

PMID = "33930000"  # constructed
CITING = ["35000001", "36000003", "37000006"]  # the shared citing works A, C, E (constructed)


def elink() -> str:
    text = (REAL / "pubmed" / "elink_pubmed_to_pubmed_incl_citedin_pmid14873513.xml").read_text()
    header = text[: text.index("<eLinkResult>")]
    root = ET.fromstring(text)
    link_set = copy.deepcopy(root.find("LinkSet"))
    link_set.find("IdList/Id").text = PMID
    for db in link_set.findall("LinkSetDb"):
        if db.findtext("LinkName") != "pubmed_pubmed_citedin":
            link_set.remove(db)
    [cited_in] = link_set.findall("LinkSetDb")
    links = cited_in.findall("Link")
    for link in links:
        cited_in.remove(link)
    for pmid in CITING:
        link = copy.deepcopy(links[0])
        link.find("Id").text = pmid
        cited_in.append(link)
    cited_in[-1].tail = links[-1].tail
    link_set.find("LinkSetDb").tail = "\n\t"
    root[:] = [link_set]
    return header + ET.tostring(root, encoding="unicode") + "\n"


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    (HERE / f"elink_citedin_{PMID}.xml").write_text(elink())
