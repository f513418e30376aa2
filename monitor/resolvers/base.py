"""The small interface every resolver implements, and what resolvers share.

A resolver module (one per kind of ``[[collections]]`` table) exposes:

- ``KIND``: the config key that selects it (``orcid``, ``ror``, ...);
- ``describe(collection) -> str``: what it asks, in a few words ("ORCID 0000-…");
- ``resolve(collection, context) -> Resolution``: the works the collection holds now.

``resolve`` never raises for a failed request or an answer it cannot read: it says so in
the Resolution's outcome and message, and keeps what it did find. A Resolution is
``complete`` only when every part answered in full: only then may a work leave the
collection (a failed page must not look like a shrunken collection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from monitor.errors import MalformedResponse
from monitor.fetching import FetchFailure, Session
from monitor.models import Exchange, Outcome

MAX_WORKS = 20_000  # a listing longer than this is refused: narrow it with from_year


@dataclass(frozen=True)
class Found:
    """A work a resolver found, by the DOI it will be tracked under."""

    doi: str
    title: str | None = None
    year: int | None = None
    via: tuple[str, ...] = ()  # where it was listed: "orcid", "openalex", "file", "config"
    aliases: tuple[str, ...] = ()  # other DOIs of the same work (an ORCID group, version-of)
    pmid: str | None = None
    exchange: Exchange | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Skipped:
    """An item listed without an id the sources can be asked by, and why it was left out."""

    item: str  # where to find it: "ORCID put-code 44924450", "line 12", "W2741809807"
    reason: str
    title: str | None = None
    pmid: str | None = None  # an item known by its PMID alone


@dataclass(frozen=True)
class Resolution:
    """What one resolution of a collection found."""

    found: tuple[Found, ...]
    skipped: tuple[Skipped, ...] = ()
    outcome: Outcome = Outcome.OK
    message: str = ""
    complete: bool = True
    exchanges: tuple[Exchange, ...] = ()
    content: bytes | None = None  # a file collection's file, kept for provenance
    name: str | None = None  # what the source calls the author or institution


@dataclass
class Context:
    """What a resolver may use: the run's sessions (shared, so limits hold across
    collections) and the clock."""

    openalex: Session
    orcid: Session
    now: Callable[[], datetime]


def failure(
    problem: FetchFailure | MalformedResponse,
    what: str,
    found: Iterable[Found] = (),
    skipped: Iterable[Skipped] = (),
) -> Resolution:
    """A resolution cut short: the failure, named, and what was found before it."""
    if isinstance(problem, FetchFailure):
        outcome, text = problem.outcome, problem.message
    else:
        outcome, text = Outcome.ERROR, f"unexpected response: {problem}"
    return Resolution(
        tuple(found), tuple(skipped), outcome, f"{what}: {text}", complete=False
    )


def unite(*parts: Iterable[Found]) -> list[Found]:
    """One Found per work across listings, in first-seen order.

    Two items are one work when they share a DOI, their own or an alias (the DOIs an
    ORCID group holds, version-of included); the first keeps its DOI and gains the
    other's sources (``via``) and missing fields.
    """
    united: list[Found] = []
    index: dict[str, int] = {}
    for part in parts:
        for item in part:
            at = next((index[d] for d in (item.doi, *item.aliases) if d in index), None)
            if at is None:
                index.update({d: len(united) for d in (item.doi, *item.aliases)})
                united.append(item)
                continue
            kept = united[at]
            merged = replace(
                kept,
                via=tuple(dict.fromkeys(kept.via + item.via)),
                aliases=tuple(
                    d for d in dict.fromkeys(kept.aliases + (item.doi,) + item.aliases)
                    if d != kept.doi
                ),
                title=kept.title or item.title,
                year=kept.year or item.year,
                pmid=kept.pmid or item.pmid,
            )
            united[at] = merged
            index.update({d: at for d in (item.doi, *item.aliases)})
    return united


def exchanges_since(session: Session, start: int) -> tuple[Exchange, ...]:
    """The exchanges a shared session made since it held ``start`` of them."""
    return tuple(session.exchanges[start:])
