"""The sources that look works up by PMID (iCite, PubMed) follow those that give one
(OpenAlex, Europe PMC): a work is handed to them, a chunk at a time, once every source
that gives PMIDs has counted it, while those go on counting.

Waiting for every count before asking any left both for the end: at 100,000 works they
started 220-260 s into a cold run, which ended some 110 s later. A work is asked with the
PMID the store keeps for it: its own (from config.toml, or stored by an earlier run), else
the first one a provider's ok answer gave, in the order the run's thread stores the chunks
(``store.learn_pmid``, which keeps the first). The followers go in step only where their
plans ask about the same works in the same order (a cold run's, and most runs'); else
every work waits for every count, as before (``Following.possible``).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace

from monitor import store
from monitor.models import SourceReport, Work

Feed = queue.Queue[list[Work] | None]  # a follower's chunks, then None


class Following:
    """Which works the followers may be asked about: each provider's chunks are ``saw`` as
    they are taken to be stored, and each follower's chunks come out of its ``feed``."""

    def __init__(self, providers: Collection[str], plans: Mapping[str, Sequence[Work]], sizes: Mapping[str, int]):
        self.providers = len(providers)
        self.works = next(iter(plans.values()))  # every follower's, in order (``possible``)
        self.sizes = dict(sizes)  # follower → works in a chunk of it, while it takes them
        self.at = dict.fromkeys(plans, 0)  # follower → its next work not handed over yet
        self.feeds: dict[str, Feed] = {name: queue.Queue() for name in plans}
        # DOI → [providers that counted it, the PMID the first gave], until every follower has it
        self.seen: dict[str, list] = {}

    @staticmethod
    def possible(plans: Mapping[str, Sequence[Work]]) -> bool:
        """Whether the followers' plans ask about the same works in the same order."""
        first, *others = plans.values()
        return all(len(other) == len(first) and all(a.doi == b.doi for a, b in zip(first, other, strict=True))
                   for other in others)

    def saw(self, report: SourceReport) -> None:
        """A provider's chunk, taken to be stored: the works it completes are handed over."""
        for obs in report.observations:
            seen = self.seen.setdefault(obs.doi, [0, None])
            seen[0] += 1
            seen[1] = seen[1] or store.given_pmid(obs)
        self._hand_over(everything=False)

    def counted(self) -> None:
        """Every provider has counted: the rest is handed over, and the feeds end."""
        self._hand_over(everything=True)
        for feed in self.feeds.values():
            feed.put(None)
        self.seen.clear()

    def forget(self, source: str) -> None:
        """A source that ended: if a follower (its deadline, a stop), nothing more is handed to it."""
        if source in self.sizes:
            del self.sizes[source], self.at[source]

    def _hand_over(self, everything: bool) -> None:
        """Each follower's chunks whose works every provider has counted (``everything``:
        all that are left, the last chunk shorter)."""
        if not self.at:
            return
        passed = min(self.at.values())
        ready = passed  # the works up to here are counted by every provider (or all are due)
        while ready < len(self.works) and (everything or self._counted(self.works[ready])):
            ready += 1
        for name, size in self.sizes.items():
            at = self.at[name]
            while ready - at >= size or (everything and at < ready):
                end = min(at + size, ready)
                self.feeds[name].put([self._with_pmid(work) for work in self.works[at:end]])
                at = end
            self.at[name] = at
        for work in self.works[passed:min(self.at.values())]:  # handed to every follower: forgotten
            self.seen.pop(work.doi, None)

    def _counted(self, work: Work) -> bool:
        seen = self.seen.get(work.doi)
        return seen is not None and seen[0] >= self.providers

    def _with_pmid(self, work: Work) -> Work:
        seen = self.seen.get(work.doi)
        return work if work.pmid or not seen or not seen[1] else replace(work, pmid=seen[1])


def chunks_from(feed: Feed, stopping: Callable[[], bool], wait: float) -> Iterator[list[Work]]:
    """A follower's chunks as they are handed over, until the last, or until ``stopping``
    (looked at every ``wait`` seconds)."""
    while True:
        try:
            chunk = feed.get(timeout=wait)
        except queue.Empty:
            if stopping():
                return
            continue
        if chunk is None:
            return
        yield chunk
