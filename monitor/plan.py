"""The plan: which works each source is asked about in a run, decided before anything is asked.

Between resolving the collections and collecting (config → collections → plan → collect):
``collect`` only carries a plan out. Each source has a refresh policy, its ``[sources.NAME]``
``refresh_days`` and ``max_requests`` (defaults in its module's ``SourceSpec``):

- a work is *due* for a source when one of the ``RULES`` says so: the source never
  answered about it; its last attempt failed; a batched source's count of it moved since
  the last answer (``works.counts_moved_at``); or the last answer is ``refresh_days`` old
  (0: at every run, the default of the batched sources, which ask 100 works a request);
- due works are asked the oldest answer first, never-answered ones before all, as many
  as ``max_requests`` allows at the source's batch size, so that every work is asked
  again within ``refresh_days`` whenever the budget allows that many (``SourcePlan.keeps_up``);
- a work not asked keeps its last observation (no new row): its age is its ``observed_at``.

A source that cannot be asked (no key, no contact email) is "asked" only about the works
whose latest observation does not already say so, so that it adds no row at every run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from monitor.config import Config, SourceConfig
from monitor.models import Outcome, Work
from monitor.sources import SOURCES, lists_per_request

ANSWERS = (Outcome.OK.value, Outcome.NOT_FOUND.value)  # what counts as an answer


@dataclass(frozen=True, slots=True)
class WorkState:
    """What the plan knows of one work and one source."""

    last_at: datetime | None  # the source's latest observation of the work, if any
    last_outcome: str | None
    moved_at: datetime | None  # when a batched source's count of the work last changed
    listed: bool = True  # it has a complete list of the work's citing works (if it lists any)
    whole_at: datetime | None = None  # when it last read the work's whole record (``briefly``)


NEVER_ASKED = WorkState(None, None, None)  # a work the source has no observation of


@dataclass(frozen=True)
class Rule:
    """One reason a work is due for a source."""

    name: str
    says: str  # in a sentence: "never asked"
    # (state, stale_from): an answer from stale_from or before (the run's moment less
    # the source's refresh_days) is stale
    applies: Callable[[WorkState, datetime], bool]


RULES: tuple[Rule, ...] = (
    Rule("never", "never asked", lambda s, stale_from: s.last_at is None),
    Rule("retry", "last attempt failed", lambda s, stale_from: s.last_outcome not in ANSWERS),
    Rule(
        "moved",
        "a batched source's count moved",
        lambda s, stale_from: s.moved_at is not None and s.last_at is not None and s.moved_at > s.last_at,
    ),
    Rule(
        "stale",
        "last answer older than refresh_days",
        lambda s, stale_from: s.last_at is not None and s.last_at <= stale_from,
    ),
    # a per-work source whose list a run's budget left: its list comes with its next count
    Rule("unlisted", "no complete list of its citing works yet",
         lambda s, stale_from: s.last_outcome == Outcome.OK.value and not s.listed),
)


def due_by(state: WorkState, stale_from: datetime) -> str | None:
    """The name of the first rule that makes a work due, or None."""
    for rule in RULES:
        if rule.applies(state, stale_from):
            return rule.name
    return None


@dataclass(frozen=True)
class SourcePlan:
    """One source's part of a run: the works it is asked about, and why."""

    source: str
    works: tuple[Work, ...]  # asked this run, in this order
    tracked: int  # works tracked
    due: int  # works due, before the budget
    reasons: tuple[tuple[str, int], ...]  # (rule name, works due by it first)
    refresh_days: float
    max_requests: int
    per_request: int  # works one request asks about
    configured: bool = True  # False: no key or contact; its works get not_configured
    brief: frozenset[str] = frozenset()  # DOIs of the works asked briefly (``briefly``)
    metadata_days: float = 0.0  # its whole record of a work read again once this old
    lists_stored: bool = True  # False: it lists citing works at a cost and has none stored yet

    @property
    def waiting(self) -> int:
        """Due works left for a later run by the budget."""
        return self.due - len(self.works)

    @property
    def policy(self) -> str:
        """'every run' or 'every 7 days, or when a count moved'."""
        if not self.refresh_days:
            return "every run"
        return f"every {self.refresh_days:g} days, or when a count moved"

    @property
    def keeps_up(self) -> bool:
        """Whether ``max_requests`` a run can ask every work within ``refresh_days`` (a run a day)."""
        days = max(1.0, self.refresh_days)
        return self.max_requests * self.per_request * days >= self.tracked

    @property
    def refresh_takes_days(self) -> int:
        """At ``max_requests`` a run, a run a day, the days it takes to ask every work once."""
        return math.ceil(self.tracked / max(1, self.max_requests * self.per_request))

    def describe(self) -> str:
        """One line: its policy, its budget, what is due now, and whether the budget keeps up."""
        if not self.configured:
            return "not configured: asks nothing"
        works = f"{self.due} of {self.tracked} work{'s' if self.tracked != 1 else ''} due now"
        if self.waiting > 0:
            works += f" ({len(self.works)} asked next run)"
        line = f"refresh {self.policy}; at most {self.max_requests} requests a run; {works}"
        if self.metadata_days:
            line += (
                f"; whole records every {self.metadata_days:g} days "
                f"({len(self.works) - len(self.brief)} whole and {len(self.brief)} brief next run)"
            )
        if not self.keeps_up:
            days = f"{self.refresh_days:g}" if self.refresh_days else "1"
            line += (
                f"; at this budget every work is asked every {self.refresh_takes_days} days, "
                f"not {days}: raise max_requests or refresh_days"
            )
        return line


@dataclass(frozen=True)
class Plan:
    """Every enabled source's part of one run."""

    sources: dict[str, SourcePlan]
    # whether the sources that need a PMID can start at once: each work they ask about has
    # one, or every source that may give one answered about it before (``pmids_settled``)
    pmids_settled: bool = False

    def __getitem__(self, source: str) -> SourcePlan:
        return self.sources[source]


def make(
    db: sqlite_utils.Database | None,
    config: Config,
    works: Sequence[Work],
    now: datetime,
    on_planned: Callable[[SourcePlan], None] | None = None,
) -> Plan:
    """The plan of a run over ``works`` (the tracked works, as stored) at ``now``. The
    sources that may take longest are planned first, each handed to ``on_planned`` as
    it is planned (a run starts asking it then: the slowest sets the run's length)."""
    planned = {}
    for source in longest_first(db, config.enabled_sources, len(works), config.citing.enabled):
        planned[source.name] = plan_source(db, config, source, works, now)
        if on_planned:
            on_planned(planned[source.name])
    sources = {s.name: planned[s.name] for s in config.enabled_sources}
    return Plan(sources, pmids_settled(db, config, sources.values()))


def longest_first(
    db: sqlite_utils.Database | None, sources: Iterable[SourceConfig], works: int, listing: bool = True
) -> list[SourceConfig]:
    """``sources``, those whose part of a run may take longest first, at the source's rate:
    as many requests as it sent in the last run that ended, or, not known, as many as a
    request per batch of ``works`` and, ``listing``, a list of each where lists cost
    requests (within ``max_requests``: a first run's lists may take a source's budget)."""
    last: Any = {}
    if db is not None:
        row = db.execute("SELECT summary FROM runs WHERE summary IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        try:
            last = json.loads(row[0]) if row else {}
        except ValueError:  # not as a run leaves it: the bound below
            pass

    def seconds(source: SourceConfig) -> float:
        entry = last.get(source.name) if isinstance(last, dict) else None
        requests = entry.get("requests") if isinstance(entry, dict) else None
        if not isinstance(requests, int):
            requests = -(-works // max(1, SOURCES[source.name].SPEC.batch_size))
            if listing and (per := lists_per_request(source.name)):
                requests += -(-works // per)
            requests = min(requests, source.max_requests)
        return requests / source.requests_per_second

    return sorted(sources, key=seconds, reverse=True)


def pmids_settled(db: sqlite_utils.Database | None, config: Config, plans: Iterable[SourcePlan]) -> bool:
    """Whether the works the PMID sources (iCite, PubMed) ask about need no PMID from this run:
    each has one already, or every source that may give one answered about it in an earlier
    run (it has none to give; one it gains is used from the next run). Then those sources
    start with the others instead of after them: a quiet run is as long as its slowest source."""
    lacking = {w.doi: w for p in plans if SOURCES[p.source].SPEC.needs_pmid for w in p.works if not w.pmid}
    if not lacking:
        return True
    if db is None:
        return False
    for source in config.enabled_sources:
        if SOURCES[source.name].SPEC.provides_pmid:
            states = work_states(db, source.name, lacking.values())
            if any(states.get(doi, NEVER_ASKED).last_outcome not in ANSWERS for doi in lacking):
                return False
    return True


def plan_source(
    db: sqlite_utils.Database | None,
    config: Config,
    source: SourceConfig,
    works: Sequence[Work],
    now: datetime,
) -> SourcePlan:
    spec = SOURCES[source.name].SPEC
    configured = not (spec.needs_key and not source.has_key) and not (
        spec.needs_contact and not config.contact_email
    )
    lists = config.citing.enabled and hasattr(SOURCES[source.name], "fetch_citing") and not spec.batched
    whole = bool(spec.brief_fields and source.metadata_days)
    states = work_states(db, source.name, works, lists, whole) if db is not None else {}
    never: list[Work] = []  # due, never answered: asked first, in their order
    answered: list[tuple[float, Work]] = []  # due, answered before: then the oldest answer first
    reasons = dict.fromkeys((r.name for r in RULES), 0)
    stale_from = now - timedelta(days=source.refresh_days)
    for work in works:
        state = states.get(work.doi, NEVER_ASKED)
        if not configured:
            if state.last_outcome != Outcome.NOT_CONFIGURED.value:
                never.append(work)
            continue
        reason = due_by(state, stale_from)
        if reason is not None:
            reasons[reason] += 1
            if state.last_at is None:
                never.append(work)
            else:
                answered.append((state.last_at.timestamp(), work))
    answered.sort(key=lambda item: item[0])
    due = never + [work for _, work in answered]
    per_request = max(1, spec.batch_size)
    cap = len(due) if not configured else source.max_requests * per_request
    asked = due[:cap]
    brief = briefly(asked, states, source.metadata_days, now) if whole and configured else frozenset()
    lists_stored = db is None or not config.citing.enabled or not lists_per_request(source.name) or (
        db.execute("SELECT 1 FROM citing_fetches WHERE source = ? AND outcome = 'ok' AND complete = 1 LIMIT 1",
                   [source.name]).fetchone() is not None
    )
    return SourcePlan(
        source=source.name,
        # whole records first: a request asks either briefly or whole, so they batch apart
        works=tuple(sorted(asked, key=lambda work: work.doi in brief)),
        tracked=len(works),
        due=len(due),
        reasons=tuple((name, n) for name, n in reasons.items() if n),
        refresh_days=source.refresh_days,
        max_requests=source.max_requests,
        per_request=per_request,
        configured=configured,
        brief=brief,
        metadata_days=source.metadata_days if whole else 0.0,
        lists_stored=lists_stored,
    )


def briefly(asked: Sequence[Work], states: dict[str, WorkState], days: float, now: datetime) -> frozenset[str]:
    """The works a source with a brief answer (counts, metrics and ids) asks briefly: those
    whose whole record it read less than ``days`` ago, but for the oldest of them, enough
    that a ``days``-th of the works it has a whole record of are read whole a run (those
    read ``days`` ago or more among them): whole reads spread evenly over the days instead
    of all falling due on one night. A work never answered, whose last answer failed or
    was not_found, or whose brief answer disagreed with its whole record (``work_states``),
    has none: it is read whole."""
    known = [(state.whole_at, work.doi) for work in asked
             if (state := states.get(work.doi)) is not None and state.whole_at is not None]
    fresh = sorted(item for item in known if now - item[0] < timedelta(days=days))
    spread = max(0, math.ceil(len(known) / days) - (len(known) - len(fresh)))
    return frozenset(doi for _, doi in fresh[spread:])


def work_states(
    db: sqlite_utils.Database, source: str, works: Iterable[Work], lists: bool = False, whole: bool = False
) -> dict[str, WorkState]:
    """doi → the source's latest observation of the work, when its counts last moved, and
    (``lists``) whether the source has listed its citing works completely, (``whole``) when
    it last read the work's whole record, if its latest answer is ok and holds that record's
    metadata as it was (a brief answer that disagreed holds a merged one: ``briefly``).

    A work the source never observed is left out: it is ``NEVER_ASKED`` to every rule (on
    a cold run, 100,000 states of nothing held 11 MB a source). An index seek or two per
    work (observations are unique on work, source and run)."""
    wanted = {w.doi for w in works}
    states: dict[str, WorkState] = {}
    listed = (
        "EXISTS (SELECT 1 FROM citing_fetches f WHERE f.work_id = w.id AND f.source = ? "
        "AND f.outcome = 'ok' AND f.complete = 1)" if lists else "1"
    )
    # a brief answer that disagreed with its whole record has a payload of its own: read whole next
    whole_at = "CASE WHEN o.outcome = 'ok' AND o.metadata_id IS r.metadata_id THEN r.observed_at END" if whole else "NULL"
    cursor = db.execute(
        f"SELECT w.doi, o.observed_at, o.outcome, w.counts_moved_at, {listed}, {whole_at} FROM works w "
        "LEFT JOIN observations o ON o.id = (SELECT q.id FROM observations q "
        "WHERE q.work_id = w.id AND q.source = ? ORDER BY q.run_id DESC LIMIT 1) "
        + ("LEFT JOIN observations r ON r.id = coalesce(o.metadata_from, o.id)" if whole else ""),
        [source, source] if lists else [source],
    )
    moment = datetime.fromisoformat  # in the loop: 110,000 rows at 10,000 works and 11 sources
    for doi, observed_at, outcome, moved_at, has_list, read_whole in cursor:
        if observed_at is not None and doi in wanted:
            states[doi] = WorkState(
                moment(observed_at), outcome,
                moment(moved_at) if moved_at else None, bool(has_list),
                moment(read_whole) if read_whole else None,
            )
    return states


def tracked(db: sqlite_utils.Database | None, config: Config) -> list[Work]:
    """The works a run would track, as far as is known without resolving the collections:
    the stored works still tracked, and ``[[works]]`` not stored yet (for ``sources``)."""
    stored: dict[str, Work] = {}
    if db is not None:
        for row in db.query("SELECT doi, label, pmid FROM works WHERE tracked = 1 ORDER BY id"):
            stored[row["doi"]] = Work(row["doi"], row["label"], row["pmid"])
    for work in config.works:
        stored.setdefault(work.doi, work)
    return list(stored.values())
