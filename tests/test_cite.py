"""'Cite this': the default article in each default CSL style, as each style's guide writes
a journal article with an article number; BibTeX and RIS.

The expected strings are written from the guides, not from our output: APA 7 (§10.1;
"Article" before an article number; ampersand before the last of up to 20 authors),
NLM's Citing Medicine (Vancouver: six authors, abbreviated journal, "2021 May;56:100752"),
Cite Them Right 12th ed. (Harvard: "et al." from four authors, title in quotes,
"Available at:"), the Chicago Manual of Style 18th ed. author-date (full given names,
headline-style title, "56 (May): 100752", the period inside the quotes in US English)
and Nature (initials, "&", abbreviated journal in italics, volume in bold, year last).
"""

from __future__ import annotations

import re

import pytest

from monitor import cite, metadata
from tests.conftest import DEFAULT_DOI

ARTICLE = {
    "title": "Emerging role of autophagy in anti-tumor immunity: Implications for the modulation of "
             "immunotherapy resistance",
    "authors": [{"name": n} for n in ("Ting Jiang", "Xisha Chen", "Xingcong Ren", "Jin Ming Yang", "Yan Cheng")],
    "journal": "Drug Resistance Updates", "journal_abbreviation": "Drug Resist Updat",
    "volume": "56", "article_number": "100752", "published": "2021-05", "year": 2021,
    "publisher": "Elsevier BV", "issn": "1368-7646",
}
TITLE = ARTICLE["title"]
URL = f"https://doi.org/{DEFAULT_DOI}"


def text(markup: object) -> str:
    """The reference as a reader reads it: tags dropped, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", str(markup)))


@pytest.mark.parametrize("style, expected", [
    ("apa", (f"Jiang, T., Chen, X., Ren, X., Yang, J. M., & Cheng, Y. (2021). {TITLE}. "
             f"Drug Resistance Updates, 56, Article 100752. {URL}")),
    ("vancouver", (f"Jiang T, Chen X, Ren X, Yang JM, Cheng Y. {TITLE}. Drug Resist Updat. "
                   f"2021 May;56:100752. doi:{DEFAULT_DOI}")),
    ("harvard", (f"Jiang, T. et al. (2021) “{TITLE},” Drug Resistance Updates, 56, p. 100752. "
                 f"Available at: {URL}.")),
    ("chicago", ("Jiang, Ting, Xisha Chen, Xingcong Ren, Jin Ming Yang, and Yan Cheng. 2021. "
                 "“Emerging Role of Autophagy in Anti-tumor Immunity: Implications for the Modulation of "
                 f"Immunotherapy Resistance.” Drug Resistance Updates 56 (May): 100752. {URL}.")),
    ("nature", (f"Jiang, T., Chen, X., Ren, X., Yang, J. M. & Cheng, Y. {TITLE}. Drug Resist Updat 56, "
                "100752 (2021).")),
])
def test_each_default_style_as_its_guide_writes_the_article(style, expected):
    assert text(cite.in_style(style, ARTICLE, DEFAULT_DOI)) == expected


def test_journal_and_volume_keep_their_typography():
    assert "<i>Drug Resistance Updates</i>, <i>56</i>, Article 100752" in cite.in_style("apa", ARTICLE, DEFAULT_DOI)
    assert "<i>Drug Resist Updat</i> <b>56</b>, 100752 (2021)" in cite.in_style("nature", ARTICLE, DEFAULT_DOI)


def test_the_default_styles_are_labelled_and_any_other_is_named_by_its_id():
    cited = cite.citations(ARTICLE, DEFAULT_DOI, ("apa", "vancouver", "harvard", "chicago", "nature", "ieee"))
    assert list(cited) == ["APA", "Vancouver", "Harvard", "Chicago", "Nature",
                           "Institute of Electrical and Electronics Engineers", "BibTeX", "RIS"]
    assert text(cited["Institute of Electrical and Electronics Engineers"]).startswith("T. Jiang, X. Chen, X. Ren")


def test_style_names_are_checked_against_the_packaged_styles():
    assert cite.style_exists("apa") and cite.style_exists("vancouver-nlm")  # independent and dependent
    assert not cite.style_exists("no-such-style") and not cite.style_exists("../apa")


def test_hostile_field_values_are_escaped_text():
    hostile = {**ARTICLE, "title": "<script>alert(1)</script> & co \ue000i\ue001x",
               "authors": [{"name": "Ann <b>Bold</b>"}]}
    html = str(cite.in_style("apa", hostile, "10.1/x<y>"))
    assert "<script>" not in html and "<b>" not in html and "&lt;script&gt;" in html
    assert "\ue000" not in html and "<i>Drug Resistance Updates</i>" in html
    assert "https://doi.org/10.1/x&lt;y&gt;" in html


def test_an_article_with_an_issue_and_a_page_range():
    paged = {**ARTICLE, "article_number": None, "issue": "2", "pages": "3911-3923", "published": "2021-05-04",
             "title": "Does it work?"}
    assert "Drug Resistance Updates, 56(2), 3911–3923. https://" in text(cite.in_style("apa", paged, DEFAULT_DOI))
    # NLM's minimal page range; the CSL locale's range delimiter is an en dash
    assert "Cheng Y. Does it work? Drug Resist Updat. 2021 May 4;56(2):3911–23. doi:" in text(
        cite.in_style("vancouver", paged, DEFAULT_DOI))
    assert "  pages = {3911--3923},\n" in cite.bibtex(paged, DEFAULT_DOI)
    assert ["SP  - 3911", "EP  - 3923"] == [x for x in cite.ris(paged, DEFAULT_DOI).splitlines() if x[:2] in ("SP", "EP")]


def test_apa_lists_nineteen_authors_an_ellipsis_and_the_last_beyond_twenty():
    many = {**ARTICLE, "authors": [{"name": f"Ann Author{chr(65 + i)}"} for i in range(22)]}
    authors = text(cite.in_style("apa", many, DEFAULT_DOI)).split(" (2021)")[0]
    assert authors.count(", A.") == 20
    # the CSL specification's ellipsis character, where the APA manual spaces three periods
    assert authors.endswith("AuthorS, A., … AuthorV, A.")


def test_csl_json_from_the_merged_record():
    item = cite.csl_json({**ARTICLE, "type": "journal-article"}, DEFAULT_DOI)
    assert item["type"] == "article-journal"
    assert item["author"][3] == {"family": "Yang", "given": "Jin Ming"}
    assert item["issued"] == {"date-parts": [[2021, 5]]}
    assert (item["number"], item["container-title-short"], item["DOI"]) == ("100752", "Drug Resist Updat", DEFAULT_DOI)
    assert cite.csl_json({"title": "x", "type": "book-chapter", "year": 1999}, "10.1/x")["issued"] == {"date-parts": [[1999]]}


def test_citations_use_the_family_names_a_source_gives():
    per_source = {
        "openalex": {"title": "A study of sonatas", "authors": [{"name": "Ludwig van Beethoven"}], "year": 1802},
        "crossref": {"authors": [{"name": "Ludwig van Beethoven", "given": "Ludwig", "family": "van Beethoven"}]},
    }
    record, _ = metadata.merge(per_source)
    cited = metadata.for_citation(record, per_source)
    assert text(cite.in_style("apa", cited, "10.1/x")).startswith("van Beethoven, L. (1802).")
    assert text(cite.in_style("vancouver", cited, "10.1/x")).startswith("van Beethoven L.")
    assert metadata.for_citation(record, {"openalex": per_source["openalex"]}) is record


# --- BibTeX and RIS ------------------------------------------------------------------


def test_bibtex_puts_the_article_number_where_every_style_prints_it():
    entry = cite.bibtex(ARTICLE, DEFAULT_DOI)
    assert entry.startswith("@article{Jiang2021,\n")
    assert "  author = {Jiang, Ting and Chen, Xisha and Ren, Xingcong and Yang, Jin Ming and Cheng, Yan},\n" in entry
    assert "  pages = {100752},\n" in entry and "eid" not in entry
    assert entry.endswith(f"  doi = {{{DEFAULT_DOI}}}\n}}")


def test_ris_for_the_article():
    assert cite.ris(ARTICLE, DEFAULT_DOI).splitlines() == [
        "TY  - JOUR", "AU  - Jiang, Ting", "AU  - Chen, Xisha", "AU  - Ren, Xingcong", "AU  - Yang, Jin Ming",
        "AU  - Cheng, Yan", f"TI  - {TITLE}", "JO  - Drug Resistance Updates", "PY  - 2021", "DA  - 2021/05",
        "VL  - 56", "SP  - 100752", "PB  - Elsevier BV", "SN  - 1368-7646", f"DO  - {DEFAULT_DOI}",
        f"UR  - {URL}", "ER  - ",
    ]


def test_bibtex_escapes_what_tex_would_read_as_commands():
    entry = cite.bibtex({**ARTICLE, "title": "50% of {unbalanced cases_x"}, DEFAULT_DOI)
    assert "  title = {50\\% of \\{unbalanced cases\\_x},\n" in entry
    assert cite.bibtex({**ARTICLE, "authors": [{"name": "Jörg Müller"}]}, DEFAULT_DOI).startswith("@article{Muller2021,")
