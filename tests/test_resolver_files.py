"""File collections: BibTeX, RIS, CSV and plain lists; a DOI written three ways is one work."""

from __future__ import annotations

import pytest

from monitor.config import CollectionConfig
from monitor.models import Outcome
from monitor.resolvers import files

DOI = "10.1016/j.drup.2021.100752"


def dois(name: str, text: str) -> list[str]:
    found, _ = files.read(name, text.encode())
    return [f.doi for f in found]


def test_bibtex_entries_with_braces_quotes_strings_and_comments():
    text = r"""
% a comment line with an @ sign: someone@example.org
@string{drup = "Drug Resistance Updates"}
@preamble{"\newcommand{\noop}[1]{}"}
@Article{jiang2021,
  title   = {Emerging role of {autophagy} in anti-tumor immunity},
  journal = drup # " 56",
  doi     = {https://doi.org/10.1016/J.DRUP.2021.100752},
  year    = 2021,
}
@misc( arxiv2022 ,
  title = "A preprint with {"}quotes{"}",
  eprint = {2202.01037v2}, archivePrefix = {arXiv},
)
@inproceedings{nodoi, title = {No identifier}, booktitle = {Proc.}}
@comment{@article{hidden, doi = {10.1000/hidden.1}}}
@online{web, url = {https://arxiv.org/abs/hep-th/9901001}, title = {Old-style arXiv}}
"""
    found, skipped = files.read("works.bib", text.encode())
    assert [(f.doi, f.title) for f in found] == [
        (DOI, "Emerging role of autophagy in anti-tumor immunity"),
        ("10.48550/arxiv.2202.01037", 'A preprint with "quotes"'),
        ("10.48550/arxiv.hep-th/9901001", "Old-style arXiv"),
    ]
    assert [(s.item, s.reason) for s in skipped] == [
        ("@inproceedings{nodoi} (line 15)", "no DOI or arXiv id")
    ]


def test_a_broken_bibtex_entry_is_one_line_naming_where():
    with pytest.raises(files.UnreadableFile, match="the entry @article on line 2 is never closed"):
        files.read("x.bib", b"\n@article{a, doi = {10.1000/a.1}\n")


def test_ris_records_by_do_or_a_link():
    text = (
        "TY  - JOUR\nTI  - First\nDO  - 10.1016/J.DRUP.2021.100752\nER  - \n\n"
        "TY  - JOUR\nT1  - Second\nUR  - https://doi.org/10.1000/b.2\nER  - \n"
        "TY  - GEN\nTI  - Third\nUR  - https://arxiv.org/abs/2202.01037\nER  -\n"
        "TY  - BOOK\nTI  - Fourth\nER  - \n"
    )
    found, skipped = files.read("export.ris", text.encode())
    assert [f.doi for f in found] == [DOI, "10.1000/b.2", "10.48550/arxiv.2202.01037"]
    assert [(s.item, s.reason, s.title) for s in skipped] == [
        ("record 4 (line 14)", "no DOI or arXiv id", "Fourth")  # lines 1-4, a blank, 6-9, 10-13
    ]


def test_an_unclosed_ris_record_is_an_error():
    with pytest.raises(files.UnreadableFile, match="the record from line 1 has no closing ER tag"):
        files.read("x.ris", b"TY  - JOUR\nDO  - 10.1000/a.1\n")


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_csv_with_a_doi_column_in_any_case_and_separator(separator):
    rows = [["Title", "DOI", "Year"], ["A", DOI, "2021"], ["B", "", "2020"], ["C", "not a doi", "2019"]]
    text = "\n".join(separator.join(r) for r in rows) + "\n"
    found, skipped = files.read("list.csv", text.encode())
    assert [(f.doi, f.title) for f in found] == [(DOI, "A")]
    assert [(s.item, s.reason) for s in skipped] == [
        ("row 3", "no DOI or arXiv id"),
        ("row 4", "'not a doi' is not a DOI or arXiv id"),
    ]


def test_a_csv_without_a_doi_column_names_its_columns():
    with pytest.raises(files.UnreadableFile, match=r"has no doi column \(its columns: title, year\)"):
        files.read("list.csv", b"title,year\nA,2021\n")


def test_a_plain_list_and_a_doi_written_three_ways_is_one_work():
    text = f"# my works\n{DOI}\n\nhttps://doi.org/{DOI.upper()}\ndoi:{DOI}\narXiv:2202.01037\nnonsense\n"
    found, skipped = files.read("works.txt", text.encode())
    assert [f.doi for f in found] == [DOI, "10.48550/arxiv.2202.01037"]
    assert [(s.item, s.reason) for s in skipped] == [("line 7", "'nonsense' is not a DOI or arXiv id")]


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("mine", f"@article{{a, doi={{{DOI}}}}}", "bibtex"),
        ("mine", f"TY  - JOUR\nDO  - {DOI}\nER  - \n", "ris"),
        ("mine", f"title,doi\nA,{DOI}\n", "csv"),
        ("mine", f"doi\n{DOI}\n", "csv"),
        ("mine", f"{DOI}\n", "list"),
        ("a.bib", "", "bibtex"),
        ("a.RIS", "", "ris"),
        ("a.tsv", "", "csv"),
    ],
)
def test_the_format_comes_from_the_extension_else_the_content(name, text, expected):
    assert files.file_format(name, text) == expected


def test_latin1_bibtex_still_gives_its_dois():
    text = f"@article{{a, title = {{Caf\xe9}}, doi = {{{DOI}}}}}".encode("latin-1")
    found, _ = files.read("old.bib", text)
    assert [(f.doi, f.title) for f in found] == [(DOI, "Café")]


def test_the_resolver_keeps_the_file_for_provenance_and_says_when_it_is_missing(tmp_path):
    path = tmp_path / "works.txt"
    path.write_text(f"{DOI}\n")
    collection = CollectionConfig("mine", "file", "works.txt", path=path)
    resolution = files.resolve(collection, context=None)  # type: ignore[arg-type]
    assert resolution.outcome is Outcome.OK and resolution.content == path.read_bytes()
    path.unlink()
    missing = files.resolve(collection, context=None)  # type: ignore[arg-type]
    assert missing.outcome is Outcome.ERROR and not missing.complete
    assert missing.message == f"{path} not found; fix file = in [[collections]] 'mine'"
