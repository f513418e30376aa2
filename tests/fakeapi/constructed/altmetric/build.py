"""Builds the constructed Altmetric counts record of the default article from a real recording.

Run from the project root:  python tests/fakeapi/constructed/altmetric/build.py

Starts as a deep copy of ../shared/fixtures/real/altmetric/v1_doi_10.1038_480426a_counts_2017.json
(a genuine v1 counts response) and replaces values only: the article's bibliographic values,
and modest made-up attention numbers (score 3.5, a handful of posts, 112 Mendeley readers).
"""

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
REAL = HERE.parents[3].parent / "shared" / "fixtures" / "real"
DOI = "10.1016/j.drup.2021.100752"
TITLE = (
    "Emerging role of autophagy in anti-tumor immunity: Implications for the modulation "
    "of immunotherapy resistance"
)
ALTMETRIC_ID = 104123456  # made up


def altmetric() -> dict:
    real = json.loads((REAL / "altmetric" / "v1_doi_10.1038_480426a_counts_2017.json").read_text())
    record = copy.deepcopy(real)
    for gone in ("tq", "ads_id", "cited_by_fbwalls_count", "cited_by_gplus_count"):
        record.pop(gone, None)
    context = record["context"]
    context["all"].update(count=21345678, mean=9.81, rank=8123456, pct=61, higher_than=13012345)
    context["journal"].update(count=812, mean=4.02, rank=310, pct=62, higher_than=500)
    context["similar_age_3m"].update(
        count=301234, mean=7.9, rank=120345, pct=60, higher_than=180000
    )
    context["similar_age_journal_3m"].update(count=40, mean=3.1, rank=14, pct=65, higher_than=26)
    history = {k: 0 for k in real["history"]}
    history.update({"1y": 0.25, "at": 3.5})
    record.update(
        title=TITLE,
        doi=DOI,
        pmid="33930000",
        altmetric_jid="4f6fa5403cf058f610003b7c",
        issns=["1368-7646", "1532-2084"],
        journal="Drug Resistance Updates",
        cohorts={"pub": 4, "sci": 1},
        authors=["Ting Jiang", "Xisha Chen", "Xingcong Ren", "Jin Ming Yang", "Yan Cheng"],
        type="article",
        altmetric_id=ALTMETRIC_ID,
        is_oa=False,
        cited_by_feeds_count=1,
        cited_by_posts_count=6,
        cited_by_tweeters_count=5,
        cited_by_accounts_count=6,
        last_updated=1763629964,
        score=3.5,
        history=history,
        url=f"https://doi.org/{DOI}",
        added_on=1617321600,
        published_on=1619827200,
        subjects=["pharmacology", "oncology"],
        readers={"citeulike": "0", "mendeley": "112", "connotea": "0"},
        readers_count=112,
        images={
            size: f"https://badges.altmetric.com/?size={px}&score=4&types=bttttttt"
            for size, px in (("small", 64), ("medium", 100), ("large", 180))
        },
        details_url=f"https://www.altmetric.com/details.php?citation_id={ALTMETRIC_ID}",
    )
    return record


if __name__ == "__main__":
    if not REAL.is_dir():
        sys.exit(f"needs the real recordings at {REAL}")
    out = HERE / f"{DOI.replace('/', '_')}.json"
    out.write_text(json.dumps(altmetric(), indent=2) + "\n")
