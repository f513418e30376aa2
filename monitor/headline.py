"""The headline: one citation figure per work, one definition, used by every view.

The index, the work page, the digest, ``report.json`` and the feed all show the
figure this module computes, so no two of them can disagree (docs/headline.md):

- the **best estimate** is the larger of (a) the highest count a source reports
  now and (b) the number of distinct citing works the ledger lists now (works some
  source still lists), and says which it is;
- it is never below a current source count;
- a work no source knows is "not indexed yet" (``value`` None), never 0;
- beside it: the count without the self-citations the ledger identifies, and its
  change since the previous run and over 30 and 365 days.

A source "reports now" when it was asked in the latest run (a source disabled
since is not current) and its latest answer about the work, failures skipped,
is a count. A failed fetch never lowers the headline: the source's last good
count stands, with its date. Only counting sources take part (not Unpaywall or
Altmetric, which give no citation count).

Everything here is a pure function of stored rows, so a past report computes its
headline exactly as the report of that day did.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from monitor import citing, store
from monitor.models import Outcome
from monitor.sources import SOURCES, title_of

SOURCE_COUNT = "source_count"  # the highest count a source reports
CITING_WORKS = "citing_works"  # the distinct citing works the ledger lists
NOT_INDEXED = "not_indexed"  # no source knows the work yet
# A failure says nothing about the count: the answer before it stands.
_SKIPPED = frozenset(o.value for o in Outcome if o.is_failure)
WINDOWS = (("30d", 30), ("365d", 365))


@dataclass(frozen=True)
class SourceCount:
    """One source's current count of a work, with the observation it came from."""

    source: str
    citations: int
    observed_at: str
    observation_id: int | None = None

    @property
    def title(self) -> str:
        return title_of(self.source)


@dataclass(frozen=True)
class Headline:
    """The best estimate of a work's citations at one moment, and what it rests on."""

    value: int | None  # None: not indexed yet
    basis: str  # SOURCE_COUNT, CITING_WORKS or NOT_INDEXED
    source: str | None  # the source whose count it is (basis SOURCE_COUNT)
    citing_works: int  # distinct citing works the ledger lists now
    listing_sources: int  # how many sources list them
    self_citations: int  # of those, identified as self-citations
    counts: tuple[SourceCount, ...] = ()  # every current source count, highest first

    @property
    def indexed(self) -> bool:
        return self.value is not None

    @property
    def without_self_citations(self) -> int | None:
        """The headline minus the self-citations the ledger identifies; unknown (None)
        when no source lists the citing works, since then none can be identified."""
        if self.value is None or not self.citing_works:
            return None
        return max(0, self.value - self.self_citations)

    @property
    def top(self) -> SourceCount | None:
        return self.counts[0] if self.counts else None

    @property
    def text(self) -> str:
        """'750 citations · OpenAlex; 312 distinct citing works listed by 4 sources'."""
        if self.value is None:
            return "not indexed yet"
        listed = (
            f"{self.citing_works} distinct citing work{_s(self.citing_works)} listed by "
            f"{self.listing_sources} source{_s(self.listing_sources)}"
        )
        top = self.top
        counted = f"{top.citations} citation{_s(top.citations)} · {top.title}" if top else ""
        if self.basis == SOURCE_COUNT:
            return f"{counted}; {listed}" if self.citing_works else counted
        return f"{listed}; highest source count {top.citations} · {top.title}" if top else listed

    @property
    def basis_text(self) -> str:
        """What the figure is, in a few words, for a label under it."""
        if self.basis == SOURCE_COUNT and self.top:
            return f"citations · {self.top.title}"
        if self.basis == CITING_WORKS:
            return "distinct citing works"
        return "not indexed yet"

    def without(self, sources: Iterable[str]) -> Headline:
        """The same headline with these sources' counts left out (the ledger as it is)."""
        left = set(sources)
        counts = [c for c in self.counts if c.source not in left]
        return _decide(counts, self.citing_works, self.listing_sources, self.self_citations)

    def as_dict(self) -> dict[str, Any]:
        """The contract of ``report.json``: ``value``, ``basis``, ``without_self_citations``."""
        return {
            "value": self.value,
            "basis": self.basis,
            "without_self_citations": self.without_self_citations,
            "source": self.source,
            "citing_works": self.citing_works,
            "listing_sources": self.listing_sources,
            "self_citations": self.self_citations,
            "text": self.text,
            "counts": [
                {
                    "source": c.source,
                    "citations": c.citations,
                    "observed_at": c.observed_at,
                    "observation_id": c.observation_id,
                }
                for c in self.counts
            ],
        }


@dataclass(frozen=True)
class HeadlineChanges:
    """A headline with its changes: since the previous run, over 30 and 365 days.

    A change is None where there is nothing to compare with: no earlier run, no
    monitoring that long ago, or a work not indexed then or now.
    """

    now: Headline
    since_previous_run: int | None
    change_30d: int | None
    change_365d: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.now.as_dict(),
            "change_since_previous_run": self.since_previous_run,
            "change_30d": self.change_30d,
            "change_365d": self.change_365d,
        }


def headline(counts: Iterable[SourceCount], listed: Sequence[Mapping[str, Any]]) -> Headline:
    """The definition. ``counts``: each source's current count (``current_counts``);
    ``listed``: the ledger's citing works some source lists now (``citing.listed``),
    each with ``sources`` and ``is_self_citation``."""
    return _decide(
        counts,
        len(listed),
        len({s for row in listed for s in row["sources"]}),
        sum(1 for row in listed if row["is_self_citation"]),
    )


def _decide(counts: Iterable[SourceCount], works: int, sources: int, self_citations: int) -> Headline:
    ranked = tuple(sorted(counts, key=lambda c: (-c.citations, _order(c.source))))
    top = ranked[0] if ranked else None
    if top is not None and (top.citations > works or not works):
        value, basis, source = top.citations, SOURCE_COUNT, top.source
    elif works or top is not None:
        value, basis, source = works, CITING_WORKS, None
    else:
        value, basis, source = None, NOT_INDEXED, None
    return Headline(value, basis, source, works, sources, self_citations, ranked)


def current_counts(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    active: Iterable[str] | None = None,
    moment: datetime | None = None,
) -> list[SourceCount]:
    """Each counting source's count as it stood at ``moment`` (default: latest).

    ``history``: source → its observations of the work, oldest first (rows of
    ``observations`` with ``outcome``, ``citations``, ``observed_at``, ``id``).
    ``active``: the sources asked in the latest run (None: every source with
    history). A source's latest answer, failures skipped, decides: a count, or
    nothing when it said it does not index the work or lost its key.
    """
    wanted = set(history) if active is None else set(active)
    found = []
    for source, rows in history.items():
        module = SOURCES.get(source)
        if source not in wanted or module is None or not module.SPEC.counts_citations:
            continue
        last = None
        for row in rows:
            if moment is not None and datetime.fromisoformat(row["observed_at"]) > moment:
                break
            if row["outcome"] not in _SKIPPED:
                last = row
        if last is not None and last["outcome"] == Outcome.OK.value and last["citations"] is not None:
            found.append(SourceCount(source, last["citations"], last["observed_at"], last.get("id")))
    return found


def active_sources(run: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """The sources asked in a run (the keys of ``runs.summary``); None when unknown."""
    summary = (run or {}).get("summary")
    return tuple(summary) if isinstance(summary, dict) and summary else None


def listed_at(ledger: Sequence[Mapping[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    """The ledger's rows (``citing.ledger_rows``, with ``sightings``) as listed at
    ``moment``: sightings first seen by then and not yet gone, rows with any left."""
    cut = []
    for row in ledger:
        sources = sorted(
            source
            for source, sighting in row["sightings"].items()
            if datetime.fromisoformat(sighting["first_seen_at"]) <= moment
            and not (sighting["gone_at"] and datetime.fromisoformat(sighting["gone_at"]) <= moment)
        )
        if sources:
            cut.append({**row, "sources": sources})
    return cut


def with_changes(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    ledger: Sequence[Mapping[str, Any]],
    active: Iterable[str] | None,
    reference: datetime,
    previous_run_at: datetime | None = None,
) -> HeadlineChanges:
    """The headline at ``reference`` and its changes since ``previous_run_at`` (the end
    of the run before the latest) and over 30 and 365 days.

    ``ledger``: every row of ``citing.ledger_rows`` (gone sightings included) up to
    ``reference``; the sources considered at every moment are today's ``active``, so a
    source enabled or disabled in between does not show as a change.
    """
    active = None if active is None else tuple(active)
    now = headline(current_counts(history, active, reference), listed_at(ledger, reference))
    began = _monitoring_began(history, ledger)

    def change(then: datetime | None) -> int | None:
        if then is None or began is None or then < began or now.value is None:
            return None
        earlier = headline(current_counts(history, active, then), listed_at(ledger, then))
        return None if earlier.value is None else now.value - earlier.value

    return HeadlineChanges(
        now,
        change(previous_run_at),
        *(change(reference - timedelta(days=days)) for _, days in WINDOWS),
    )


def trend(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    ledger: Sequence[Mapping[str, Any]],
    active: Iterable[str] | None,
    moments: Iterable[datetime],
) -> list[tuple[str, int]]:
    """The headline at each of ``moments`` (e.g. the ends of the runs that observed the
    work), by the same definition: (day, value), leaving out moments it was not indexed."""
    active = None if active is None else tuple(active)
    points = []
    for moment in moments:
        value = headline(current_counts(history, active, moment), listed_at(ledger, moment)).value
        if value is not None:
            points.append((moment.date().isoformat(), value))
    return points


NEW = "new_citations"  # the alert kind "New" agrees with


def new_in_run(
    alerts: Iterable[Mapping[str, Any]], run_rows: Iterable[Mapping[str, Any]]
) -> int | None:
    """New citations of a work in one run, as every view's "New" shows them: the count of
    the run's ``new_citations`` alert about the work (so the number and the alert always
    agree); 0 without one when a counting source answered about the work in that run (a
    count, or "not indexed"); None ("—") when every counting source it asked failed, or
    none was asked: then nothing is known.

    ``alerts``: the run's alerts about the work (``details`` a dict or its JSON);
    ``run_rows``: the run's observations of the work.
    """
    for alert in alerts:
        if alert["kind"] == NEW:
            details = alert["details"]
            details = json.loads(details) if isinstance(details, str) else details
            return int(details.get("count") or 0)
    answered = (Outcome.OK.value, Outcome.NOT_FOUND.value)
    for row in run_rows:
        module = SOURCES.get(row["source"])
        if module is not None and module.SPEC.counts_citations and row["outcome"] in answered:
            return 0
    return None


def _monitoring_began(
    history: Mapping[str, Sequence[Mapping[str, Any]]], ledger: Sequence[Mapping[str, Any]]
) -> datetime | None:
    """Our first observation of the work (by any source), or first ledger sighting."""
    moments = [datetime.fromisoformat(rows[0]["observed_at"]) for rows in history.values() if rows]
    moments += [
        datetime.fromisoformat(s["first_seen_at"]) for row in ledger for s in row["sightings"].values()
    ]
    return min(moments, default=None)


def _order(source: str) -> int:
    names = list(SOURCES)
    return names.index(source) if source in names else len(names)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def for_work(db: sqlite_utils.Database, doi: str, run: Mapping[str, Any]) -> HeadlineChanges:
    """A work's headline as of the end of ``run`` (a ``runs`` row), read from the store:
    for views that have not already read the work's observations and ledger."""
    end = run.get("finished_at") or run["started_at"]
    history: dict[str, list[dict[str, Any]]] = {}
    for row in store.observation_history(db, doi, end):
        history.setdefault(row["source"], []).append(row)
    previous = store.previous_run(db, run["id"])
    summary = run.get("summary")
    if isinstance(summary, str):
        run = {**run, "summary": json.loads(summary)}
    return with_changes(
        history,
        citing.ledger_rows(db, doi, end),
        active_sources(run),
        datetime.fromisoformat(end),
        run_end(previous),
    )


def run_end(run: Mapping[str, Any] | None) -> datetime | None:
    """When a run ended (or, cut short, began); None without a run."""
    moment = (run or {}).get("finished_at") or (run or {}).get("started_at")
    return datetime.fromisoformat(moment) if moment else None
