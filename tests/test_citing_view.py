"""A citing work as a reader sees it: its link, its marks, its context trimmed to whole sentences."""

from __future__ import annotations

import pytest

from monitor.citing_view import MAX_AUTHORS, SNIPPET_CHARS, citing_entry, link, snippet

CITING = "Autophagy limits antigen presentation in tumours [12]."


def test_a_short_context_is_shown_whole():
    assert snippet("  Autophagy  limits\nantigen presentation [12]. ") == (
        "Autophagy limits antigen presentation [12]."
    )


def test_a_long_context_keeps_the_citing_sentence_whole_and_its_neighbours_that_fit():
    before = [f"Background sentence number {i} says something rather general." for i in range(6)]
    after = [f"Later sentence {i} goes on about the methods in some detail." for i in range(6)]
    text = " ".join([*before, CITING, *after])
    trimmed = snippet(text)
    assert CITING in trimmed
    assert trimmed.startswith("… ") and trimmed.endswith(" …")
    assert len(trimmed) <= SNIPPET_CHARS + len("…  …")
    inner = trimmed.removeprefix("… ").removesuffix(" …")
    assert f". {inner} " in text and inner.endswith(".")  # whole sentences, from a break to a break
    assert before[-1] in inner and after[0] in inner  # its neighbours, while they fit


@pytest.mark.parametrize(
    "marker", ["[7]", "[3, 4–6]", "(Jiang et al., 2021)", "(Jiang 2021a; Li 2022)"]
)
def test_the_citing_sentence_is_found_by_its_marker(marker):
    cited = f"Autophagy shapes antitumor immunity {marker}."
    filler = "This sentence only pads the context out to a length that needs trimming. " * 6
    trimmed = snippet(filler + cited + " " + filler)
    assert cited in trimmed


def test_a_passage_too_long_even_alone_is_cut_between_words_around_its_marker():
    words = " ".join(f"word{i}" for i in range(200))
    text = f"{words} as shown before [9] {words}."
    trimmed = snippet(text)
    assert "[9]" in trimmed and trimmed.startswith("… ") and trimmed.endswith(" …")
    inner = trimmed.removeprefix("… ").removesuffix(" …")
    assert inner in text and len(inner) <= 2 * SNIPPET_CHARS
    assert all(w.startswith("word") or w in ("as", "shown", "before", "[9]") for w in inner.split())


@pytest.mark.parametrize(
    "row, url",
    [
        ({"doi": "10.1/x", "pmid": "1"}, "https://doi.org/10.1/x"),
        ({"doi": None, "pmid": "35000001"}, "https://pubmed.ncbi.nlm.nih.gov/35000001/"),
        ({"doi": None, "pmid": None, "openalex_id": "W1"}, "https://openalex.org/W1"),
        ({"doi": None, "pmid": None, "s2_id": "abc"}, "https://www.semanticscholar.org/paper/abc"),
        ({"doi": None, "pmid": None}, None),
    ],
)
def test_a_citing_work_links_to_where_it_can_be_read(row, url):
    assert link(row) == url


def ledger_row(**changes):
    row = {
        "citation_id": 1, "doi": "10.1/x", "pmid": None, "preprint_doi": None, "title": "A title",
        "authors": [{"name": n} for n in ("A One", "B Two", "C Three", "D Four")],
        "venue": "Journal", "year": 2026, "published": "2026-01-02", "sources": ["openalex"],
        "sightings": {"openalex": {"gone_at": None}}, "intents": [], "contexts": [],
        "is_influential": 1, "is_self_citation": 1, "is_retracted": 1, "is_preprint": 1,
        "first_seen_run_id": 2, "first_seen_at": "2026-01-03T00:00:00+00:00",
    }
    return {**row, **changes}


def test_an_entry_shows_three_authors_and_every_mark_most_important_first():
    entry = citing_entry(ledger_row(), 2)
    assert entry.authors == "A One, B Two, C Three et al." and MAX_AUTHORS == 3
    assert entry.marks == ("retracted", "self-citation", "influential", "preprint")
    assert entry.is_new and entry.named and entry.sources == ("OpenAlex",)
    unnamed = citing_entry(ledger_row(title=None, authors=[], is_retracted=0), 3)
    assert unnamed.title == "10.1/x" and not unnamed.named and unnamed.authors == ""
