"""A paged citing list as its pages come, handed over in pieces where the run asks for it.

A work cited 10,000 times is 100 pages of OpenAlex, 10 of Semantic Scholar or Europe PMC,
and 20 MB of records held until the last page came, then stored in one transaction (the
writer's memory too). Where the run stores lists as they come, it sets ``hand_over``
(monitor/source_job.py) for the calls that ask them: a ``Listing`` then hands the records it
holds over whenever they reach ``PIECE_RECORDS``, each work's as a ``CitingList`` marked
``more`` (the rest follows in this run), with the answers they came from. The last piece is
the list as it ends: complete or not, or its failure. Only then is the list's fetch recorded
and can works vanish from it (``citing.save_list``). A list is bounded in memory by a
piece, not by the work's citations. Without ``hand_over`` (a list asked alone, a test), the
list is one piece, as it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import replace

from monitor.models import CitingList, CitingRecord, Observation, Work
from monitor.sources.base import citing_list

PIECE_RECORDS = 2_000  # records held before a piece is handed over (OpenAlex: 20 pages, some 5 MB of answers)

# Where the pieces of a list go (to be stored, with this call's answers so far); None: nowhere,
# a list is one piece. A context variable: ``Session.map``'s calls see the value of their caller.
hand_over: ContextVar[Callable[[list[CitingList]], None] | None] = ContextVar("hand_over", default=None)


class Listing:
    """The lists one paged query brings: one work's, or those of a batch query's works
    (``wanted``: by the key each record is listed under). ``add`` its records as each page is
    read, ``page_read`` after each page, ``lists`` at the end."""

    def __init__(self, wanted: Mapping[str, tuple[Work, Observation]]):
        self.wanted = wanted
        self.records: dict[str, list[CitingRecord]] = {key: [] for key in wanted}
        self.counted = dict.fromkeys(wanted, 0)  # records per list, handed over or not
        self.held = 0

    def add(self, key: str, record: CitingRecord) -> None:
        self.records[key].append(record)
        self.counted[key] += 1
        self.held += 1

    def page_read(self) -> None:
        """Hand the records held over as pieces, where the run asks for it and they are many."""
        hand = hand_over.get()
        if hand is None or self.held < PIECE_RECORDS:
            return
        pieces = [
            replace(citing_list(work, observation, self.records[key], complete=False), more=True)
            for key, (work, observation) in self.wanted.items()
            if self.records[key]
        ]
        self.records = {key: [] for key in self.wanted}
        self.held = 0
        hand(pieces)

    def lists(self, complete: bool) -> list[CitingList]:
        """Each work's last piece (the whole list, where none was handed over)."""
        return [
            citing_list(work, observation, self.records[key], complete)
            for key, (work, observation) in self.wanted.items()
        ]
