"""The records that flow between layers. Plain, frozen, typed."""

from __future__ import annotations

import enum
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from monitor.errors import MalformedResponse


class Outcome(str, enum.Enum):
    """What happened when we asked a source about a work. Never confused with a value."""

    OK = "ok"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    NOT_CONFIGURED = "not_configured"
    ERROR = "error"

    @property
    def is_failure(self) -> bool:
        """Failures set the exit code of ``run``; not_found and not_configured do not."""
        return self in (Outcome.RATE_LIMITED, Outcome.QUOTA_EXHAUSTED, Outcome.ERROR)

    @property
    def plain(self) -> str:
        return _PLAIN[self]


_PLAIN = {
    Outcome.OK: "answered",
    Outcome.NOT_FOUND: "not indexed by this source",
    Outcome.RATE_LIMITED: "rate-limited: asked us to slow down",
    Outcome.QUOTA_EXHAUSTED: "quota used up for now",
    Outcome.NOT_CONFIGURED: "not configured",
    Outcome.ERROR: "failed",
}


@dataclass(frozen=True, slots=True)  # a run may hold 100,000 of them
class Work:
    """A tracked article."""

    doi: str
    label: str | None = None
    pmid: str | None = None


class _Body:
    """``Exchange.body``: the bytes as given, or, once the exchange is ``pack``-ed, kept
    zlib-compressed (with their SHA-256 and size, as ``raw_bodies`` keeps them) and given
    back whole when read. (The dataclass's field, made this descriptor once the class is
    made: the generated ``__init__`` sets it through ``__set__``.)"""

    def __get__(self, exchange: Exchange, owner: type) -> bytes:
        kept = exchange.__dict__
        return zlib.decompress(kept["_body"]) if kept["_packed"] else kept["_body"]  # type: ignore[no-any-return]

    def __set__(self, exchange: Exchange, body: bytes) -> None:
        exchange.__dict__.update(_body=body, _packed=None)


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response, as stored for provenance.

    ``url`` never carries a secret: query parameters that hold keys are redacted
    before an Exchange is made. A run's session ``pack``s each answer as it records it:
    a run's process at 100,000 works held some 40 MB of bodies waiting to be stored, a
    sixth of that compressed, and the store keeps them compressed anyway. A parser reads
    ``body`` whole (decompressed at each read: read it once).
    """

    source: str
    method: str
    url: str
    status_code: int
    headers: dict[str, str]
    body: bytes  # kept by _Body (set on the class below)
    fetched_at: datetime
    elapsed_ms: int

    def json(self) -> Any:
        """Parse the body as JSON, raising MalformedResponse with what is wrong."""
        return parse_json(self.body)

    def pack(self) -> None:
        """Keep the body compressed from now on (reading ``body`` still gives it whole)."""
        if not self.__dict__["_packed"]:
            raw = self.__dict__["_body"]
            self.__dict__.update(_body=zlib.compress(raw, 6), _packed=(hashlib.sha256(raw).hexdigest(), len(raw)))

    @property
    def size(self) -> int:
        """The body's length, whole."""
        packed = self.__dict__["_packed"]
        return packed[1] if packed else len(self.__dict__["_body"])  # type: ignore[no-any-return]

    def packed(self) -> tuple[str, int, bytes] | None:
        """Once packed: (SHA-256 in hex, size, zlib-compressed body), as ``raw_bodies`` keeps it."""
        packed = self.__dict__["_packed"]
        return None if packed is None else (*packed, self.__dict__["_body"])


Exchange.body = _Body()  # type: ignore[assignment]


def parse_json(body: bytes) -> Any:
    """A body as JSON: by orjson (about twice as fast, where a quiet run spent a quarter of
    its run-process CPU), or, for what it refuses and the standard library reads (a BOM,
    UTF-16, NaN, 1e400, a lone surrogate escape), by ``json``: the same values either way,
    but for an integer past 64 bits, which orjson reads as a float (refused where an integer
    is read)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResponse(f"body is not valid JSON ({exc})") from None
    except RecursionError:  # a hostile answer: [[[[... deeper than any API nests
        raise MalformedResponse("body is not valid JSON (nested too deeply)") from None


@dataclass(frozen=True)
class Observation:
    """What one source said about one work in one run."""

    doi: str
    source: str
    outcome: Outcome
    message: str = ""
    citations: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    exchange: Exchange | None = None
    # a brief answer (counts and ids: the plan's metadata_days) names the metadata fields it
    # gave; the writer carries the rest from the source's last whole record (store.carry_metadata)
    brief: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.outcome is not Outcome.OK and self.citations is not None:
            raise ValueError("only an ok observation carries a citation count")


@dataclass(frozen=True)
class CitingRecord:
    """One citing work as one source lists it. Every field but ``source`` may be unknown."""

    source: str
    doi: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    openalex_id: str | None = None
    s2_id: str | None = None
    title: str | None = None
    year: int | None = None
    published: str | None = None  # publication date, YYYY[-MM[-DD]]
    venue: str | None = None
    type: str | None = None
    authors: tuple[dict[str, Any], ...] = ()  # {name, orcid?, openalex_id?}
    is_retracted: bool | None = None
    contexts: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    is_influential: bool | None = None
    author_sc: bool | None = None  # OpenCitations' author self-citation flag
    journal_sc: bool | None = None
    countries: tuple[str, ...] = ()
    institutions: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()  # subject fields of the citing work
    exchange: Exchange | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CitingList:
    """A source's list of works citing one tracked work, as fetched in one run."""

    doi: str
    source: str
    outcome: Outcome
    records: tuple[CitingRecord, ...] = ()
    complete: bool = False  # True only when every page arrived: only then can works vanish
    message: str = ""
    count_at_fetch: int | None = None  # the source's count when the list was fetched
    more: bool = False  # a piece of a long list, the rest to follow in this run (sources/listing.py)


@dataclass(frozen=True)
class SourceReport:
    """All a source produced in one run: observations, citing lists, every exchange made."""

    source: str
    observations: tuple[Observation, ...]
    exchanges: tuple[Exchange, ...]
    elapsed_ms: int = 0
    citing: tuple[CitingList, ...] = ()
    beside: bool = False  # lists asked beside the source's counts (they queue apart: collect)

    @property
    def outcome(self) -> Outcome:
        """The worst outcome across works: one failure makes the source failed."""
        return worst_outcome(Counter(o.outcome for o in self.observations))

    @property
    def message(self) -> str:
        """The first failure message, for the one-line status."""
        for obs in self.observations:
            if obs.outcome is self.outcome and obs.message:
                return obs.message
        return ""


def worst_outcome(counts: Mapping[Outcome, int]) -> Outcome:
    """A source's outcome in a run from how many works had each: any failure (the worst
    first), else not_configured or not_found when every work was so, else ok."""
    for bad in (Outcome.ERROR, Outcome.QUOTA_EXHAUSTED, Outcome.RATE_LIMITED):
        if counts.get(bad):
            return bad
    total = sum(counts.values())
    for only in (Outcome.NOT_CONFIGURED, Outcome.NOT_FOUND):
        if total and counts.get(only) == total:
            return only
    return Outcome.OK


@dataclass(frozen=True)
class SourceResult:
    """What one source did in a run, in numbers: for the run's summary, its status line
    and the progress display. (Its observations are stored as they come, not kept.)"""

    source: str
    outcome: Outcome
    message: str = ""  # the first message of a work with that outcome
    tracked: int = 0  # works tracked
    asked: int = 0  # works asked (the plan's, less any the budget left)
    ok: int = 0  # of those, answered with a count (or a description)
    citations: int | None = None  # the count, when one work was asked
    lists: int = 0  # citing lists fetched
    requests: int = 0
    elapsed_ms: int = 0


@dataclass(frozen=True)
class CollectionReport:
    """What became of one ``[[collections]]`` table in a run (see monitor/membership.py)."""

    name: str
    described: str  # what it asks: "ORCID 0000-…, with OpenAlex"
    outcome: Outcome | None  # None: not due this run; its stored members stand
    message: str = ""
    size: int = 0  # its members after this run
    added: int = 0
    left: int = 0
    skipped: int = 0

    @property
    def status(self) -> str:
        return self.outcome.value if self.outcome else "not due"

    @property
    def failed(self) -> bool:
        """A failed resolution, or an identifier nobody knows: worth a look, like a failed source."""
        return self.outcome is not None and (
            self.outcome.is_failure or self.outcome is Outcome.NOT_FOUND
        )


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    started_at: datetime
    finished_at: datetime
    sources: tuple[SourceResult, ...]
    collections: tuple[CollectionReport, ...] = ()

    @property
    def failed(self) -> bool:
        return any(s.outcome.is_failure for s in self.sources) or any(
            c.failed for c in self.collections
        )

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0
