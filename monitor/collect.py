"""One run: plan who is asked about what, ask every enabled source, store what comes back.

The tracked works are ``[[works]]`` and the members of every collection, as
``membership.refresh`` leaves them at the start of the run; ``plan.make`` then says which
works each source is asked about (its refresh policy and budget), and this module only
carries the plan out. Where refreshing them will change nothing (``membership.settled``),
the sources are planned, and start asking, while the database is checked, before anything
of the run is stored (``_ask_ahead``): what they hand over meanwhile waits on disk
(monitor/spool.py), so that a long check does not stop them, and a source that lists citing
works has its last lists read meanwhile too (reading only, as the planning does).

Sources run concurrently, each in its own thread with its own connection pool (and its
requests ``max_concurrency`` at a time: monitor/source_job.py), so the slowest source sets
the run's length. They hand their results over a chunk at a time through a bounded queue,
served fairly (monitor/fair_queue.py: a place goes to the source with the fewest chunks
waiting, and the store takes the sources in turns: the slowest no longer waits behind all);
this thread has each chunk stored in one transaction as it comes, by itself or, for a large
run, by a writer process (monitor/writer.py), so memory is bounded by chunks, not works.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import sqlite_utils

from monitor import citing, database, following, membership, memory, plan, stopping, store, writer
from monitor.config import Config, SourceConfig
from monitor.fair_queue import FairQueue
from monitor.fetching import Session, make_client, utcnow
from monitor.models import Outcome, RunSummary, SourceReport, SourceResult, Work
from monitor.progress import RunProgress
from monitor.source_job import (  # noqa: F401 - collect.fetch_source, .session_for, as before
    _fetch_list,
    chunk_size,
    fetch_source,
    run_source,
    session_for,
)
from monitor.sources import SOURCES
from monitor.spool import Spool

log = logging.getLogger(__name__)

BESIDE = " (lists beside its counts)"  # the producer key of those lists
QUEUED_CHUNKS = 3  # chunks waiting to be stored, from all sources: the memory a run may hold
POLL_SECONDS = 0.25  # how often a waiting thread looks whether the run is stopping


def run(
    config: Config,
    *,
    now: Callable[[], datetime] = utcnow,
    on_source_done: Callable[[SourceResult], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: RunProgress | None = None,
) -> RunSummary:
    """Run every enabled source once and store a snapshot. Never raises for a source's failure.

    The run ends by ``[http] run_deadline_minutes`` on ``clock``; each source by its own
    ``source_deadline_minutes`` from its start, whichever comes first. ``clock`` and
    ``sleep`` go together: a test that fakes one fakes both. ``progress`` is told what
    each source is doing, for a live display.
    """
    deadline = clock() + config.http.run_deadline_minutes * 60
    memory.few_arenas()  # before the sources' threads
    db, check = store.open_checking(config.database)
    new_run = partial(_Run, db, config, now, (clock, sleep), deadline, progress or RunProgress())
    sources = new_run()
    try:
        with memory.few_collections():  # the sources may start while it plans (the inner one: below)
            ahead = _ask_ahead(db, config, now, sources) if check.beside else None
            sources.hold_while(check)  # the sources go on asking, their chunks kept on disk
            check.wait()  # a damaged database is refused before anything is written to it
            started = now()
            run_id = store.start_run(db, started)
            results: list[SourceResult] = []
            status = "interrupted"  # unless it gets to the end: a signal, a full disk
            try:
                with make_client(config.contact_email, config.http) as client:  # the resolvers'
                    tracking = membership.refresh(db, config, run_id, client, now)
                works = store.tracked_works(db, tracking.works)
                tracking = replace(tracking, works=())  # the works as stored stand for them now
                if ahead is not None and ahead[0] == works:
                    the_plan = ahead[1]
                else:
                    if sources.started:  # asked ahead about other works (a race at a collection's due time)
                        log.info("the works changed while the sources were asked ahead: asking again")
                        sources.close(wait=True)
                        sources = new_run()
                    the_plan = plan.make(db, config, works, now(), sources.start)
                with memory.few_collections():  # what the planning made is never scanned again
                    for result in sources.collect(the_plan, run_id, tracking.work_ids):
                        results.append(result)
                        if on_source_done:
                            on_source_done(result)
                summary = RunSummary(
                    run_id, started, now(), tuple(sorted(results, key=_order)), tracking.collections
                )
                status = "failed" if summary.failed else "ok"
                return summary
            except sqlite3.Error as exc:
                raise database.error(exc, config.database) from None
            finally:
                _finish(db, run_id, now(), status, results)
    finally:
        sources.close(wait=False)  # asked ahead, and the check failed or a signal came
        db.close()


def _ask_ahead(
    db: sqlite_utils.Database, config: Config, now: Callable[[], datetime], sources: _Run
) -> tuple[list[Work], plan.Plan] | None:
    """While the database's check runs (reading only): the works tracked as stored before
    this run, and a plan for them, the run's plan unless storing this run's works changes
    them. Where it will not (``membership.settled``), each source starts asking as soon as
    it is planned, the slowest first: their chunks wait until the check has passed and the
    run is stored. None where reading failed (a damaged page: the check says so)."""
    try:
        works = store.tracked_works(db, membership.tracked(db, config))
        early = membership.settled(db, config, now())
        the_plan = plan.make(db, config, works, now(), sources.start if early else None)
        if early:
            sources.start_rest(the_plan)
        return works, the_plan
    except sqlite3.Error:
        return None


def _finish(
    db: sqlite_utils.Database, run_id: int, now: datetime, status: str, results: list[SourceResult]
) -> None:
    """Record how the run ended. If even that fails (the disk is still full), the row stays
    'running' and the next run marks it interrupted (``store.close_abandoned_runs``)."""
    try:
        with stopping.held():
            store.finish_run(
                db,
                run_id,
                now,
                status,
                {"ok": 0, "failed": 1}.get(status, 1),
                {r.source: _summary(r) for r in results},
            )
    except sqlite3.Error as exc:
        if status != "interrupted":
            raise
        log.warning("run %s could not be marked interrupted: %s", run_id, exc)


def _summary(result: SourceResult) -> dict[str, Any]:
    """A source's entry in ``runs.summary``."""
    return {
        "outcome": result.outcome.value,
        "message": result.message,
        "tracked": result.tracked,
        "asked": result.asked,
        "requests": result.requests,
    }


@dataclass(frozen=True)
class _Finished:
    """A source's last word on the queue: every chunk of it came before."""

    result: SourceResult


@dataclass(frozen=True)
class _Counted:
    """A source's word that every count of it came before (its lists come after)."""

    source: str


@dataclass(frozen=True)
class _ListsWanted:
    """A source thread's question to the database's thread: its last lists of these DOIs."""

    source: str
    dois: list[str]
    reply: queue.Queue[dict[str, dict[str, Any]]]


_Item = SourceReport | _Finished | _Counted | _ListsWanted  # what the sources' threads queue


class _Run:
    """The sources of one run: their threads, the queue of their chunks, the store. They
    may start asking before the run is stored (``start``); ``collect`` stores their chunks."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        config: Config,
        now: Callable[[], datetime],
        timing: tuple[Callable[[], float], Callable[[float], None]],
        deadline: float,
        progress: RunProgress,
    ):
        self.db, self.config, self.now = db, config, now
        self.clock, self.sleep = timing
        self.deadline = deadline
        self.progress = progress
        self.chunks: FairQueue[_Item] = FairQueue(QUEUED_CHUNKS)
        # taken from the queue before they can be stored: the check has not passed, or what
        # came meanwhile is still being stored (its chunks on disk, the rest as it is)
        self.held: Spool[_Item] = Spool(config.database.parent, lambda item: isinstance(item, SourceReport))
        self.stopping = threading.Event()
        self.sessions: list[Session] = []
        self.lock = threading.Lock()  # the sessions, against a stop
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(config.enabled_sources)), thread_name_prefix="source")
        self.started: set[str] = set()

    def start(self, source_plan: plan.SourcePlan) -> None:
        """Start asking a source about its plan's works, unless it needs a PMID (``start_rest``)."""
        if not SOURCES[source_plan.source].SPEC.needs_pmid:
            self._start(source_plan)

    def start_rest(self, the_plan: plan.Plan) -> None:
        """Start every source not started yet, but, unless the plan says no PMID is awaited,
        those that need one (``collect`` starts them once their PMIDs are stored)."""
        for source in self.config.enabled_sources:
            if the_plan.pmids_settled or not SOURCES[source.name].SPEC.needs_pmid:
                self._start(the_plan[source.name])

    def _start(self, source_plan: plan.SourcePlan, feed: following.Feed | None = None) -> None:
        if source_plan.source not in self.started:
            self.started.add(source_plan.source)
            self.pool.submit(self.source, self.config.sources[source_plan.source], source_plan, feed)

    def collect(self, the_plan: plan.Plan, run_id: int, work_ids: dict[str, int]) -> Iterator[SourceResult]:
        """Start the sources not started yet, store their chunks as they come, yield each
        one's result when it is done. Unless the plan says no PMID is awaited, the sources
        that need a PMID follow those that can provide one: each work once those have
        counted it (monitor/following.py), or, where the followers' plans differ, every
        work once they have counted all (their lists may still be coming) and their PMIDs
        are stored. The others start at once."""
        enabled = self.config.enabled_sources
        later = [] if the_plan.pmids_settled else [s for s in enabled if SOURCES[s.name].SPEC.needs_pmid]
        # the sources whose PMIDs those wait for (none waits: no source's counts need settling)
        providers = {s.name for s in enabled if s not in later and SOURCES[s.name].SPEC.provides_pmid} if later else set()
        follow = self._following(later, providers, the_plan)
        if follow is not None:
            later = []
        self.start_rest(the_plan)
        running = set(self.started)
        memory.give_back()  # what the planning freed
        lookups = sum(len(the_plan[s.name].works) for s in enabled)
        store_with = writer.for_run(self.db, self.config.database, run_id, work_ids, lookups)
        finished = False
        try:
            while running or later:
                if later and not providers:
                    running.update(source.name for source in later)
                    self._start_with_pmids(later, the_plan)
                    later = []
                item = self._next()
                if isinstance(item, _ListsWanted):
                    self._answer(item)
                    continue
                if isinstance(item, _Counted | _Finished):
                    source = _source_of(item)
                    if source in providers:
                        if follow is None:
                            store_with.settle()  # its counts stored: the PMIDs they gave known
                        providers.discard(source)
                        if follow is not None and not providers:
                            follow.counted()
                if isinstance(item, _Finished):
                    store_with.settle()  # its chunks stored: its result final
                    running.discard(item.result.source)
                    if follow is not None:
                        follow.forget(item.result.source)
                    self.progress.sources[item.result.source].finish(item.result.outcome.value)
                    yield item.result
                if isinstance(item, SourceReport):
                    store_with.save(item, self.now())
                    if follow is not None and item.source in providers:
                        follow.saw(item)
            finished = True
        finally:
            self.close(wait=finished)  # stopped early (a signal, a full disk): wait for nobody
            store_with.close()

    def _following(
        self, later: list[SourceConfig], providers: set[str], the_plan: plan.Plan
    ) -> following.Following | None:
        """The sources that need a PMID, started following the providers' counts, where
        their plans allow (``Following.possible``); those not configured start at once (no
        request). None: they start once every provider has counted, if any waits."""
        configured = {s.name: the_plan[s.name].works for s in later if the_plan[s.name].configured}
        if not (configured and providers and following.Following.possible(configured)):
            return None
        follow = following.Following(providers, configured, {name: chunk_size(self.config.sources[name])
                                                             for name in configured})
        for source in later:
            self._start(the_plan[source.name], follow.feeds.get(source.name))
        return follow

    def _start_with_pmids(self, sources: list[SourceConfig], the_plan: plan.Plan) -> None:
        """Start the sources that need a PMID, their works with the PMIDs learned this run
        (what maps them is not held through the run: 10 MB at 100,000 works)."""
        learned = store.learned_pmids(self.db, (w for s in sources for w in the_plan[s.name].works))
        for source in sources:
            works = tuple(learned.get(w.doi, w) for w in the_plan[source.name].works)
            self._start(replace(the_plan[source.name], works=works))

    def close(self, wait: bool) -> None:
        """Ask nothing more: the sources' requests cancelled, their threads let go, what
        was held dropped."""
        with self.lock:
            self.stopping.set()
            for session in self.sessions:
                session.cancel("not asked: the run was stopped")
        self.pool.shutdown(wait=wait, cancel_futures=True)
        self.held.close()

    def hold_while(self, check: database.Check) -> None:
        """While the database is checked, nothing may be stored: what the sources (asked
        ahead) queue is held, on disk, so that they go on asking; ``collect`` stores it first."""
        while check.running:
            if self.held.full:
                time.sleep(POLL_SECONDS)  # the sources wait, as they would for the store
                continue
            try:
                self._hold(self.chunks.get(timeout=POLL_SECONDS), checking=True)
            except queue.Empty:
                continue

    def _hold(self, item: _Item, checking: bool = False) -> None:
        """Hold an item until what came before it is stored; a source's question about its
        last lists is answered at once (reading, as the planning does beside the check): no
        chunk held can hold lists of the works it asks about, each counted once a run."""
        if isinstance(item, _ListsWanted):
            self._answer(item, checking)
        else:
            self.held.put(item)

    def _answer(self, question: _ListsWanted, checking: bool = False) -> None:
        try:
            lists = citing.last_complete_lists(self.db, question.source, question.dois)
        except sqlite3.Error:
            if not checking:
                raise
            lists = {}  # a damaged page: the check refuses the run
        question.reply.put(lists)

    def _next(self) -> _Item:
        """The next chunk or end of a source; waits in short steps, so a signal gets through.
        What was held comes first; until it is all stored, what the sources queue meanwhile
        is held after it, so that they go on asking."""
        if self.held:
            while not self.held.full:
                try:
                    self._hold(self.chunks.get(timeout=0))
                except queue.Empty:
                    break
            return self.held.get()
        while True:
            try:
                return self.chunks.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue

    def _put(self, item: _Item) -> None:
        """Queue a chunk, waiting while the store catches up, unless the run is stopping. A
        source's end waits until the lists it asked beside its counts are taken too."""
        if isinstance(item, _Finished):
            beside = _source_of(item) + BESIDE
            while self.chunks.waiting_from(beside) and not self.stopping.wait(POLL_SECONDS / 5):
                pass
        while not self.stopping.is_set():
            try:
                self.chunks.put(_source_of(item), item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def source(self, source: SourceConfig, source_plan: plan.SourcePlan, feed: following.Feed | None = None) -> None:
        """One source's thread: its plan carried out, its last word queued, whatever happens.
        ``feed``: its works' chunks as they may be asked (a follower's); its own deadline
        counts from the last of them."""
        progress = self.progress.start(source.name, len(source_plan.works))
        own = self.config.http.source_deadline_minutes * 60
        ends = min(self.deadline, self.clock() + own) if feed is None else self.deadline
        # a pool of its own, as large as its places in flight: a request looks through
        # the connections of its pool, and one pool for all cost milliseconds a request
        with make_client(self.config.contact_email, self.config.http, source.max_concurrency) as client:
            session = session_for(
                source, client, self.config, now=self.now, clock=self.clock, sleep=self.sleep,
                deadline=ends, budget=source.max_requests, progress=progress,
            )
            with self.lock:
                self.sessions.append(session)
                if self.stopping.is_set():
                    session.cancel("not asked: the run was stopped")
            fed = None
            if feed is not None:

                def fed_chunks() -> Iterator[list[Work]]:
                    yield from following.chunks_from(feed, lambda: session.stopped is not None, POLL_SECONDS)
                    session.deadline = min(self.deadline, self.clock() + own)

                fed = fed_chunks()
            try:
                result = run_source(
                    source, source_plan, session, self.config, self._put, self._last_lists(source.name), self.now,
                    counted=lambda: self._put(_Counted(source.name)), fed=fed,
                )
            except Exception as exc:  # a bug in one source must not stop the others
                log.exception("%s: unexpected failure", source.name)
                result = SourceResult(source.name, Outcome.ERROR, f"internal error: {exc!r}")
        self._put(_Finished(result))


    def _last_lists(self, source: str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
        """For a source thread: its last complete lists of some DOIs, asked of this thread
        (the one that owns the database); none once the run is stopping."""

        def ask(dois: list[str]) -> dict[str, dict[str, Any]]:
            reply: queue.Queue[dict[str, dict[str, Any]]] = queue.Queue(1)
            self._put(_ListsWanted(source, dois, reply))
            while not self.stopping.is_set():
                try:
                    return reply.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
            return {}

        return ask


def _source_of(item: _Item) -> str:
    """The producer an item queues as: its source, or, for lists asked beside the source's
    counts (source_job), the source's lists, so that they leave the counts their turns."""
    if isinstance(item, _Finished):
        return item.result.source
    if isinstance(item, SourceReport) and item.beside:
        return item.source + BESIDE
    return item.source


def _order(result: SourceResult) -> int:
    return list(SOURCES).index(result.source)
