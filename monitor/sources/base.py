"""The small interface every source module implements, and the helpers they share.

A source module exposes:

- ``SPEC``: a ``SourceSpec`` (defaults for its ``[sources.NAME]`` config section);
- ``fetch(works, session) -> list[Observation]``: one observation per work, in order;
- optionally ``fetch_citing(work, observation, session) -> CitingList``: the works citing
  one tracked work. It is called only for a work whose count observation is ok and whose
  list is due (its count changed, or the last complete list is too old), so a quiet day
  costs one count request per source and work. A paged list gathers its records in a
  ``listing.Listing``, which hands a long one over in pieces as its pages come.

It builds requests with the ``Session`` it is given and parses responses into
``Parsed`` values. The helpers here turn failures into observations, so that a
source module holds only what is particular to its API.

No answer is trusted to be about the work asked for: a batch answer is matched to its
works by the id in each record (``lookup_batches``), and a parser of a single answer
names the id its record is about (``Parsed.about``), which ``observe`` compares with the
one asked. An answer about another work is an error for the work asked, never a count.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from monitor.doi import doi_or_none
from monitor.errors import MalformedResponse, WrongWork
from monitor.fetching import BudgetSpent, FetchFailure, Session
from monitor.models import CitingList, CitingRecord, Exchange, Observation, Outcome, Work

T = TypeVar("T")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str  # how people call it: "OpenAlex"
    base_url: str
    requests_per_second: float
    batch_size: int = 1
    enabled_by_default: bool = True
    api_key_env: str | None = None  # the default name of its key's environment variable
    needs_key: bool = False  # without a key: not_configured, no request made
    needs_contact: bool = False  # without contact_email: not_configured
    needs_pmid: bool = False  # asked after the PMID resolvers; works without a PMID are not_found
    provides_pmid: bool = False  # its metadata may carry a work's PMID (see store.learn_pmid)
    counts_citations: bool = True  # False for metadata-only sources (Unpaywall)
    key_hint: str = ""  # one line: where to get a key
    secret_params: tuple[str, ...] = ()  # query parameters redacted before storing a URL
    homepage: str = ""
    # How it may be asked (each module's docstring says where its figures come from):
    max_concurrency: int = 1  # requests in flight at once, within its published limits
    refresh_days: float = 0.0  # ask a work again once its answer is this old (0: every run)
    max_requests: int = 10_000  # the most requests one run sends it
    # the metadata its fetch_citing reads (a list id), kept for lists asked after the counts
    list_keys: tuple[str, ...] = ()
    free_lists: bool = False  # its lists come in the count's own answer: no request
    # A brief form of its answer (counts, metrics and ids, without the rest of the record):
    # the metadata fields a brief answer gives; the whole record is read again once it is
    # ``metadata_days`` old (monitor/plan.py), the rest carried in between (store.carry_metadata)
    brief_fields: tuple[str, ...] = ()
    metadata_days: float = 0.0  # 0: the whole record at every run

    @property
    def batched(self) -> bool:
        """Asks about many works a request: cheap to ask at every run (monitor/plan.py)."""
        return self.batch_size > 1


@dataclass(frozen=True)
class Parsed:
    """What a parser extracts from one record: count, metrics and metadata."""

    citations: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    about: str | None = None  # the id the record says it is about (a DOI, or the PMID asked)
    brief: tuple[str, ...] = ()  # a brief record: the metadata fields it gives (Observation.brief)


def doi_path(doi: str) -> str:
    """A DOI as a URL path segment: its slashes kept, anything else unsafe percent-encoded,
    ``;``, ``(`` and ``)`` too (some servers cut a path at ``;``: apis.md §0b)."""
    return quote(doi, safe="/:")


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~ ")


def encoded_length(text: str) -> int:
    """How long ``text`` is once encoded as a query parameter's value, as httpx sends it:
    unreserved characters (and a space, sent as ``+``) as they are, every other byte of
    its UTF-8 as ``%XX``."""
    return sum(1 if c in _UNRESERVED else 3 * len(c.encode()) for c in text)


def url_room(
    session: Session, path: str, params: dict[str, str], limit: int, *, request_line: bool = False
) -> int:
    """The characters left for a batch's values in a URL of at most ``limit`` characters
    whose other parameters are ``params`` (the batch's own parameter given empty); with
    ``request_line``, in a request line (``GET /path?query HTTP/1.1``) of at most ``limit``."""
    url = httpx.URL(session.url(path), params=params)
    used = len("GET  HTTP/1.1") + len(url.raw_path) if request_line else len(str(url))
    return limit - used


def pack(
    items: Iterable[T],
    size: int,
    length: Callable[[T], int] | None = None,
    room: int = 0,
    weight: Callable[[T], int] | None = None,
    most: int = 0,
) -> Iterator[list[T]]:
    """Items (works, mostly) in batches of at most ``size``, and, given ``length``, of at
    most ``room`` in all (an item longer than that alone goes in a batch of its own): the
    characters of a URL, the records of a chunk of lists; given ``weight`` too, of at most
    ``most`` of it in all, alike (the records a query's answers may hold). An iterator is
    read lazily."""
    limits = [(measure, bound) for measure, bound in ((length, room), (weight, most)) if measure]
    batch: list[T] = []
    used = [0] * len(limits)
    for item in items:
        costs = [measure(item) for measure, _ in limits]
        if batch and (len(batch) >= size or any(u + c > b for u, c, (_, b) in zip(used, costs, limits))):
            yield batch
            batch, used = [], [0] * len(limits)
        batch.append(item)
        used = [u + c for u, c in zip(used, costs)]
    if batch:
        yield batch


_PMCID = re.compile(r"^(?:PMC)?(\d+)$", re.IGNORECASE)


def pmcid_or_none(value: object) -> str | None:
    """A PMCID in its one stored form: 'PMC5815332' from 'PMC5815332', '5815332' (Semantic
    Scholar, OpenCitations) or '…/pmc/articles/5815332' (OpenAlex); None when it is none."""
    if not isinstance(value, str):
        return None
    match = _PMCID.match(value.strip().rstrip("/").rsplit("/", 1)[-1])
    return f"PMC{match.group(1)}" if match else None


_last_parsed = threading.local()  # per source thread: (answer, parse, what it gave)


def parsed_once(exchange: Exchange, parse: Callable[[Exchange], T]) -> T:
    """``parse(exchange)``, remembered for the next call with the same answer: the free
    lists of a batch's works (iCite's, PubMed's) are read from one answer, one work after
    another, and parsing it again for each work cost time in the square of the batch."""
    last = getattr(_last_parsed, "value", None)
    if last is not None and last[0] is exchange and last[1] is parse:
        return last[2]  # type: ignore[no-any-return]
    result = parse(exchange)
    _last_parsed.value = (exchange, parse, result)
    return result


def forget_parsed() -> None:
    """Let go of what ``parsed_once`` keeps in this thread (a chunk's lists are read)."""
    _last_parsed.value = None


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter); an iterator is read lazily."""
    rest = iter(items)
    while part := list(islice(rest, size)):
        yield part


def failed(works: Sequence[Work], source: str, failure: FetchFailure) -> list[Observation]:
    return [
        Observation(w.doi, source, failure.outcome, failure.message, exchange=failure.exchange)
        for w in works
    ]


def not_configured(works: Sequence[Work], source: str, hint: str) -> list[Observation]:
    return [Observation(w.doi, source, Outcome.NOT_CONFIGURED, hint) for w in works]


def citing_list(
    work: Work, observation: Observation, records: Sequence[CitingRecord], complete: bool
) -> CitingList:
    """An ok list, stamped with the count it was fetched at (for request economy)."""
    return CitingList(
        work.doi,
        observation.source,
        Outcome.OK,
        tuple(records),
        complete,
        count_at_fetch=observation.citations,
    )


def malformed(
    works: Sequence[Work], source: str, exc: MalformedResponse, exchange: Exchange
) -> list[Observation]:
    """An answer whose shape we do not know: an error naming what is wrong, for each work."""
    return [
        Observation(w.doi, source, Outcome.ERROR, f"unexpected response: {exc}", exchange=exchange)
        for w in works
    ]


def wrong_work(work: Work, source: str, exc: WrongWork, exchange: Exchange | None) -> Observation:
    return Observation(work.doi, source, Outcome.ERROR, str(exc), exchange=exchange)


def observe(
    work: Work,
    source: str,
    exchange: Exchange,
    parse: Callable[[], Parsed | None],
    work_key: Callable[[Work], str | None] = lambda work: work.doi,
) -> Observation:
    """Run a parser on a work's record: ok, not_found (parser returns None), or error
    (a record of a shape we do not know, or about another work than ``work_key`` names)."""
    try:
        parsed = parse()
    except MalformedResponse as exc:
        return malformed([work], source, exc, exchange)[0]
    except WrongWork as exc:
        return wrong_work(work, source, exc, exchange)
    if parsed is not None and parsed.about is not None and parsed.about != work_key(work):
        return wrong_work(work, source, WrongWork(parsed.about, work_key(work)), exchange)
    if parsed is None:
        return Observation(
            work.doi, source, Outcome.NOT_FOUND, "not indexed by this source", exchange=exchange
        )
    return Observation(
        work.doi,
        source,
        Outcome.OK,
        citations=parsed.citations,
        metrics=parsed.metrics,
        metadata=parsed.metadata,
        exchange=exchange,
        brief=parsed.brief,
    )


def lookup_batches(
    works: Sequence[Work],
    session: Session,
    size: int,
    request: Callable[[list[Work]], Exchange],
    records: Callable[[Any], list[Any]],
    key: Callable[[Any], str | None],
    parse: Callable[[Any], Parsed],
    total: Callable[[Any], int | None] | None = None,
    work_key: Callable[[Work], str | None] = lambda work: work.doi,
    *,
    length: Callable[[Work], int] | None = None,
    room: int = 0,
    alone: Callable[[Work], Observation] | None = None,
    batchable: Callable[[Work], bool] | None = None,
) -> list[Observation]:
    """Look works up ``size`` at a time: one request per batch, records matched back by key
    (``key`` of a record equals ``work_key`` of its work: the DOI unless told otherwise).

    Batches are also kept within ``room`` characters of ``length`` (each work's share
    of the URL), and go out ``max_concurrency`` at a time. A work ``batchable`` refuses
    (its DOI holds the batch syntax) is asked ``alone``. A batch refused as too long
    or too large, or that timed out, is asked again in halves, down to single works,
    so that one odd DOI costs one work.

    A failed request fails its batch only; a malformed record is an error for its own
    work. A work with no record in the answer is not_found only when the answer can be
    trusted to hold every match: when a record could not be keyed (``key`` raised
    MalformedResponse, naming the field), when a record is about a work not asked for
    (a wrong answer), or when the answer says, through ``total``, that it matched more
    records than it lists, such a work is an error instead. Works left when the run's
    budget is spent get no observation (``Session.not_asked``).
    """
    alone_ids = {id(w) for w in works if batchable and not batchable(w)}
    grouped = [w for w in works if id(w) not in alone_ids]
    plan: list[list[Work]] = list(pack(grouped, size, length, room))
    plan += [[w] for w in works if id(w) in alone_ids]

    def ask(batch: list[Work]) -> list[Observation]:
        if alone is not None and len(batch) == 1 and id(batch[0]) in alone_ids:
            observed = budgeted(session, batch, lambda: [alone(batch[0])])
        else:
            observed = _one_batch(batch, session, request, records, key, parse, total, work_key)
        session.done(len(batch))
        return observed

    found = {o.doi: o for observed in session.map(ask, plan) for o in observed}
    return [found[w.doi] for w in works if w.doi in found]


def whole_then_brief(
    works: Sequence[Work], session: Session, ask: Callable[[list[Work], bool], list[Observation]]
) -> list[Observation]:
    """The observations of ``works`` for a source with a brief form: those the plan names
    (``session.brief``) asked briefly (``ask(works, True)``), the others whole; a form
    no work needs is not asked."""
    whole = [w for w in works if w.doi not in session.brief]
    brief = [w for w in works if w.doi in session.brief]
    return (ask(whole, False) if whole else []) + (ask(brief, True) if brief else [])


def budgeted(
    session: Session, works: list[Work], ask: Callable[[], list[Observation]]
) -> list[Observation]:
    """``ask``'s observations; none, with the works noted as not asked, once the budget is spent."""
    try:
        return ask()
    except BudgetSpent:
        session.not_asked(w.doi for w in works)
        return []


def _one_batch(
    batch: list[Work],
    session: Session,
    request: Callable[[list[Work]], Exchange],
    records: Callable[[Any], list[Any]],
    key: Callable[[Any], str | None],
    parse: Callable[[Any], Parsed],
    total: Callable[[Any], int | None] | None,
    work_key: Callable[[Work], str | None],
) -> list[Observation]:
    """One batch's observations; a batch the server could not take, asked again in halves."""
    source = session.source.name
    try:
        exchange = request(batch)
    except BudgetSpent:
        session.not_asked(w.doi for w in batch)
        return []
    except FetchFailure as failure:
        if len(batch) > 1 and failure.divisible and not session.stopped:
            half = len(batch) // 2
            return [
                *_one_batch(batch[:half], session, request, records, key, parse, total, work_key),
                *_one_batch(batch[half:], session, request, records, key, parse, total, work_key),
            ]
        return failed(batch, source, failure)
    doubts: list[str] = []
    asked = {work_key(w) for w in batch}
    try:
        payload = exchange.json()
        listed = records(payload)
        found: dict[str, Any] = {}
        for record in listed:
            try:
                matched = key(record)
            except MalformedResponse as exc:
                doubts.append(f"unexpected response: a record could not be matched to a work ({exc})")
                continue
            if matched and matched not in asked:
                doubts.append(f"answered for another work: the answer holds {matched}, not asked for")
            elif matched:
                found.setdefault(matched, record)
        matching = total(payload) if total else None
    except MalformedResponse as exc:
        return malformed(batch, source, exc, exchange)
    if matching is not None and matching > len(listed):
        doubts.append(
            f"unexpected response: the answer lists {len(listed)} of the {matching} records it matched"
        )
    observations = []
    for work in batch:
        record = found.get(work_key(work) or "")
        if record is None and doubts:
            observations.append(
                Observation(
                    work.doi,
                    source,
                    Outcome.ERROR,
                    f"{doubts[0]}; whether this work is indexed is unknown",
                    exchange=exchange,
                )
            )
            continue
        observations.append(
            observe(work, source, exchange, lambda r=record: None if r is None else parse(r), work_key)
        )
    return observations


def lookup_each(
    works: Sequence[Work],
    session: Session,
    request: Callable[[Work], Exchange],
    parse: Callable[[Exchange], Parsed | None],
    work_key: Callable[[Work], str | None] = lambda work: work.doi,
) -> list[Observation]:
    """Look works up one request each, ``max_concurrency`` at a time; ``parse`` returns
    None for not_found, and names in ``Parsed.about`` the id its record is about, checked
    against ``work_key``. Works left when the run's budget is spent get no observation."""

    def ask(work: Work) -> list[Observation]:
        observed = budgeted(session, [work], lambda: [lookup_one(work, session, request, parse, work_key)])
        session.done(1)
        return observed

    return [o for observed in session.map(ask, works) for o in observed]


def lookup_one(
    work: Work,
    session: Session,
    request: Callable[[Work], Exchange],
    parse: Callable[[Exchange], Parsed | None],
    work_key: Callable[[Work], str | None] = lambda work: work.doi,
) -> Observation:
    """One work, one request: its observation, a failure included (BudgetSpent passes)."""
    try:
        exchange = request(work)
    except BudgetSpent:
        raise
    except FetchFailure as failure:
        return failed([work], session.source.name, failure)[0]
    return observe(work, session.source.name, exchange, lambda: parse(exchange), work_key)


def failed_list(work: Work, observation: Observation, exc: Exception) -> CitingList:
    """A list that could not be had, its outcome and one line saying why."""
    if isinstance(exc, FetchFailure):
        outcome, message = exc.outcome, exc.message
    elif isinstance(exc, MalformedResponse):
        outcome, message = Outcome.ERROR, f"unexpected response: {exc}"
    elif isinstance(exc, WrongWork):
        outcome, message = Outcome.ERROR, str(exc)
    else:
        outcome, message = Outcome.ERROR, f"internal error: {exc!r}"
    return CitingList(work.doi, observation.source, outcome, message=message)


def answered_doi(record: Any, key: str = "doi", where: str = "") -> str:
    """The DOI a record says it is about, normalised; a record without one is malformed."""
    value = need(record, key, str, where)
    doi = doi_or_none(value)
    if doi is None:
        raise MalformedResponse(f"field '{where}{key}' is not a DOI: {value[:60]!r}")
    return doi


def expect_status(exchange: Exchange, *allowed: int) -> None:
    """Raise FetchFailure(error) for a status the caller does not handle."""
    if exchange.status_code not in (allowed or (200,)):
        host = exchange.url.split("/")[2] if "://" in exchange.url else exchange.url
        snippet = exchange.body[:120].decode("utf-8", "replace").strip().replace("\n", " ")
        raise FetchFailure(
            Outcome.ERROR, f"HTTP {exchange.status_code} from {host}: {snippet}", exchange
        )


def check_key(exchange: Exchange, session: Session, spec: SourceSpec, fix: str) -> None:
    """A 401/403: without a key, not_configured with the source's hint; with one, an error
    that names the key's environment variable and ``fix`` (what to check)."""
    if exchange.status_code not in (401, 403):
        return
    if not session.source.api_key:
        raise FetchFailure(Outcome.NOT_CONFIGURED, spec.key_hint, exchange)
    raise FetchFailure(
        Outcome.ERROR,
        f"{spec.title} refused the API key in ${session.source.api_key_env} "
        f"(HTTP {exchange.status_code}); {fix}",
        exchange,
    )


def json_unless_404(parse: Callable[[Any], Parsed]) -> Callable[[Exchange], Parsed | None]:
    """For one-request-per-work sources: a 404 is not_found, anything else is parsed as JSON."""
    return lambda exchange: None if exchange.status_code == 404 else parse(exchange.json())


# --- reading fields: a changed schema is an error naming the field, never a silent 0 ---

_KINDS: dict[type, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    bool: "true/false",
}


def need(record: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """A field that must be there, with the right type."""
    if not isinstance(record, dict):
        raise MalformedResponse(
            f"expected an object at '{where or '.'}', got {type(record).__name__}"
        )
    if key not in record:
        raise MalformedResponse(f"field '{where}{key}' is missing")
    return _typed(record[key], key, kind, where, allow_none=False)


def may(record: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """A field that may be absent or null; if present, it must have the right type."""
    if not isinstance(record, dict):
        return None
    value = record.get(key)
    if value is None or type(value) is kind:  # the common cases, quickly (parsers call this most)
        return value
    return _typed(value, key, kind, where, allow_none=True)


def _typed(
    value: Any, key: str, kind: type | tuple[type, ...], where: str, allow_none: bool
) -> Any:
    if type(value) is kind or (type(kind) is tuple and type(value) in kind):
        return value  # the common case, quickly (a bool passes only where bool is asked for)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and int not in kinds:
        kinds = (*kinds, int)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(
            _KINDS.get(k, k.__name__) for k in kinds if k is not int or float not in kinds
        )
        raise MalformedResponse(
            f"field '{where}{key}' should be {names}, got {type(value).__name__} {str(value)[:40]!r}"
        )
    return value


def count(record: Any, key: str, where: str = "") -> int:
    """A citation count: an integer, or a string of digits (OpenCitations, Scopus)."""
    value = need(record, key, (int, str, float), where)
    if isinstance(value, float):  # never a count; an integer past 64 bits reads as one (parse_json)
        if math.isfinite(value) and abs(value) > MAX_COUNT:
            raise MalformedResponse(f"field '{where}{key}' is not a plausible count ({value:g})")
        raise MalformedResponse(f"field '{where}{key}' should be a count, got {value!r}")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise MalformedResponse(f"field '{where}{key}' should be a count, got {value[:40]!r}")
        value = int(value)
    if value < 0:
        raise MalformedResponse(f"field '{where}{key}' is negative ({value})")
    if value > MAX_COUNT:
        raise MalformedResponse(f"field '{where}{key}' is not a plausible count ({value})")
    return value


MAX_COUNT = 10**9  # more than any count can be, and within what SQLite stores as an integer


def partial_date(parts: Sequence[Any]) -> str | None:
    """[2021, 5, 1] → '2021-05-01'; [2021, 5] → '2021-05'; [2021] → '2021'."""
    numbers = [int(p) for p in parts if isinstance(p, (int, str)) and str(p).isdigit()][:3]
    if not numbers:
        return None
    try:
        if len(numbers) == 3:
            return date(*numbers).isoformat()
    except ValueError:
        numbers = numbers[:2]
    return "-".join([f"{numbers[0]:04d}", *(f"{n:02d}" for n in numbers[1:])])


def pubmed_title(title: str | None) -> str | None:
    """PubMed's closing period dropped (other sources give titles without it); '...' kept."""
    if title and title.endswith(".") and not title.endswith(".."):
        return title[:-1]
    return title


_TAGS = re.compile(r"<[^>]+>")
_HEADINGS = ("Abstract", "ABSTRACT", "Summary")


def strip_markup(text: str | None) -> str | None:
    """JATS or HTML markup out of an abstract; a leading 'Abstract' heading dropped."""
    if not text:
        return None
    plain = " ".join((_TAGS.sub(" ", text) if "<" in text else text).split())  # whitespace runs as one space
    if plain.startswith(_HEADINGS):
        plain = re.sub(r"^(Abstract|ABSTRACT|Summary)\s*[:.]?\s+", "", plain)
    return plain or None
