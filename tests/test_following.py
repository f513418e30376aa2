"""The sources that need a PMID follow those that give one, work by work (monitor/following.py)."""

from __future__ import annotations

import queue

from monitor.following import Following, chunks_from
from monitor.models import Observation, Outcome, SourceReport, Work

WORKS = [Work(f"10.9999/f.{i}") for i in range(5)]


def counts(source: str, works, pmids: dict[str, str] | None = None, outcome=Outcome.OK) -> SourceReport:
    pmids = pmids or {}
    return SourceReport(source, tuple(
        Observation(w.doi, source, outcome, metadata={"pmid": pmids[w.doi]} if w.doi in pmids else {})
        for w in works), ())


def handed(follow: Following, name: str) -> list[list[tuple[str, str | None]]]:
    out = []
    while True:
        try:
            chunk = follow.feeds[name].get_nowait()
        except queue.Empty:
            return out
        out.append(None if chunk is None else [(w.doi, w.pmid) for w in chunk])


def test_a_chunk_is_handed_over_once_every_provider_counted_each_of_its_works(tmp_path):
    works = [*WORKS[:3], Work(WORKS[3].doi, pmid="777"), WORKS[4]]  # the fourth's PMID is its own
    follow = Following({"openalex", "europepmc"}, {"icite": works, "pubmed": works}, {"icite": 2, "pubmed": 3})
    follow.saw(counts("openalex", works[:3], {works[0].doi: "100", works[1].doi: "101"}))
    assert handed(follow, "icite") == handed(follow, "pubmed") == []  # Europe PMC has counted none
    follow.saw(counts("europepmc", works[1:2], {works[1].doi: "201"}))
    assert handed(follow, "icite") == []  # the first work waits: chunks go in the plan's order
    follow.saw(counts("europepmc", works[0:1], {works[0].doi: "200"}))
    assert handed(follow, "icite") == [[(works[0].doi, "100"), (works[1].doi, "101")]]  # the first given
    assert handed(follow, "pubmed") == []  # its chunk of three waits for the third
    follow.saw(counts("europepmc", works[2:4], {works[2].doi: "202", works[3].doi: "203"}))
    assert handed(follow, "pubmed") == [[(works[0].doi, "100"), (works[1].doi, "101"), (works[2].doi, "202")]]
    assert handed(follow, "icite") == []  # the fourth counted by Europe PMC alone
    assert set(follow.seen) == {works[2].doi, works[3].doi}  # the first two handed to both: forgotten
    follow.counted()  # every provider done (OpenAlex's budget left the last two for later)
    assert handed(follow, "icite") == [[(works[2].doi, "202"), (works[3].doi, "777")], [(works[4].doi, None)], None]
    assert handed(follow, "pubmed") == [[(works[3].doi, "777"), (works[4].doi, None)], None]
    assert follow.seen == {}


def test_a_failed_answer_gives_no_pmid_and_a_follower_that_ended_gets_nothing_more():
    follow = Following({"openalex"}, {"icite": WORKS[:2], "pubmed": WORKS[:2]}, {"icite": 1, "pubmed": 1})
    follow.forget("pubmed")
    follow.saw(counts("openalex", WORKS[:1], outcome=Outcome.ERROR))
    follow.saw(counts("openalex", WORKS[1:2], {WORKS[1].doi: "not a pmid"}))
    follow.counted()
    assert handed(follow, "icite") == [[(WORKS[0].doi, None)], [(WORKS[1].doi, None)], None]
    assert handed(follow, "pubmed") == [None]  # only its end


def test_followers_go_in_step_only_where_their_plans_ask_the_same_works_in_order():
    assert Following.possible({"icite": WORKS, "pubmed": list(WORKS)})
    assert not Following.possible({"icite": WORKS, "pubmed": WORKS[::-1]})
    assert not Following.possible({"icite": WORKS, "pubmed": WORKS[:4]})


def test_a_followers_chunks_come_until_the_last_or_until_it_stops():
    feed: queue.Queue = queue.Queue()
    feed.put([WORKS[0]])
    feed.put(None)
    assert list(chunks_from(feed, lambda: False, 0.01)) == [[WORKS[0]]]
    stopped = []
    assert list(chunks_from(queue.Queue(), lambda: stopped.append(1) or len(stopped) > 2, 0.01)) == []
